//! `lbrymount get SD_HASH [-o PATH|-] [--offline | --peer HOST:PORT ...]`
//!
//! What `get` may touch is exactly what the user named: `-o FILE` replaces
//! only a regular file (never a symlink, device node or FIFO), `-o DIR` and
//! no `-o` add a new, visible file and never overwrite one, and `-o -`
//! writes to standard output. On success it says on stderr where it wrote.
//! On SIGINT, SIGTERM or SIGHUP the part file goes; the blobs fetched stay
//! in the store, so running the same command again resumes.

use super::progress::bytes_bar;
use crate::assemble::{check_complete, get_offline_into, load_descriptor, Output};
use crate::config::Config;
use crate::hash::SdHash;
use crate::store::DiskStore;
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct GetRequest {
    pub sd_hash: SdHash,
    pub output: Option<PathBuf>,
    pub offline: bool,
    pub peers: Vec<String>,
    pub bootstrap: Vec<String>,
    pub no_bootstrap: bool,
    pub timeout_secs: u64,
    pub show_progress: bool,
    /// Fixed peers and HTTP sources (a running node uses its own).
    pub reach: crate::node::Reach,
}

/// Longest file name most filesystems accept, in bytes.
const NAME_MAX: usize = 255;

pub fn run(cfg: &Config, req: GetRequest) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("lbrymount-get")
        .build()
        .context("cannot start the async runtime")?;
    // A node running on the data dir holds its store: ask it.
    let store = match super::held::node_or_store(cfg)? {
        super::held::Holder::Node(node) => {
            let dir = cfg.data_dir.clone();
            return rt.block_on(super::interrupt::until_signal(async move {
                tokio::task::spawn_blocking(move || super::get_node::run(node, &dir, &req)).await?
            }));
        }
        super::held::Holder::Nobody(store) => Arc::new(*store),
    };
    rt.block_on(super::interrupt::until_signal(async move {
        if req.offline {
            tokio::task::spawn_blocking(move || offline(&store, &req)).await?
        } else {
            super::get_net::get(store, req).await
        }
    }))
}

/// `get --offline`: the local store only, never the network.
fn offline(store: &DiskStore, req: &GetRequest) -> anyhow::Result<()> {
    let desc = load_descriptor(store, &req.sd_hash)?;
    if crate::collection::is_collection_name(desc.suggested_file_name()) {
        anyhow::bail!("{} is a collection; `get --offline` fetches single streams only (without --offline, a store holding the whole tree is used as is)", req.sd_hash);
    }
    check_complete(store, &desc)?;
    let out = open_output(req.output.as_deref(), &desc.download_name())?;
    let bar = bytes_bar(
        desc.encrypted_size(),
        &desc.download_name(),
        req.show_progress,
    );
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let target = out.describe();
    let n = get_offline_into(store, &desc, out, workers, &|n| bar.inc(n))?;
    bar.finish_and_clear();
    report(req, n, &target);
    Ok(())
}

/// Says where the file went (stderr, unless `-q`).
pub(super) fn report(req: &GetRequest, bytes: u64, target: &str) {
    tracing::info!(sd = %req.sd_hash.short(), bytes, path = %target, "written");
    if req.show_progress {
        eprintln!("wrote {bytes} bytes to {target}");
    }
}

/// Opens where the stream goes.
///
/// `-o -` is standard output. `-o DIR` (or a symlink to one) and no `-o`
/// put `name`, the descriptor's visible name
/// ([`StreamDescriptor::download_name`](crate::sd::StreamDescriptor::download_name)),
/// into that directory and never overwrite anything: the next free
/// `name (N).ext` is used, as lbry-sdk does. `-o FILE` replaces FILE like
/// `cp` would, but only if it is a regular file (or absent).
pub(super) fn open_output(output: Option<&Path>, name: &str) -> anyhow::Result<Output> {
    let into_dir = |dir: &Path| Output::create(&free_name(dir, name), false);
    let out = match output {
        Some(p) if p.as_os_str() == "-" => Ok(Output::stdout()),
        // `is_dir` follows a symlink: writing inside the directory it points
        // to replaces nothing.
        Some(p) if p.is_dir() => into_dir(p),
        Some(p) => Output::create(p, true),
        None => {
            let cwd = std::env::current_dir().context("cannot determine the current directory")?;
            into_dir(&cwd)
        }
    };
    Ok(out?)
}

/// `dir/name`, or `dir/stem (N).ext` with the smallest N that is free,
/// shortened so the name stays within `NAME_MAX` bytes.
fn free_name(dir: &Path, name: &str) -> PathBuf {
    let taken = |p: &Path| std::fs::symlink_metadata(p).is_ok();
    let first = dir.join(name);
    if !taken(&first) {
        return first;
    }
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 && name.len() - i <= 32 => name.split_at(i),
        _ => (name, ""),
    };
    (1..10_000)
        .map(|n| {
            let suffix = format!(" ({n}){ext}");
            let mut end = stem.len().min(NAME_MAX - suffix.len());
            while !stem.is_char_boundary(end) {
                end -= 1;
            }
            dir.join(format!("{}{suffix}", &stem[..end]))
        })
        .find(|p| !taken(p))
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
        std::os::unix::fs::symlink("/nonexistent", d.join("b")).unwrap();
        assert_eq!(
            free_name(d, "b"),
            d.join("b (1)"),
            "a dangling symlink is taken"
        );
    }

    #[test]
    fn free_names_of_long_names_stay_within_name_max() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let long = format!("{}.mkv", "é".repeat(125));
        std::fs::write(d.join(&long), "").unwrap();
        let next = free_name(d, &long);
        let name = next.file_name().unwrap().to_str().unwrap();
        assert!(name.len() <= 255 && name.ends_with(" (1).mkv"), "{name}");
    }
}
