//! The read-ahead of one open file: the blobs it wants, fetched nearest
//! first by a few workers.
//!
//! A task per wished blob, all spawned at once, start in no useful order:
//! the runtime runs the last spawned first, and they then race for the
//! peers' request slots, so a reader could wait for the next blob while the
//! eighth ahead was being fetched. Here the wishes wait in a queue, in the
//! reader's order, and at most `parallel` workers take them from the front:
//! a blob is asked for only once every nearer blob has been. A seek clears
//! the queue (the blobs it held are no longer ahead of the reader); blobs
//! already being fetched finish and stay in the caches. When the mount
//! stops (its cancellation token), workers drop what they fetch and end.

use super::Stream;
use crate::task;
use std::collections::VecDeque;
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio_util::sync::CancellationToken;

#[derive(Default)]
pub struct ReadAheadQueue {
    inner: Mutex<Inner>,
    /// Cancelled when the mount stops: the fetch in flight is dropped and
    /// nothing more starts.
    stop: CancellationToken,
}

#[derive(Default)]
struct Inner {
    wanted: VecDeque<usize>,
    workers: usize,
}

impl ReadAheadQueue {
    /// An empty queue whose workers end when `stop` is cancelled.
    pub fn new(stop: CancellationToken) -> Self {
        Self {
            inner: Mutex::default(),
            stop,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update is a push, a pop or a count change: a panic leaves it whole.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues blobs `wish` of `stream` behind those already wanted, and
    /// starts workers, up to `parallel`, to fetch them.
    pub fn push(self: &Arc<Self>, stream: &Arc<Stream>, wish: Range<usize>, parallel: usize) {
        if self.stop.is_cancelled() {
            return;
        }
        let mut q = self.lock();
        q.wanted.extend(wish);
        while q.workers < parallel.max(1) && q.workers < q.wanted.len() {
            q.workers += 1;
            let span = tracing::trace_span!("read-ahead", sd = %stream.sd().short());
            task::spawn("read-ahead", span, work(self.clone(), stream.clone()));
        }
    }

    /// Forgets the blobs not started yet (the reader moved elsewhere).
    pub fn clear(&self) {
        self.lock().wanted.clear();
    }

    /// Blobs waiting for a worker.
    #[cfg(test)]
    pub fn waiting(&self) -> usize {
        self.lock().wanted.len()
    }
}

/// One worker: takes the nearest wanted blob until none is left.
async fn work(queue: Arc<ReadAheadQueue>, stream: Arc<Stream>) {
    // Counted out however the worker ends (a panic in a fetch included), so
    // the queue never believes in workers that are gone.
    struct Leave(Arc<ReadAheadQueue>);
    impl Drop for Leave {
        fn drop(&mut self) {
            let mut q = self.0.lock();
            q.workers = q.workers.saturating_sub(1);
        }
    }
    let _leave = Leave(queue.clone());
    loop {
        let Some(blob) = queue.lock().wanted.pop_front() else {
            return;
        };
        tracing::trace!(blob, "read-ahead");
        let fetch = stream.clone().prefetch(blob, false);
        if queue.stop.run_until_cancelled(fetch).await.is_none() {
            tracing::trace!("read-ahead stopped");
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::PLAIN_CHUNK;
    use crate::publish::{publish_reader, PublishOptions};
    use crate::store::MemStore;
    use crate::stream::plain::PlainCache;
    use crate::stream::testing::{pseudo_random, MemSource};
    use std::time::Duration;

    fn stream_of(blobs: usize) -> (Arc<MemSource>, Arc<Stream>) {
        let data = pseudo_random(blobs * PLAIN_CHUNK, 11);
        let store = MemStore::new();
        let p =
            publish_reader(&store, "f", &data[..], &PublishOptions::default(), &|_| {}).unwrap();
        let src = Arc::new(MemSource::new(store));
        let plain = Arc::new(PlainCache::new(blobs + 1));
        let s = Stream::new(Arc::new(p.descriptor), src.clone(), plain);
        (src, Arc::new(s))
    }

    /// The blob indexes `src` was asked for, in order.
    fn asked(src: &MemSource, s: &Stream) -> Vec<usize> {
        let blobs = s.descriptor().blobs();
        src.asked()
            .iter()
            .filter_map(|h| blobs.iter().position(|b| b.hash == *h))
            .collect()
    }

    async fn settle(q: &ReadAheadQueue, src: &MemSource, n: usize) {
        for _ in 0..2000 {
            if q.waiting() == 0 && src.calls() >= n && q.lock().workers == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("read-ahead did not settle");
    }

    #[tokio::test(start_paused = true)]
    async fn one_worker_fetches_in_the_readers_order() {
        let (src, s) = stream_of(9);
        let q = Arc::new(ReadAheadQueue::default());
        q.push(&s, 1..5, 1);
        q.push(&s, 5..9, 1);
        settle(&q, &src, 8).await;
        assert_eq!(asked(&src, &s), (1..9).collect::<Vec<_>>());
        assert!((1..9).all(|i| s.is_decrypted(i)));
    }

    #[tokio::test(start_paused = true)]
    async fn no_blob_is_asked_before_a_nearer_one_has_been() {
        let (src, s) = stream_of(12);
        let q = Arc::new(ReadAheadQueue::default());
        q.push(&s, 1..12, 3);
        settle(&q, &src, 11).await;
        let order = asked(&src, &s);
        assert_eq!(order.len(), 11, "{order:?}");
        // With 3 workers, blob k is asked for while at most 2 nearer ones
        // are still being fetched: never more than 2 places early.
        for (pos, blob) in order.iter().enumerate() {
            assert!(*blob <= pos + 1 + 2, "blob {blob} asked {pos}th: {order:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_cleared_queue_starts_nothing_more() {
        let (src, s) = stream_of(8);
        let q = Arc::new(ReadAheadQueue::default());
        let first = s.descriptor().blobs()[1].hash;
        src.stall.lock().unwrap().push(first);
        q.push(&s, 1..8, 1);
        // The one worker is stuck on blob 1; the rest wait in the queue.
        while src.calls() == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(q.waiting(), 6);
        q.clear();
        assert_eq!(q.waiting(), 0);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(asked(&src, &s), vec![1]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stopped_queue_drops_its_fetch_and_starts_nothing_more() {
        let (src, s) = stream_of(8);
        let stop = CancellationToken::new();
        let q = Arc::new(ReadAheadQueue::new(stop.clone()));
        let first = s.descriptor().blobs()[1].hash;
        src.stall.lock().unwrap().push(first);
        q.push(&s, 1..8, 1);
        while src.calls() == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        stop.cancel();
        // The stalled fetch lasts a day: only the stop ends its worker.
        for _ in 0..100 {
            if q.lock().workers == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(q.lock().workers, 0, "the worker outlived the stop");
        q.push(&s, 1..8, 2);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(asked(&src, &s), vec![1], "nothing started after the stop");
    }
}
