//! `lbrymount ls`: the streams a node knows, or those in the local store.
//!
//! With a node running on the data dir, the node answers over its control
//! socket; otherwise the store is read directly (quietly: listing changes
//! nothing in the cache). `--json` prints the rows as one JSON array whose
//! field names are part of the interface (README, lbrymount(1)).

use super::held::{node_or_store, Holder};
use crate::catalog::{disk_rows, StreamRow};
use crate::config::Config;
use crate::control::{Reply, Request};
use crate::hash::SdHash;

pub fn run(cfg: &Config, only: Option<SdHash>, json: bool) -> anyhow::Result<()> {
    let rows = rows(cfg)?;
    let wanted = |row: &StreamRow| only.is_none_or(|sd| row.sd_hash == sd.to_string());
    let rows: Vec<_> = rows.into_iter().filter(wanted).collect();
    if let (Some(sd), true) = (only, rows.is_empty()) {
        anyhow::bail!("stream {sd} is not in the store");
    }
    if json {
        return print_json(&rows);
    }
    for row in rows {
        println!("{}", row.line());
    }
    Ok(())
}

/// The streams of the node running on the data dir, or of the store.
pub fn rows(cfg: &Config) -> anyhow::Result<Vec<StreamRow>> {
    Ok(match node_or_store(cfg)? {
        Holder::Node(mut node) => match node.request(&Request::Ls, |_| {})? {
            Reply::Ls { streams } => streams,
            other => anyhow::bail!("unexpected reply from the node: {other:?}"),
        },
        Holder::Nobody(store) => disk_rows(&store),
    })
}

/// The rows as one JSON array, on one line.
pub fn print_json(rows: &[StreamRow]) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(rows)?);
    Ok(())
}

/// `published`, `pinned` or `cached`.
pub fn state_of(row: &StreamRow) -> &'static str {
    if row.published {
        "published"
    } else if row.pinned {
        "pinned"
    } else {
        "cached"
    }
}
