//! Downloading every blob of a stream: in parallel, delivered in order, with
//! bounded memory.
//!
//! [`FetchAll`] is an ordered window of at most `concurrency` blobs: each is
//! being fetched or finished but not yet taken. [`FetchAll::next`] hands out
//! blob 0, then 1, ... and only then starts the next one, so a consumer can
//! write blob i as soon as it arrives, and memory stays at `concurrency`
//! blobs (2 MiB each) however long the stream. A slow head blob holds the
//! window (that is the bound); the consumer is waiting on it, so it is
//! fetched as [`Priority::Urgent`] (hedged) while the rest are bulk.
//!
//! Dropping a `FetchAll` stops waiting; transfers already running finish into
//! the store (at most `concurrency` of them).

use super::fetcher::Fetcher;
use super::{FetchError, Priority};
use crate::blob::VerifiedBlob;
use crate::hash::BlobHash;
use crate::task;
use std::collections::VecDeque;
use tokio::task::JoinHandle;

/// Results of [`Fetcher::fetch_all`], in order of the blob list.
pub struct FetchAll {
    fetcher: Fetcher,
    todo: std::iter::Enumerate<std::vec::IntoIter<(BlobHash, Option<u64>)>>,
    window: VecDeque<Pending>,
    concurrency: usize,
}

struct Pending {
    index: usize,
    hash: BlobHash,
    len: Option<u64>,
    task: JoinHandle<Result<VerifiedBlob, FetchError>>,
}

impl Fetcher {
    /// Fetches `blobs` (hash and expected length), at most `concurrency`
    /// (at least 1) at a time, returning them in order. Starts at once.
    pub fn fetch_all(&self, blobs: Vec<(BlobHash, Option<u64>)>, concurrency: usize) -> FetchAll {
        let mut all = FetchAll {
            fetcher: self.clone(),
            todo: blobs.into_iter().enumerate(),
            window: VecDeque::new(),
            concurrency: concurrency.max(1),
        };
        all.refill();
        all
    }
}

impl FetchAll {
    /// The next blob in order with its index, or `None` after the last one.
    /// A failed blob does not stop the others; the caller decides.
    pub async fn next(&mut self) -> Option<(usize, Result<VerifiedBlob, FetchError>)> {
        // The head leaves the window only once its result is in hand, so a
        // caller that drops this future loses nothing: the next call retries it.
        let head = self.window.front_mut()?;
        let (hash, len) = (head.hash, head.len);
        let result = if head.task.is_finished() {
            joined(hash, (&mut head.task).await)
        } else {
            // Joins the running transfer (one transfer per blob) and makes it urgent.
            self.fetcher.fetch(hash, len, Priority::Urgent).await
        };
        let head = self.window.pop_front()?;
        head.task.abort();
        self.refill();
        Some((head.index, result))
    }

    /// Blobs not yet handed out (running, finished or not started).
    pub fn remaining(&self) -> usize {
        self.window.len() + self.todo.len()
    }

    fn refill(&mut self) {
        while self.window.len() < self.concurrency {
            let Some((index, (hash, len))) = self.todo.next() else {
                return;
            };
            let fetcher = self.fetcher.clone();
            let span = tracing::trace_span!("fetch_all", index);
            let task = task::spawn("prefetch blob", span, async move {
                fetcher.fetch(hash, len, Priority::Bulk).await
            });
            self.window.push_back(Pending {
                index,
                hash,
                len,
                task,
            });
        }
    }
}

fn joined(
    hash: BlobHash,
    r: Result<Result<VerifiedBlob, FetchError>, tokio::task::JoinError>,
) -> Result<VerifiedBlob, FetchError> {
    r.unwrap_or(Err(FetchError::Interrupted { hash }))
}

impl Drop for FetchAll {
    fn drop(&mut self) {
        for p in &self.window {
            p.task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::mock::{addr, fetcher, test_config, Behave, Gate, MockNet};
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn blobs_spread_over_equal_peers_within_the_per_peer_limit() {
        let net = MockNet::new();
        let gate = Gate::new();
        let peers = [addr(1), addr(2), addr(3)];
        for p in peers {
            net.set(p, Behave::Gated(gate.clone(), Box::new(Behave::Serve)));
        }
        let blobs: Vec<_> = (0..8u8).map(|i| net.add(&[i; 100])).collect();
        let (f, _) = fetcher(&net, &peers, test_config());
        let mut all = f.fetch_all(blobs.clone(), 8);
        // 3 peers x 2 slots: six requests run, two blobs wait for a slot.
        net.until("six requests run", |n| n.total().live == 6).await;
        for p in peers {
            assert_eq!(net.counts(p).live, 2, "{p}");
        }
        gate.open();
        for (i, (hash, _)) in blobs.iter().enumerate() {
            let (index, r) = all.next().await.unwrap();
            assert_eq!(index, i);
            assert_eq!(r.unwrap().hash(), hash);
        }
        assert!(all.next().await.is_none());
        assert_eq!(net.total().calls, 8);
        for p in peers {
            assert_eq!(net.counts(p).max_live, 2, "{p}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn results_come_in_order_with_at_most_concurrency_blobs_outstanding() {
        let net = MockNet::new();
        let mut blobs: Vec<_> = (0..10u8).map(|i| net.add(&[i; 64])).collect();
        // Blob 4 is nowhere: its failure is reported in place and the rest continue.
        blobs[4] = (BlobHash::digest(b"missing"), Some(7));
        let (f, _) = fetcher(&net, &[addr(1), addr(2)], test_config());
        let mut all = f.fetch_all(blobs.clone(), 3);
        net.until("the window is fetched", |n| n.total().calls == 3)
            .await;
        // Nothing taken yet: no more blobs may be fetched, however long we wait.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(net.total().calls, 3);
        assert_eq!(all.remaining(), 10);
        for (i, (hash, _)) in blobs.iter().enumerate() {
            let (index, r) = all.next().await.unwrap();
            assert_eq!(index, i);
            if i == 4 {
                assert!(matches!(r, Err(FetchError::AllPeersFailed { .. })));
            } else {
                assert_eq!(r.unwrap().hash(), hash);
            }
            // Taken: i + 1, outstanding: at most 3, so blobs 0..i + 4 at most were
            // started; blob 4 (among them once i >= 1) costs one call per peer.
            let extra = if i >= 1 { 1 } else { 0 };
            assert!(net.total().calls <= i + 1 + 3 + extra, "{:?}", net.total());
        }
        assert!(all.next().await.is_none());
        assert_eq!(all.remaining(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn zero_concurrency_still_makes_progress() {
        let net = MockNet::new();
        let blobs = vec![net.add(b"one"), net.add(b"two")];
        let (f, _) = fetcher(&net, &[addr(1)], test_config());
        let mut all = f.fetch_all(blobs, 0);
        assert_eq!(all.next().await.unwrap().1.unwrap().data(), b"one");
        assert_eq!(all.next().await.unwrap().1.unwrap().data(), b"two");
    }
}
