//! `lbrymount ls`: the streams a node knows, or those in the local store.
//!
//! With a node running on the data dir, the node answers over its control
//! socket; otherwise the store is read directly (quietly: listing changes
//! nothing in the cache).

use super::held::{node_or_store, Holder};
use crate::catalog::stream_rows;
use crate::config::Config;
use crate::control::{Reply, Request};

pub fn run(cfg: &Config) -> anyhow::Result<()> {
    let rows = match node_or_store(cfg)? {
        Holder::Node(mut node) => match node.request(&Request::Ls, |_| {})? {
            Reply::Ls { streams } => streams,
            other => anyhow::bail!("unexpected reply from the node: {other:?}"),
        },
        Holder::Nobody(store) => stream_rows(&*store),
    };
    for row in rows {
        println!("{}", row.line());
    }
    Ok(())
}
