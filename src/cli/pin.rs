//! `lbrymount pin SD_HASH|URL`: fetch a stream if needed and keep it.
//!
//! With a node running on the data dir, the node fetches and pins (through
//! its own peers and any `--peer`); otherwise the store is opened here and
//! the stream fetched as `get` would, each blob pinned as it lands.

use super::held::{node_or_store, Holder};
use crate::config::Config;
use crate::control::{ContentRequest, Reply};
use crate::fetch::Priority;
use crate::hash::SdHash;
use crate::node::oneshot::{fetching, GetConfig};
use crate::node::Bootstrap;
use crate::sd::StreamDescriptor;
use crate::store::DiskStore;
use anyhow::{bail, Context};
use std::sync::Arc;
use std::time::Duration;

pub struct PinRequest {
    pub sd: SdHash,
    pub peers: Vec<String>,
    pub no_bootstrap: bool,
    pub timeout_secs: u64,
    /// Fixed peers and HTTP sources (`--fixed-peer`, `--blob-http`).
    pub reach: crate::node::Reach,
}

pub fn run(cfg: &Config, req: PinRequest) -> anyhow::Result<()> {
    let store = match node_or_store(cfg)? {
        Holder::Node(node) => {
            let ask = ContentRequest::Pin {
                sd_hash: req.sd.to_string(),
                peers: req.peers,
                timeout_secs: Some(req.timeout_secs),
            };
            return match super::content::ask(node, ask)? {
                Reply::Done { message } => {
                    println!("{message}");
                    Ok(())
                }
                other => bail!("unexpected reply from the node: {other:?}"),
            };
        }
        Holder::Nobody(store) => Arc::new(*store),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("lbrymount-pin")
        .build()
        .context("cannot start the async runtime")?;
    let size = rt.block_on(super::interrupt::until_signal(pin_here(store, &req)))?;
    println!("pinned {} ({size} bytes)", req.sd);
    Ok(())
}

/// Fetches what the store lacks and pins the stream, without a node.
async fn pin_here(store: Arc<DiskStore>, req: &PinRequest) -> anyhow::Result<u64> {
    let sd = req.sd;
    let complete = crate::assemble::load_descriptor_quiet(&*store, &sd)
        .is_ok_and(|d| d.blobs().iter().all(|b| store.contains(&b.hash)));
    let bootstrap = if req.no_bootstrap || !req.peers.is_empty() || complete {
        Bootstrap::None
    } else {
        Bootstrap::Default
    };
    let cfg = GetConfig {
        peers: req.peers.clone(),
        bootstrap,
        fetch_deadline: Duration::from_secs(req.timeout_secs),
        reach: req.reach.clone(),
    };
    let f = fetching(store.clone(), &cfg).await?;
    if !f.has_sources && !complete {
        bail!("stream {sd} is not complete in the local store, and --no-bootstrap without --peer leaves nowhere to look");
    }
    let sd_blob = f
        .fetcher
        .fetch(sd.as_blob(), None, Priority::Urgent)
        .await?;
    let desc = StreamDescriptor::parse_verified(sd_blob.data(), &sd)
        .with_context(|| format!("stream descriptor {sd} is invalid"))?;
    f.peers.register(&desc);
    Ok(crate::content::pin(store, &f.fetcher, sd, &desc).await?)
}
