//! The announce schedule: what this node tells the DHT it serves.
//!
//! Like lbry-sdk, a node announces the sd blob and first data blob of every
//! stream it holds (published or cached), to the K closest nodes, at start
//! and again before the announcements expire (every 12 hours). Streams that
//! arrive while running (a file read through the mount, a publish) are
//! announced at once through [`Announcer::now`].
//!
//! Bounded: the queue from the rest of the node holds `QUEUE` requests (a
//! request that finds it full is dropped with a warning; the next full pass
//! announces it), blobs waiting for a slot are deduplicated and at most
//! `MAX_WAITING`, and `CONCURRENCY` announces run at once, each bounded by
//! the DHT's search deadline and rpc deadlines. One stuck announce (a
//! hostile node, a dead one) therefore never holds up the others.
//!
//! An announce that reached no node is tried again soon
//! (`announce_retry`), so a node alone when it announced is found once
//! others appear.
//!
//! Each stream's name is announced too, as keyword keys
//! (docs/protocol.md §11.2), so searches find this node: in the full pass, and for a stream
//! announced on request once its descriptor is in the store. At most
//! `search::index::MAX_KEYWORD_KEYS` keyword keys are announced per pass.

use super::announce_retry::{young_table_grew, Retry};
use super::announce_waiting::Waiting;
use crate::assemble::local_streams;
use crate::dht::{self, REANNOUNCE_INTERVAL};
use crate::hash::BlobHash;
use crate::store::{HasBlob, ListBlobs, PeekBlob, ReadQuiet};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinSet;

/// What the announcer needs of a store: its streams, found by listing and
/// peeking and read quietly (a pass must not reorder the cache), and whether
/// each stream's first data blob is present.
pub trait AnnounceStore:
    HasBlob + ListBlobs + PeekBlob + ReadQuiet + Send + Sync + 'static
{
}

impl<S: HasBlob + ListBlobs + PeekBlob + ReadQuiet + Send + Sync + 'static> AnnounceStore for S {}

/// Announce requests queued from the rest of the node, at most.
const QUEUE: usize = 256;
/// Blobs waiting for an announce slot, at most.
const MAX_WAITING: usize = 4096;
/// Announces running at once.
const CONCURRENCY: usize = 4;
/// How often the routing table's size is looked at (`young_table_grew`).
const GROWTH_CHECK: std::time::Duration = std::time::Duration::from_secs(2);

/// The TCP port announced for our blob server: its own, or the one a
/// router forwards to it (UPnP), which may be learnt after start. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AnnouncedPort(Arc<AtomicU16>);

impl AnnouncedPort {
    pub fn new(port: u16) -> Self {
        Self(Arc::new(AtomicU16::new(port)))
    }

    pub fn get(&self) -> u16 {
        self.0.load(Ordering::Relaxed)
    }

    /// Sets the port; whether it changed.
    pub fn set(&self, port: u16) -> bool {
        self.0.swap(port, Ordering::Relaxed) != port
    }
}

/// Asks the announce task to announce blobs now. Cheap to clone.
#[derive(Clone)]
pub struct Announcer {
    tx: Option<mpsc::Sender<Vec<BlobHash>>>,
    trackers: Option<crate::tracker::announce::TrackerAnnouncer>,
    /// Wakes the task for a full pass (the announced port changed).
    again: Option<Arc<Notify>>,
}

impl Announcer {
    /// An announcer that announces nothing (no DHT).
    pub fn disabled() -> Self {
        Self {
            tx: None,
            trackers: None,
            again: None,
        }
    }

    /// Announces everything again now (the announced port changed).
    pub fn full_pass(&self) {
        if let Some(n) = &self.again {
            n.notify_one();
        }
    }

    /// The same announcer, also announcing new streams to trackers.
    pub fn with_trackers(self, trackers: crate::tracker::announce::TrackerAnnouncer) -> Self {
        Self {
            trackers: Some(trackers),
            ..self
        }
    }

    /// Queues what LBRY announces for a stream: its sd blob and first data blob.
    pub fn stream(&self, sd: crate::hash::SdHash, first: Option<BlobHash>) {
        if let Some(t) = &self.trackers {
            t.stream(sd);
        }
        self.now(std::iter::once(sd.as_blob()).chain(first).collect());
    }

    /// Queues blobs for announcing; a no-op without a DHT.
    pub fn now(&self, blobs: Vec<BlobHash>) {
        if let Some(tx) = &self.tx {
            match tx.try_send(blobs) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(b)) => {
                    tracing::warn!(
                        blobs = b.len(),
                        "announce queue full; left to the next full pass"
                    )
                }
                // The task ends only at shutdown; nothing is lost that matters then.
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
    }
}

/// Starts the announce task for `node`, serving blobs on `tcp_port`.
/// It stops (with its announces in flight) when `life` does.
pub fn start(
    node: Arc<dht::Node>,
    store: Arc<dyn AnnounceStore>,
    tcp_port: AnnouncedPort,
    life: &super::Lifecycle,
) -> Announcer {
    let (tx, rx) = mpsc::channel(QUEUE);
    let again = Arc::new(Notify::new());
    let span = tracing::info_span!("announce");
    let run = life.track(run(node, store, tcp_port, rx, again.clone()));
    crate::task::spawn("announcer", span, run);
    Announcer {
        tx: Some(tx),
        trackers: None,
        again: Some(again),
    }
}

async fn run(
    node: Arc<dht::Node>,
    store: Arc<dyn AnnounceStore>,
    tcp_port: AnnouncedPort,
    mut rx: mpsc::Receiver<Vec<BlobHash>>,
    again: Arc<Notify>,
) {
    let mut next_full = tokio::time::Instant::now();
    let mut waiting = Waiting::new(MAX_WAITING);
    let mut keywords = Keywords::default();
    let mut retry = Retry::default();
    let mut running: JoinSet<(u64, BlobHash, usize)> = JoinSet::new();
    let mut growth = tokio::time::interval(GROWTH_CHECK);
    growth.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut contacts = 0;
    loop {
        fill(&mut running, &mut waiting, &node, &tcp_port);
        tokio::select! {
            _ = growth.tick() => {
                let now = node.routing_len();
                if young_table_grew(contacts, now) {
                    tracing::debug!(contacts = now, "a young routing table grew: announcing again");
                    next_full = tokio::time::Instant::now();
                }
                contacts = now;
            }
            _ = tokio::time::sleep_until(next_full) => {
                keywords = Keywords::default();
                waiting.add(full_pass(&store, &mut keywords).await, true);
                next_full = tokio::time::Instant::now() + REANNOUNCE_INTERVAL;
            }
            () = until(retry.due()) => {
                let blobs = retry.take(std::time::Instant::now());
                tracing::debug!(blobs = blobs.len(), "announcing again what reached no node");
                waiting.add(blobs, false);
            }
            () = again.notified() => next_full = tokio::time::Instant::now(),
            blobs = rx.recv() => match blobs {
                Some(blobs) => {
                    let keys = keywords.fresh(names_of(&store, &blobs).await);
                    waiting.add(blobs.into_iter().chain(keys).collect(), false);
                }
                None => return,
            },
            Some(done) = running.join_next() => {
                // A task that panicked has logged why; its round then never
                // reports, which only costs a log line.
                if let Ok((round, blob, stores)) = done {
                    waiting.done(round, stores);
                    retry.record(blob, stores, std::time::Instant::now());
                }
            }
        }
    }
}

/// Starts announces from `waiting` while fewer than `CONCURRENCY` run.
fn fill(
    running: &mut JoinSet<(u64, BlobHash, usize)>,
    waiting: &mut Waiting,
    node: &Arc<dht::Node>,
    tcp_port: &AnnouncedPort,
) {
    while running.len() < CONCURRENCY {
        let Some((blob, round)) = waiting.next() else {
            return;
        };
        let node = node.clone();
        let tcp_port = tcp_port.get();
        let span = tracing::debug_span!("announce_blob", blob = %blob.short());
        crate::task::spawn_in(running, "announce_blob", span, async move {
            (round, blob, announce(&node, blob, tcp_port).await)
        });
    }
}

/// The streams' heads and fresh keyword keys, for a full pass.
async fn full_pass(store: &Arc<dyn AnnounceStore>, keywords: &mut Keywords) -> Vec<BlobHash> {
    let (heads, names) = crate::blocking::run({
        let store = store.clone();
        move || pass(&*store)
    })
    .await
    .unwrap_or_default();
    heads.into_iter().chain(keywords.fresh(names)).collect()
}

/// Waits until `due`; forever without one.
async fn until(due: Option<std::time::Instant>) {
    match due {
        Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
        None => std::future::pending().await,
    }
}

/// Announces one blob; returns the stores made.
async fn announce(node: &dht::Node, blob: BlobHash, tcp_port: u16) -> usize {
    match node.announce(blob, tcp_port).await {
        Ok(n) => n,
        Err(e) => {
            tracing::debug!(blob = %blob.short(), error = %e, "announce reached no node");
            0
        }
    }
}

/// What a full pass announces: the streams' heads, and their names.
fn pass<S: AnnounceStore + ?Sized>(store: &S) -> (Vec<BlobHash>, Vec<String>) {
    let names = local_streams(store)
        .into_iter()
        .map(|(_, d)| d.file_name())
        .collect();
    (stream_heads(store), names)
}

/// The names of the streams whose sd blobs are among `blobs` and in the store.
async fn names_of(store: &Arc<dyn AnnounceStore>, blobs: &[BlobHash]) -> Vec<String> {
    let (store, blobs) = (store.clone(), blobs.to_vec());
    crate::blocking::run(move || {
        blobs
            .iter()
            .filter(|b| matches!(store.peek(b, 2), Ok(Some(h)) if h == b"{\""))
            .filter_map(|b| {
                let sd = crate::hash::SdHash::from(*b);
                crate::assemble::load_descriptor_quiet(&*store, &sd).ok()
            })
            .map(|d| d.file_name())
            .collect()
    })
    .await
    .unwrap_or_default()
}

/// The keyword keys announced since the last full pass, at most
/// `MAX_KEYWORD_KEYS`: a key is announced once per pass.
#[derive(Default)]
struct Keywords(HashSet<BlobHash>);

impl Keywords {
    /// The keys of `names` not announced yet this pass, within the cap.
    fn fresh(&mut self, names: Vec<String>) -> Vec<BlobHash> {
        let mut out = Vec::new();
        for key in crate::search::keyword_keys(names.iter().map(String::as_str)) {
            if self.0.len() >= crate::search::index::MAX_KEYWORD_KEYS {
                tracing::debug!("keyword key cap reached; later names are not announced");
                break;
            }
            if self.0.insert(key) {
                out.push(key);
            }
        }
        out
    }
}

/// The blobs LBRY announces for each stream: its sd blob and first data blob.
pub fn stream_heads<S: AnnounceStore + ?Sized>(store: &S) -> Vec<BlobHash> {
    let mut out = Vec::new();
    for (sd, desc) in local_streams(store) {
        out.push(sd.as_blob());
        if let Some(first) = desc.blobs().first().filter(|b| store.contains(&b.hash)) {
            out.push(first.hash);
        }
    }
    out
}
