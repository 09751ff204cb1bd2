//! Racing peers for one blob: the requests running for it, their peer slots,
//! and when a slow request deserves a second one beside it (hedging).
//!
//! The hedge delay is PURE ([`hedge_delay`]): twice the time the peer should
//! need at its observed speed, within a floor and a ceiling, or a default when
//! its speed is unknown. Each time every running request is that slow, one
//! more starts, up to `max_parallel`. Only urgent blobs are hedged (a reader waits on
//! them); bulk prefetch asks one peer at a time and relies on failover.
//!
//! Each request runs as its own task in a `Race`; the first verified blob
//! wins and dropping the race aborts the others, which frees their slots.

use super::fetcher::Inner;
use super::PeerError;
use crate::blob::{VerifiedBlob, MAX_BLOB_SIZE};
use crate::fetch::PeerAddr;
use crate::hash::BlobHash;
use crate::task;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::{Id, JoinSet};
use tokio::time::Instant;

/// When to hedge.
#[derive(Debug, Clone, PartialEq)]
pub struct HedgeConfig {
    /// Never hedge sooner than this after a request started.
    pub floor: Duration,
    /// Delay when the peer's speed is unknown.
    pub unknown: Duration,
    /// Never wait longer than this before hedging.
    pub ceiling: Duration,
    /// Hedge once a request has run this many times its expected duration.
    pub slowness: f64,
    /// Most requests running for one urgent blob (1 disables hedging).
    pub max_parallel: usize,
}

impl Default for HedgeConfig {
    fn default() -> Self {
        Self {
            floor: Duration::from_millis(500),
            unknown: Duration::from_secs(2),
            ceiling: Duration::from_secs(10),
            slowness: 2.0,
            // lbry-sdk races up to 4 peers for a blob.
            max_parallel: 4,
        }
    }
}

/// How long a request to a peer with throughput `bps` (bytes/s, if measured)
/// for a blob of `len` bytes (if known; else the maximum) may run before hedging.
pub fn hedge_delay(cfg: &HedgeConfig, bps: Option<f64>, len: Option<u64>) -> Duration {
    let ceiling = cfg.ceiling.max(cfg.floor);
    let delay = match bps {
        Some(bps) if bps > 0.0 => {
            let bytes = len.unwrap_or(MAX_BLOB_SIZE as u64) as f64;
            Duration::try_from_secs_f64(bytes / bps * cfg.slowness).unwrap_or(ceiling)
        }
        _ => cfg.unknown,
    };
    delay.clamp(cfg.floor, ceiling)
}

/// How one request ended.
pub(crate) struct Attempt {
    pub(crate) peer: PeerAddr,
    pub(crate) elapsed: Duration,
    pub(crate) result: Result<VerifiedBlob, PeerError>,
}

/// The requests running for one blob. Dropping it cancels them.
#[derive(Default)]
pub(crate) struct Race {
    set: JoinSet<Attempt>,
    running: HashMap<Id, (PeerAddr, Instant)>,
}

impl Race {
    pub(crate) fn len(&self) -> usize {
        self.running.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.running.is_empty()
    }

    pub(crate) fn peers(&self) -> Vec<PeerAddr> {
        self.running.values().map(|(p, _)| *p).collect()
    }

    /// Starts a request for `hash` to `peer`, holding one of the peer's slots.
    pub(crate) fn launch(
        &mut self,
        inner: &Arc<Inner>,
        peer: PeerAddr,
        hash: BlobHash,
        len: Option<u64>,
    ) {
        let slot = Slot::take(inner, peer);
        let client = Arc::clone(&inner.peer);
        let started = Instant::now();
        let span = tracing::debug_span!("attempt", %peer);
        let handle = task::spawn_in(&mut self.set, "blob request", span, async move {
            let _slot = slot;
            let result = client
                .fetch_blob(peer, hash, len)
                .await
                .and_then(|blob| check(blob, &hash, len));
            let elapsed = started.elapsed();
            Attempt {
                peer,
                elapsed,
                result,
            }
        });
        self.running.insert(handle.id(), (peer, started));
    }

    /// The next request to end. Pending forever when none runs.
    pub(crate) async fn next(&mut self) -> Attempt {
        loop {
            let Some(joined) = self.set.join_next_with_id().await else {
                return std::future::pending().await;
            };
            let (id, outcome) = match joined {
                Ok((id, attempt)) => (id, Ok(attempt)),
                Err(e) => (e.id(), Err(e)),
            };
            let Some((peer, started)) = self.running.remove(&id) else {
                continue;
            };
            return outcome.unwrap_or_else(|_| Attempt {
                peer,
                elapsed: started.elapsed(),
                result: Err(PeerError::Protocol("the request task panicked".into())),
            });
        }
    }

    /// When every running request has become slow enough to deserve one
    /// more beside it: hedges escalate one at a time, so a stalled peer and
    /// its hedge (both stalled) cannot hold a blob until the deadline.
    pub(crate) fn hedge_at(&self, inner: &Inner, len: Option<u64>) -> Option<Instant> {
        let score = inner.score();
        self.running
            .values()
            .map(|(peer, started)| {
                *started + hedge_delay(&inner.cfg.hedge, score.throughput(peer), len)
            })
            .max()
    }
}

/// Guards the trait's promise: the blob is the one asked for, at the expected
/// length. The hash is checked first: a genuine blob at another length than
/// the descriptor's means the descriptor is wrong.
fn check(blob: VerifiedBlob, hash: &BlobHash, len: Option<u64>) -> Result<VerifiedBlob, PeerError> {
    if blob.hash() != hash {
        return Err(PeerError::HashMismatch {
            actual: *blob.hash(),
        });
    }
    match len {
        Some(expected) if blob.len() as u64 != expected => Err(PeerError::DescriptorLength {
            expected,
            actual: blob.len() as u64,
        }),
        _ => Ok(blob),
    }
}

/// One of a peer's in-flight slots; freed when the request ends or is cancelled.
struct Slot {
    inner: Arc<Inner>,
    peer: PeerAddr,
}

impl Slot {
    fn take(inner: &Arc<Inner>, peer: PeerAddr) -> Self {
        inner.score().begin(peer);
        Self {
            inner: Arc::clone(inner),
            peer,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.inner.score().end(self.peer);
        self.inner.slot_freed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::mock::{addr, all_failed, fetcher, test_config, Behave, MockNet};
    use crate::fetch::{Priority, Skipped};

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn delay_follows_observed_speed_within_floor_and_ceiling() {
        let cfg = HedgeConfig::default();
        let mib = 1024.0 * 1024.0;
        assert_eq!(hedge_delay(&cfg, None, Some(1000)), Duration::from_secs(2));
        // 2 MiB at 1 MiB/s should take 2 s: hedge after 4 s.
        assert_eq!(hedge_delay(&cfg, Some(mib), None), Duration::from_secs(4));
        assert_eq!(
            hedge_delay(&cfg, Some(mib), Some(512 * 1024)),
            Duration::from_secs(1)
        );
        assert_eq!(hedge_delay(&cfg, Some(100.0 * mib), None), 500 * MS);
        assert_eq!(hedge_delay(&cfg, Some(1.0), None), Duration::from_secs(10));
        assert_eq!(
            hedge_delay(&cfg, Some(f64::MIN_POSITIVE), None),
            Duration::from_secs(10)
        );
        assert_eq!(hedge_delay(&cfg, Some(0.0), None), Duration::from_secs(2));
    }

    fn hedging_config() -> crate::fetch::FetchConfig {
        let mut cfg = test_config();
        cfg.hedge.floor = MS;
        cfg.hedge.unknown = 20 * MS;
        cfg
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_urgent_request_is_hedged_and_the_loser_cancelled() {
        let net = MockNet::new();
        let (hash, len) = net.add(b"hurry");
        net.set(addr(1), Behave::Hang);
        let (f, _) = fetcher(&net, &[addr(1), addr(2)], hedging_config());
        let blob = f.fetch(hash, len, Priority::Urgent).await.unwrap();
        assert_eq!(blob.data(), b"hurry");
        assert_eq!(net.counts(addr(2)).calls, 1);
        net.until("the slow request is cancelled", |n| {
            n.counts(addr(1)).cancelled == 1
        })
        .await;
        assert_eq!(f.inner.score().in_flight(&addr(1)), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn hedges_escalate_past_several_stalled_peers() {
        let net = MockNet::new();
        let (hash, len) = net.add(b"third time");
        net.set(addr(1), Behave::Hang);
        net.set(addr(2), Behave::Hang);
        let (f, _) = fetcher(&net, &[addr(1), addr(2), addr(3)], hedging_config());
        let blob = f.fetch(hash, len, Priority::Urgent).await.unwrap();
        assert_eq!(blob.data(), b"third time");
        assert_eq!(net.counts(addr(3)).calls, 1);
        net.until("both stalled requests are cancelled", |n| {
            n.counts(addr(1)).cancelled == 1 && n.counts(addr(2)).cancelled == 1
        })
        .await;
    }

    #[tokio::test(start_paused = true)]
    async fn bulk_requests_are_not_hedged() {
        let net = MockNet::new();
        let (hash, len) = net.add(b"later");
        net.set(addr(1), Behave::Hang);
        let mut cfg = hedging_config();
        cfg.deadline = 300 * MS;
        let (f, _) = fetcher(&net, &[addr(1), addr(2)], cfg);
        let e = f.fetch(hash, len, Priority::Bulk).await.unwrap_err();
        let (attempts, skipped) = all_failed(&e);
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].0, addr(1));
        assert_eq!(skipped, &vec![(addr(2), Skipped::NotReached)]);
        assert_eq!(net.counts(addr(2)).calls, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn an_urgent_caller_joining_a_bulk_transfer_makes_it_hedge() {
        let net = MockNet::new();
        let (hash, len) = net.add(b"now please");
        net.set(addr(1), Behave::Hang);
        let (f, _) = fetcher(&net, &[addr(1), addr(2)], hedging_config());
        let bulk = {
            let f = f.clone();
            tokio::spawn(async move { f.fetch(hash, len, Priority::Bulk).await })
        };
        net.until("the bulk request started", |n| n.counts(addr(1)).calls == 1)
            .await;
        let urgent = f.fetch(hash, len, Priority::Urgent).await.unwrap();
        assert_eq!(urgent.data(), b"now please");
        assert_eq!(bulk.await.unwrap().unwrap(), urgent);
        assert_eq!(net.total().calls, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_hedge_fails_over_while_the_slow_request_continues() {
        let net = MockNet::new();
        let (hash, len) = net.add(b"persist");
        net.set(addr(1), Behave::Hang);
        net.set(addr(2), Behave::Fail(PeerError::NotAvailable));
        let (f, _) = fetcher(&net, &[addr(1), addr(2), addr(3)], hedging_config());
        let blob = f.fetch(hash, len, Priority::Urgent).await.unwrap();
        assert_eq!(blob.data(), b"persist");
        assert_eq!(net.counts(addr(2)).calls, 1);
        assert_eq!(net.counts(addr(3)).calls, 1);
        net.until("the slow request is cancelled", |n| {
            n.counts(addr(1)).cancelled == 1
        })
        .await;
    }
}
