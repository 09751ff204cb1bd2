//! `lbrymount get SD_HASH [-o PATH] [--offline | --peer HOST:PORT ...]`

use super::progress::bytes_bar;
use crate::assemble::{get_offline, load_descriptor};
use crate::config::Config;
use crate::hash::SdHash;
use crate::sd::StreamDescriptor;
use crate::store::DiskStore;
use anyhow::Context;
use std::path::{Path, PathBuf};

pub struct GetRequest {
    pub sd_hash: SdHash,
    pub output: Option<PathBuf>,
    pub offline: bool,
    pub peers: Vec<String>,
    pub bootstrap: Vec<String>,
    pub no_bootstrap: bool,
    pub timeout_secs: u64,
    pub show_progress: bool,
}

pub fn run(cfg: &Config, req: GetRequest) -> anyhow::Result<()> {
    let store = DiskStore::open(&cfg.data_dir, cfg.cache_bytes)?;
    if req.offline {
        let desc = load_descriptor(&store, &req.sd_hash)?;
        let (target, replace) = target_path(req.output.as_deref(), &desc)?;
        let bar = bytes_bar(desc.encrypted_size(), &desc.file_name(), req.show_progress);
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let n = get_offline(&store, &desc, &target, replace, workers, &|n| bar.inc(n))?;
        bar.finish_and_clear();
        tracing::info!(sd = %req.sd_hash.short(), bytes = n, path = %target.display(), "written");
        return Ok(());
    }
    super::get_net::run(store, req)
}

/// Where the file goes, and whether an existing file there may be replaced.
///
/// `-o PATH` is taken as given (inside it if it is a directory) and replaced
/// like `cp` would. Without `-o`, the descriptor's sanitized name goes into the
/// current directory: `file_name()` never contains a `/` and is never `.` or
/// `..`, so the file cannot land outside it, and an existing file is never
/// overwritten (the next free `name (N).ext` is used, as lbry-sdk does).
pub(super) fn target_path(
    output: Option<&Path>,
    desc: &StreamDescriptor,
) -> anyhow::Result<(PathBuf, bool)> {
    match output {
        Some(p) if p.is_dir() => Ok((p.join(desc.file_name()), true)),
        Some(p) => Ok((p.to_path_buf(), true)),
        None => {
            let cwd = std::env::current_dir().context("cannot determine the current directory")?;
            Ok((free_name(&cwd, &desc.file_name()), false))
        }
    }
}

/// `dir/name`, or `dir/stem (N).ext` with the smallest N that is free.
fn free_name(dir: &Path, name: &str) -> PathBuf {
    let first = dir.join(name);
    if !first.exists() {
        return first;
    }
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => name.split_at(i),
        _ => (name, ""),
    };
    (1..10_000)
        .map(|n| dir.join(format!("{stem} ({n}){ext}")))
        .find(|p| !p.exists())
        .unwrap_or(first)
}

#[cfg(test)]
mod tests {
    use super::free_name;

    #[test]
    fn free_names_count_up_before_the_extension() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert_eq!(free_name(d, "a.txt"), d.join("a.txt"));
        std::fs::write(d.join("a.txt"), "").unwrap();
        assert_eq!(free_name(d, "a.txt"), d.join("a (1).txt"));
        std::fs::write(d.join("a (1).txt"), "").unwrap();
        assert_eq!(free_name(d, "a.txt"), d.join("a (2).txt"));
        std::fs::write(d.join(".bashrc"), "").unwrap();
        assert_eq!(free_name(d, ".bashrc"), d.join(".bashrc (1)"));
    }
}
