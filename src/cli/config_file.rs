//! The optional config file `<data-dir>/config`, for the long-running
//! commands (the mount and `serve`): one `flag = value` per line, where
//! `flag` is a long option of the command without its dashes. `resolve` and
//! `search` read it too, for the global options (`hub`, `no-hub`); the
//! node's options in it do not concern them and are passed over.
//!
//! ```text
//! # lbrymount config
//! cache-size = 50G
//! read-timeout = 60
//! bootstrap = 192.168.1.10:4444
//! no-bootstrap = false
//! ```
//!
//! The file's options are placed before those of the command line, and the
//! parser lets a later value override an earlier one, so the command line
//! wins; repeatable options (`bootstrap`, `peer`) add up. Boolean flags take
//! `true` or `false`. An unknown option or a malformed line is a usage error
//! that names the file and line, so a typo is not silently ignored.

use clap::Command;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The config file of a data dir.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("config")
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {why}")]
    Line {
        path: PathBuf,
        line: usize,
        why: String,
    },
}

/// `argv` with the options of config file `file` inserted for the command
/// `sub` (`None`: the mount, at the top level). Returns `argv` unchanged when
/// there is no file.
pub fn with_config(
    argv: Vec<OsString>,
    file: &Path,
    cmd: &Command,
    sub: Option<&str>,
) -> Result<Vec<OsString>, ConfigFileError> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(argv),
        Err(source) => {
            return Err(ConfigFileError::Read {
                path: file.to_path_buf(),
                source,
            })
        }
    };
    let mut extra = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let bad = |why: String| ConfigFileError::Line {
            path: file.to_path_buf(),
            line: i + 1,
            why,
        };
        extra.extend(option_of_line(raw.trim(), cmd, sub).map_err(bad)?);
    }
    // Insert right after the subcommand's name (or the program name).
    let at = match sub {
        Some(name) => argv
            .iter()
            .position(|a| a.to_str() == Some(name))
            .map_or(1, |p| p + 1),
        None => 1,
    };
    let mut out = argv;
    let at = at.min(out.len());
    out.splice(at..at, extra);
    Ok(out)
}

/// The command-line option one `option = value` line stands for (none for
/// a blank line, a comment, `false`, or a node option `resolve` and
/// `search` do not take), or why the line is wrong.
fn option_of_line(
    line: &str,
    cmd: &Command,
    sub: Option<&str>,
) -> Result<Option<OsString>, String> {
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let (key, value) = line
        .split_once('=')
        .map(|(k, v)| (k.trim(), v.trim()))
        .ok_or("expected `option = value`")?;
    let target = match sub {
        Some(name) => cmd.find_subcommand(name).unwrap_or(cmd),
        None => cmd,
    };
    let found = target
        .get_arguments()
        .chain(cmd.get_arguments().filter(|a| a.is_global_set()))
        .find(|a| a.get_long() == Some(key));
    let Some(arg) = found else {
        if matches!(sub, Some("resolve" | "search")) && is_node_option(cmd, key) {
            return Ok(None);
        }
        return Err(format!("unknown option {key:?}"));
    };
    if arg.get_action().takes_values() {
        return Ok(Some(OsString::from(format!("--{key}={value}"))));
    }
    match value {
        "true" => Ok(Some(OsString::from(format!("--{key}")))),
        "false" => Ok(None),
        _ => Err(format!("{key} takes true or false, not {value:?}")),
    }
}

/// `key` is an option of the mount or of `serve`.
fn is_node_option(cmd: &Command, key: &str) -> bool {
    let serve = cmd.find_subcommand("serve").into_iter();
    std::iter::once(cmd)
        .chain(serve)
        .flat_map(|c| c.get_arguments())
        .any(|a| a.get_long() == Some(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::{CommandFactory, Parser};

    fn argv(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    fn parse_with(conf: &str, args: &[&str], sub: Option<&str>) -> Result<Cli, String> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config");
        std::fs::write(&file, conf).unwrap();
        let args =
            with_config(argv(args), &file, &Cli::command(), sub).map_err(|e| e.to_string())?;
        Cli::try_parse_from(args).map_err(|e| e.to_string())
    }

    #[test]
    fn file_options_apply_and_the_command_line_wins() {
        let conf = "# comment\ncache-size = 2G\nread-timeout = 60\nno-bootstrap = true\n";
        let cli = parse_with(conf, &["lbrymount", "/mnt", "--read-timeout", "5"], None).unwrap();
        assert_eq!(cli.cache_size, 2 << 30);
        assert_eq!(cli.mount.read_timeout, 5, "the command line wins");
        assert!(cli.mount.node.no_bootstrap);
        assert_eq!(cli.mount.mountpoint.as_deref(), Some(Path::new("/mnt")));
    }

    #[test]
    fn serve_takes_its_own_options() {
        let conf = "listen = 127.0.0.1:5555\nno-dht = true\n";
        let cli = parse_with(conf, &["lbrymount", "serve"], Some("serve")).unwrap();
        let Some(crate::cli::Command::Serve { node, .. }) = cli.command else {
            panic!("serve expected")
        };
        assert_eq!(node.listen.to_string(), "127.0.0.1:5555");
        assert!(node.no_dht);
    }

    #[test]
    fn unknown_options_and_bad_lines_name_file_and_line() {
        let err = parse_with(
            "cache-size = 1G\nread-timout = 3\n",
            &["lbrymount", "/m"],
            None,
        )
        .unwrap_err();
        assert!(
            err.contains("config:2") && err.contains("read-timout"),
            "{err}"
        );
        let err = parse_with("just words\n", &["lbrymount", "/m"], None).unwrap_err();
        assert!(err.contains("config:1"), "{err}");
        let err = parse_with("no-dht = yes\n", &["lbrymount", "/m"], None).unwrap_err();
        assert!(err.contains("true or false"), "{err}");
    }

    #[test]
    fn names_commands_take_the_hubs_and_pass_over_node_options() {
        let conf = "hub = 127.0.0.1:5\nread-timeout = 60\nlisten = 127.0.0.1:1\n";
        let cli = parse_with(conf, &["lbrymount", "resolve", "x"], Some("resolve")).unwrap();
        assert_eq!(cli.hubs, vec!["127.0.0.1:5".to_string()]);
        let err = parse_with("hubb = 1\n", &["lbrymount", "search", "x"], Some("search"));
        assert!(err.unwrap_err().contains("hubb"));
    }

    #[test]
    fn no_file_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let args = argv(&["lbrymount", "/m"]);
        let out = with_config(
            args.clone(),
            &dir.path().join("config"),
            &Cli::command(),
            None,
        );
        assert_eq!(out.unwrap(), args);
    }
}
