//! The tracker announce schedule: like lbry-sdk, every stream this node
//! holds (published or cached) is announced to every tracker, at start and
//! again every interval the tracker asks for (at least [`MIN_INTERVAL`]).
//! Streams that arrive while running are announced at once.
//!
//! One task per tracker, so a dead tracker never holds up a live one. A
//! pass announces at most [`MAX_PER_PASS`] streams and stops at the first
//! announce that gets no answer (the tracker is down; the next pass tries
//! again). New streams reach the tasks through a bounded broadcast channel;
//! a task that falls behind skips them and its next pass covers them.

use super::{Tracker, ANNOUNCE_DEADLINE};
use crate::assemble::local_streams;
use crate::hash::SdHash;
use crate::node::announce::{AnnounceStore, AnnouncedPort};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::time::Instant;

/// Shortest time between two passes, whatever the tracker asks.
pub const MIN_INTERVAL: Duration = Duration::from_secs(60);
/// Longest time between two passes: a tracker asking for more is not believed.
pub const MAX_INTERVAL: Duration = Duration::from_secs(3600);
/// Streams announced in one pass, at most.
pub const MAX_PER_PASS: usize = 10_000;
/// New streams waiting for the tracker tasks, at most.
const QUEUE: usize = 256;

/// Sends new streams to the tracker tasks. Cheap to clone.
#[derive(Clone)]
pub struct TrackerAnnouncer {
    tx: broadcast::Sender<SdHash>,
}

impl TrackerAnnouncer {
    /// Announces `sd` to every tracker now (dropped if nobody listens).
    pub fn stream(&self, sd: SdHash) {
        let _ = self.tx.send(sd);
    }
}

/// Starts one announce task per tracker for the streams of `store`,
/// served on `port`; they stop when `life` does.
pub fn start(
    trackers: &[Arc<Tracker>],
    store: Arc<dyn AnnounceStore>,
    port: AnnouncedPort,
    life: &crate::node::Lifecycle,
) -> TrackerAnnouncer {
    let (tx, _) = broadcast::channel(QUEUE);
    for t in trackers {
        let span = tracing::info_span!("tracker_announce", tracker = %t.spec());
        let run = life.track(run(t.clone(), store.clone(), port.clone(), tx.subscribe()));
        crate::task::spawn("tracker_announce", span, run);
    }
    TrackerAnnouncer { tx }
}

async fn run(
    tracker: Arc<Tracker>,
    store: Arc<dyn AnnounceStore>,
    port: AnnouncedPort,
    mut rx: broadcast::Receiver<SdHash>,
) {
    let mut next = Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {
                let interval = pass(&tracker, &store, port.get()).await;
                next = Instant::now() + interval.clamp(MIN_INTERVAL, MAX_INTERVAL);
            }
            sd = rx.recv() => match sd {
                Ok(sd) => {
                    let r = tracker.announce(sd.as_blob(), port.get(), true, ANNOUNCE_DEADLINE).await;
                    log(&tracker, sd, &r);
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(skipped = n, "tracker announce queue full; left to the next pass");
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}

/// Announces every stream of the store; returns the interval the tracker asked for.
async fn pass(tracker: &Tracker, store: &Arc<dyn AnnounceStore>, port: u16) -> Duration {
    let store = store.clone();
    let streams = crate::blocking::run(move || {
        local_streams(&*store)
            .into_iter()
            .map(|(sd, _)| sd)
            .take(MAX_PER_PASS)
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    let mut interval = MIN_INTERVAL;
    let mut done = 0;
    for sd in streams {
        let r = tracker
            .announce(sd.as_blob(), port, true, ANNOUNCE_DEADLINE)
            .await;
        log(tracker, sd, &r);
        match r {
            Ok(a) => {
                interval = Duration::from_secs(u64::from(a.interval));
                done += 1;
            }
            Err(_) => break,
        }
    }
    tracing::debug!(streams = done, "announced to tracker");
    interval
}

fn log(tracker: &Tracker, sd: SdHash, r: &Result<super::Answer, super::TrackerError>) {
    match r {
        Ok(a) => tracing::debug!(sd = %sd.short(), peers = a.peers.len(), "tracker announce"),
        Err(e) => {
            tracing::info!(tracker = %tracker.spec(), sd = %sd.short(), error = %e, "tracker announce failed")
        }
    }
}
