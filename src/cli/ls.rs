//! `lbrymount ls`: the streams a node knows, or those in the local store.
//!
//! With a node running on the data dir, the node answers over its control
//! socket; otherwise the store is read directly (quietly: listing changes
//! nothing in the cache).

use super::held::{node_or_store, Holder};
use crate::catalog::stream_rows;
use crate::config::Config;
use crate::control::{Reply, Request};
use crate::hash::SdHash;

pub fn run(cfg: &Config, only: Option<SdHash>) -> anyhow::Result<()> {
    let rows = match node_or_store(cfg)? {
        Holder::Node(mut node) => match node.request(&Request::Ls, |_| {})? {
            Reply::Ls { streams } => streams,
            other => anyhow::bail!("unexpected reply from the node: {other:?}"),
        },
        Holder::Nobody(store) => stream_rows(&*store),
    };
    let wanted =
        |row: &crate::catalog::StreamRow| only.is_none_or(|sd| row.sd_hash == sd.to_string());
    let rows: Vec<_> = rows.into_iter().filter(wanted).collect();
    if let (Some(sd), true) = (only, rows.is_empty()) {
        anyhow::bail!("stream {sd} is not in the store");
    }
    for row in rows {
        println!("{}", row.line());
    }
    Ok(())
}
