//! `get` on a data dir held by a running node (the mount or `serve`).
//!
//! The node holds the data dir's lock, so `get` cannot open the store
//! itself. It asks the node over the control socket: the node fetches the
//! stream into its store (from the peers it knows, its DHT and any `--peer`
//! given here) and sends the bytes back in order; this side writes them
//! with the same rules as ever (what `-o` may replace, visible names, part
//! files). `--bootstrap` and `--no-bootstrap` do not apply: the node
//! searches its own DHT.

use super::get::{open_output, report, GetRequest};
use super::progress::bytes_bar;
use crate::control::{client::Client, GetJob, Reply, Request};
use anyhow::bail;

pub fn run(mut node: Client, data_dir: &std::path::Path, req: &GetRequest) -> anyhow::Result<()> {
    if !req.bootstrap.is_empty() || req.no_bootstrap {
        tracing::warn!("a node runs on this data dir; it searches its own DHT, so --bootstrap and --no-bootstrap do not apply");
    }
    node.send(&Request::Get(GetJob {
        sd_hash: req.sd_hash.to_string(),
        peers: req.peers.clone(),
        offline: req.offline,
        timeout_secs: Some(req.timeout_secs),
    }))?;
    let (mut out, bar) = match next_final(&mut node)? {
        Reply::Stream { name, .. } if name.ends_with(crate::collection::SUFFIX) => {
            return super::get_tree_node::run(node, data_dir, req, &name);
        }
        Reply::Stream { name, size } => (
            open_output(req.output.as_deref(), &name)?,
            bytes_bar(size, &name, req.show_progress),
        ),
        other => return Err(unexpected(other)),
    };
    let target = out.describe();
    loop {
        match next_final(&mut node)? {
            Reply::Data { len } => {
                out.write(&node.read_data(len)?)?;
                bar.inc(u64::from(len));
            }
            Reply::Got { bytes } => {
                let n = out.finish()?;
                bar.finish_and_clear();
                if n != bytes {
                    bail!("the node sent {n} bytes but reported {bytes}");
                }
                report(req, n, &target);
                return Ok(());
            }
            other => return Err(unexpected(other)),
        }
    }
}

pub(super) fn unexpected(reply: Reply) -> anyhow::Error {
    match reply {
        Reply::Error { message } => anyhow::anyhow!("the node running on the data dir: {message}"),
        other => anyhow::anyhow!("unexpected reply from the node: {other:?}"),
    }
}

/// The next reply that is not progress.
pub(super) fn next_final(node: &mut Client) -> Result<Reply, crate::control::ControlError> {
    loop {
        match node.next_reply()? {
            Reply::Progress { .. } => continue,
            r => return Ok(r),
        }
    }
}
