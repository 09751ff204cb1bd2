//! `lbrymount ls`: the streams a node knows, or those in the local store.
//!
//! With a node running on the data dir, the node answers over its control
//! socket; otherwise the store is read directly (quietly: listing changes
//! nothing in the cache).

use crate::catalog::stream_rows;
use crate::config::Config;
use crate::control::{client, Reply, Request};
use crate::store::DiskStore;

pub fn run(cfg: &Config) -> anyhow::Result<()> {
    let rows = match client::connect(&cfg.data_dir)? {
        Some(mut node) => match node.request(&Request::Ls, |_| {})? {
            Reply::Ls { streams } => streams,
            other => anyhow::bail!("unexpected reply from the node: {other:?}"),
        },
        None => stream_rows(&DiskStore::open(&cfg.data_dir, cfg.cache_bytes)?),
    };
    for row in rows {
        println!("{}", row.line());
    }
    Ok(())
}
