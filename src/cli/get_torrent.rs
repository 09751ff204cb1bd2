//! `lbrymount get magnet:?…|btih:HASH|FILE.torrent [-o DIR] [--peer HOST:PORT …]`:
//! a whole torrent into a directory.
//!
//! Peers are the `--peer`s and the magnet's `x.pe`; with neither, the
//! mainline DHT is asked (`--bootstrap`, default the public routers;
//! `--no-bootstrap` to stay off it). Without a `.torrent`, the metadata
//! comes from the peers (BEP 9). Files are written as a collection's are
//! (`output_tree`): under `DIR/<torrent name>/`, through part files renamed
//! into place, never through a symlink; every piece is SHA-1-checked first.
//! Torrents are not kept in the store yet, so `--offline` has nothing to read.

use crate::node::bt_dht::MainlineFinder;
use crate::node::resolve;
use crate::output_tree::TreeRoot;
use crate::torrent::{download, magnet, metainfo, write::TreeWriter, Metainfo};
use anyhow::Context;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Whether `get`'s argument names a torrent rather than an LBRY stream.
pub fn is_torrent(arg: &str) -> bool {
    arg.starts_with("magnet:")
        || arg.starts_with("btih:")
        || (arg.ends_with(".torrent") && Path::new(arg).is_file())
}

pub struct TorrentGet {
    pub target: String,
    pub output: Option<PathBuf>,
    pub offline: bool,
    pub peers: Vec<String>,
    pub bootstrap: Vec<String>,
    pub no_bootstrap: bool,
    pub timeout: Duration,
    /// The summary on stderr (off with `-q`).
    pub show_progress: bool,
}

pub fn run(req: TorrentGet) -> anyhow::Result<()> {
    anyhow::ensure!(
        !req.offline,
        "torrents are not kept in the store yet: --offline has nothing to read"
    );
    let dir = match &req.output {
        Some(p) if p.as_os_str() == "-" => {
            anyhow::bail!("a torrent is a folder: give -o DIR, not -")
        }
        Some(p) => p.clone(),
        None => PathBuf::from("."),
    };
    anyhow::ensure!(
        dir.is_dir(),
        "{} is not a directory (a torrent is written into one)",
        dir.display()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(super::interrupt::until_signal(get(req, dir)))
}

async fn get(req: TorrentGet, dir: PathBuf) -> anyhow::Result<()> {
    let (known, info_hash, mut specs) =
        if req.target.starts_with("magnet:") || req.target.starts_with("btih:") {
            let m = magnet::parse(&req.target)?;
            (None, m.info_hash, m.peers)
        } else {
            let bytes = std::fs::read(&req.target)
                .with_context(|| format!("cannot read {}", req.target))?;
            let m = metainfo::parse(&bytes)
                .with_context(|| format!("{} is not a usable torrent", req.target))?;
            (Some(m.clone()), m.info_hash, Vec::new())
        };
    specs.extend(req.peers.iter().cloned());
    let mut peers = resolve(&specs).await?;
    if peers.is_empty() && !req.no_bootstrap {
        peers = from_dht(info_hash, &req.bootstrap).await?;
    }
    let m = match known {
        Some(m) => m,
        None => download::metadata(info_hash, &peers, req.timeout).await?,
    };
    let root = TreeRoot::open(&dir)?;
    let mut writer = TreeWriter::new(&m, root);
    let sink = |offset: u64, bytes: &[u8]| -> anyhow::Result<()> {
        Ok(tokio::task::block_in_place(|| writer.write(offset, bytes))?)
    };
    download::pieces(&m, &peers, req.timeout, sink).await?;
    let files = tokio::task::block_in_place(|| writer.finish())?;
    report(&m, &dir, &files, req.show_progress);
    Ok(())
}

/// Peers announced for `info_hash` in the mainline DHT.
async fn from_dht(info_hash: [u8; 20], bootstrap: &[String]) -> anyhow::Result<Vec<SocketAddr>> {
    MainlineFinder::new(bootstrap.to_vec())
        .peers(info_hash)
        .await
        .map_err(|why| anyhow::anyhow!("{why} (give --peer HOST:PORT or a reachable --bootstrap)"))
}

fn report(m: &Metainfo, dir: &Path, files: &[(String, u64)], summary: bool) {
    let bytes: u64 = files.iter().map(|(_, n)| n).sum();
    for (path, n) in files {
        println!("{n}  {}", dir.join(path).display());
    }
    if !summary {
        return;
    }
    eprintln!(
        "wrote {} files, {bytes} bytes, of {} ({}) into {}",
        files.len(),
        m.name,
        hex::encode(m.info_hash),
        dir.display()
    );
}
