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
    pub timeout_secs: u64,
    pub show_progress: bool,
}

pub fn run(cfg: &Config, req: GetRequest) -> anyhow::Result<()> {
    let store = DiskStore::open(&cfg.data_dir, cfg.cache_bytes)?;
    if req.offline {
        let desc = load_descriptor(&store, &req.sd_hash)?;
        let target = target_path(req.output.as_deref(), &desc)?;
        let bar = bytes_bar(desc.encrypted_size(), &desc.file_name(), req.show_progress);
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let n = get_offline(&store, &req.sd_hash, &target, workers, &|n| bar.inc(n))?;
        bar.finish_and_clear();
        tracing::info!(sd = %req.sd_hash.short(), bytes = n, path = %target.display(), "written");
        return Ok(());
    }
    super::get_net::run(store, req)
}

/// `-o PATH` as given (inside it if it is a directory), else the descriptor's
/// sanitized file name in the current directory. `file_name()` never contains
/// a `/` and is never `.` or `..`, so the file cannot land outside that directory.
pub(super) fn target_path(
    output: Option<&Path>,
    desc: &StreamDescriptor,
) -> anyhow::Result<PathBuf> {
    match output {
        Some(p) if p.is_dir() => Ok(p.join(desc.file_name())),
        Some(p) => Ok(p.to_path_buf()),
        None => {
            let cwd = std::env::current_dir().context("cannot determine the current directory")?;
            Ok(cwd.join(desc.file_name()))
        }
    }
}
