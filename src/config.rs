//! Validated settings shared by every command: where data lives, how big the cache may grow.
//!
//! Library code takes a `Config`, never clap types; the CLI builds one from
//! flags, environment and XDG defaults (`cli::Cli::config`).

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Holds `blobfiles/` (lbrynet's layout), the lock file and the pin list.
    pub data_dir: PathBuf,
    /// Hard cap on cached (not published) blob bytes.
    pub cache_bytes: u64,
}

/// Why a setting is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("no data directory: set --data-dir, LBRYMOUNT_DATA_DIR, XDG_DATA_HOME or HOME")]
    NoDataDir,
    #[error("invalid size {0:?}: use a number of bytes with an optional K, M, G or T suffix (powers of 1024), e.g. 512M")]
    Size(String),
}

impl Config {
    /// `explicit` (flag or `LBRYMOUNT_DATA_DIR`, clap merges both) wins; then
    /// `$XDG_DATA_HOME/lbrymount`, then `$HOME/.local/share/lbrymount`.
    pub fn resolve_data_dir(
        explicit: Option<&Path>,
        xdg_data_home: Option<&Path>,
        home: Option<&Path>,
    ) -> Result<PathBuf, ConfigError> {
        if let Some(p) = non_empty(explicit) {
            return Ok(p.to_path_buf());
        }
        // The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
        if let Some(x) = non_empty(xdg_data_home).filter(|p| p.is_absolute()) {
            return Ok(x.join("lbrymount"));
        }
        non_empty(home)
            .map(|h| h.join(".local/share/lbrymount"))
            .ok_or(ConfigError::NoDataDir)
    }
}

fn non_empty(p: Option<&Path>) -> Option<&Path> {
    p.filter(|p| !p.as_os_str().is_empty())
}

/// Parses `1048576`, `512K`, `512M`, `10G`, `1T` (binary units; `KiB`/`MB` spellings accepted).
pub fn parse_size(text: &str) -> Result<u64, ConfigError> {
    let bad = || ConfigError::Size(text.to_string());
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| bad())?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(bad()),
    };
    n.checked_mul(1u64 << shift).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_binary_units() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("512K"), Ok(512 << 10));
        assert_eq!(parse_size("10G"), Ok(10 << 30));
        assert_eq!(parse_size("3MiB"), Ok(3 << 20));
        assert_eq!(parse_size(" 2 t "), Ok(2 << 40));
        for bad in [
            "",
            "G",
            "-1",
            "1.5G",
            "10X",
            "99999999999999999999",
            "16777216T",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn data_dir_precedence() {
        let p = |s: &str| PathBuf::from(s);
        let r = Config::resolve_data_dir;
        assert_eq!(
            r(Some(&p("/d")), Some(&p("/x")), Some(&p("/h"))),
            Ok(p("/d"))
        );
        assert_eq!(
            r(None, Some(&p("/x")), Some(&p("/h"))),
            Ok(p("/x/lbrymount"))
        );
        assert_eq!(
            r(None, Some(&p("rel")), Some(&p("/h"))),
            Ok(p("/h/.local/share/lbrymount"))
        );
        assert_eq!(
            r(Some(&p("")), None, Some(&p("/h"))),
            Ok(p("/h/.local/share/lbrymount"))
        );
        assert_eq!(r(None, None, None), Err(ConfigError::NoDataDir));
    }
}
