//! `/etc/fstab` lines, through the FUSE helper convention.
//!
//! `mount -t fuse.lbrymount SOURCE DIR -o OPTIONS` runs `mount.fuse3`,
//! which runs `lbrymount SOURCE DIR -o OPTIONS` (the SOURCE is a label
//! here, `lbrymount` by convention). That form is turned into the ordinary
//! command line before clap sees it: every long flag is accepted as an
//! option with dashes as underscores (`cache_size=50G`, `no_dht`,
//! `peer=HOST:PORT`, repeatable ones repeated), the generic mount options
//! (`rw`, `nosuid`, `noauto`, `_netdev`, `x-systemd.*`, …) are ignored as
//! FUSE filesystems do (the mount is always read-only, nodev and nosuid),
//! and the node goes to the background once the mount is usable, as sshfs
//! does, so `mount` returns only then. `umount DIR` stops it.

use std::ffi::OsString;

/// Options every mount may carry that mean nothing to lbrymount.
const IGNORED: [&str; 37] = [
    "rw",
    "ro",
    "dev",
    "nodev",
    "suid",
    "nosuid",
    "exec",
    "noexec",
    "atime",
    "noatime",
    "diratime",
    "nodiratime",
    "relatime",
    "norelatime",
    "strictatime",
    "lazytime",
    "sync",
    "async",
    "dirsync",
    "auto",
    "noauto",
    "user",
    "nouser",
    "users",
    "owner",
    "group",
    "defaults",
    "nofail",
    "_netdev",
    "default_permissions",
    "auto_unmount",
    "kernel_cache",
    "silent",
    "loud",
    "mand",
    "nomand",
    "daemon",
];

/// Options with a value that FUSE or mount(8) set and lbrymount ignores.
const IGNORED_KEYS: [&str; 12] = [
    "comment",
    "fsname",
    "subtype",
    "max_read",
    "blksize",
    "rootmode",
    "user_id",
    "group_id",
    "context",
    "fscontext",
    "defcontext",
    "rootcontext",
];

/// The mount helper's arguments `SOURCE DIR -o OPTIONS` as an ordinary
/// command line (`--flag…  --daemon  DIR`); `None` if `argv` is not of that
/// form. `cmd` is the command line's definition, built.
pub fn helper_args(
    argv: &[OsString],
    cmd: &clap::Command,
) -> Option<Result<Vec<OsString>, String>> {
    let rest = argv.get(1..)?;
    let mut positional = Vec::new();
    let mut options = Vec::new();
    let mut passed = Vec::new();
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        let s = a.to_str()?;
        match s {
            "-o" => options.push(it.next()?.to_str()?.to_string()),
            // mount(8)'s own flags to helpers: no mtab, sloppy, verbose.
            "-n" | "-s" | "-v" => {}
            _ if s.starts_with("-o") => options.push(s[2..].to_string()),
            _ if s.starts_with("--") => passed.push(a.clone()),
            _ if s.starts_with('-') => return None,
            _ => positional.push(a.clone()),
        }
    }
    let [source, dir] = &positional[..] else {
        return None;
    };
    if options.is_empty() || cmd.find_subcommand(source).is_some() {
        return None;
    }
    let mut out = vec![argv[0].clone()];
    for opt in options
        .iter()
        .flat_map(|o| o.split(','))
        .filter(|o| !o.is_empty())
    {
        match flag_for(opt, cmd) {
            Ok(Some(flag)) => out.push(flag.into()),
            Ok(None) => {}
            Err(e) => return Some(Err(e)),
        }
    }
    out.extend(passed);
    out.push("--daemon".into());
    out.push(dir.clone());
    Some(Ok(out))
}

/// The long flag for one mount option, `None` for an ignored one.
fn flag_for(opt: &str, cmd: &clap::Command) -> Result<Option<String>, String> {
    let (key, value) = match opt.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (opt, None),
    };
    if IGNORED.contains(&key) && value.is_none()
        || IGNORED_KEYS.contains(&key)
        || key.starts_with("x-")
    {
        return Ok(None);
    }
    if key == "allow_root" {
        return Err("mount option allow_root is not supported; use allow_other".into());
    }
    let long = key.replace('_', "-");
    let arg = cmd
        .get_arguments()
        .find(|a| a.get_long() == Some(&long) && !matches!(long.as_str(), "help" | "version"))
        .ok_or_else(|| {
            format!("unknown mount option {key:?} (lbrymount's long flags are accepted with dashes as underscores, see lbrymount(1))")
        })?;
    match (arg.get_action().takes_values(), value) {
        (true, Some(v)) => Ok(Some(format!("--{long}={v}"))),
        (true, None) => Err(format!("mount option {key} needs a value ({key}=…)")),
        (false, None) => Ok(Some(format!("--{long}"))),
        (false, Some(_)) => Err(format!("mount option {key} takes no value")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn helper(args: &[&str]) -> Option<Result<Vec<String>, String>> {
        let mut cmd = super::super::Cli::command();
        cmd.build();
        let argv: Vec<OsString> = args.iter().map(OsString::from).collect();
        helper_args(&argv, &cmd)
            .map(|r| r.map(|v| v.into_iter().map(|s| s.into_string().unwrap()).collect()))
    }

    #[test]
    fn mount_options_become_long_flags() {
        let got = helper(&[
            "lbrymount",
            "lbrymount",
            "/mnt/net",
            "-o",
            "rw,cache_size=50G,allow_other,no_dht,peer=127.0.0.1:4444,peer=[::1]:5,data_dir=/var/lib/x,_netdev,x-systemd.automount,noauto,user,dev,suid",
        ]);
        let want = [
            "lbrymount",
            "--cache-size=50G",
            "--allow-other",
            "--no-dht",
            "--peer=127.0.0.1:4444",
            "--peer=[::1]:5",
            "--data-dir=/var/lib/x",
            "--daemon",
            "/mnt/net",
        ];
        assert_eq!(got, Some(Ok(want.map(String::from).to_vec())));
    }

    #[test]
    fn bad_options_are_named() {
        let err = |o: &str| {
            helper(&["lbrymount", "src", "/m", "-o", o])
                .unwrap()
                .unwrap_err()
        };
        assert!(err("cache_sise=5G").contains("unknown mount option \"cache_sise\""));
        assert!(err("peer").contains("needs a value"));
        assert!(err("no_dht=1").contains("takes no value"));
        assert!(err("allow_root").contains("allow_other"));
    }

    #[test]
    fn ordinary_command_lines_are_left_alone() {
        for args in [
            &["lbrymount", "/mnt"][..],
            &["lbrymount", "--data-dir", "/d", "/mnt"],
            &["lbrymount", "get", "-o", "out", "sd"],
            &["lbrymount", "src", "/mnt"],
            &["lbrymount", "src", "/mnt", "extra", "-o", "rw"],
        ] {
            assert_eq!(helper(args), None, "{args:?}");
        }
    }
}
