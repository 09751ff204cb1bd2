//! The announce schedule: what this node tells the DHT it serves.
//!
//! Like lbry-sdk, a node announces the sd blob and first data blob of every
//! stream it holds (published or cached), to the K closest nodes, at start
//! and again before the announcements expire (every 12 hours). Streams that
//! arrive while running (a file read through the mount, a publish) are
//! announced at once through [`Announcer::now`].

use crate::assemble::local_streams;
use crate::dht::{self, REANNOUNCE_INTERVAL};
use crate::hash::BlobHash;
use crate::store::BlobStore;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Asks the announce task to announce blobs now. Cheap to clone.
#[derive(Clone)]
pub struct Announcer {
    tx: Option<mpsc::UnboundedSender<Vec<BlobHash>>>,
}

impl Announcer {
    /// An announcer that announces nothing (no DHT).
    pub fn disabled() -> Self {
        Self { tx: None }
    }

    /// Queues what LBRY announces for a stream: its sd blob and first data blob.
    pub fn stream(&self, sd: crate::hash::SdHash, first: Option<BlobHash>) {
        self.now(std::iter::once(sd.as_blob()).chain(first).collect());
    }

    /// Queues blobs for announcing; a no-op without a DHT.
    pub fn now(&self, blobs: Vec<BlobHash>) {
        if let Some(tx) = &self.tx {
            // The task ends only at shutdown; nothing is lost that matters then.
            let _ = tx.send(blobs);
        }
    }
}

/// Starts the announce task for `node`, serving blobs on `tcp_port`.
pub fn start(node: Arc<dht::Node>, store: Arc<dyn BlobStore>, tcp_port: u16) -> Announcer {
    let (tx, rx) = mpsc::unbounded_channel();
    let span = tracing::info_span!("announce");
    crate::fetch::task::spawn("announcer", span, run(node, store, tcp_port, rx));
    Announcer { tx: Some(tx) }
}

async fn run(
    node: Arc<dht::Node>,
    store: Arc<dyn BlobStore>,
    tcp_port: u16,
    mut rx: mpsc::UnboundedReceiver<Vec<BlobHash>>,
) {
    let mut next_full = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next_full) => {
                let heads = tokio::task::spawn_blocking({
                    let store = store.clone();
                    move || stream_heads(&*store)
                })
                .await
                .unwrap_or_default();
                announce(&node, &heads, tcp_port).await;
                next_full = tokio::time::Instant::now() + REANNOUNCE_INTERVAL;
            }
            blobs = rx.recv() => match blobs {
                Some(blobs) => announce(&node, &blobs, tcp_port).await,
                None => return,
            },
        }
    }
}

async fn announce(node: &dht::Node, blobs: &[BlobHash], tcp_port: u16) {
    let mut stored = 0;
    for blob in blobs {
        match node.announce(*blob, tcp_port).await {
            Ok(n) => stored += n,
            Err(e) => tracing::debug!(blob = %blob.short(), error = %e, "announce reached no node"),
        }
    }
    tracing::info!(blobs = blobs.len(), stores = stored, "announced");
}

/// The blobs LBRY announces for each stream: its sd blob and first data blob.
pub fn stream_heads(store: &dyn BlobStore) -> Vec<BlobHash> {
    let mut out = Vec::new();
    for (sd, desc) in local_streams(store) {
        out.push(sd.as_blob());
        if let Some(first) = desc.blobs().first().filter(|b| store.contains(&b.hash)) {
            out.push(first.hash);
        }
    }
    out
}
