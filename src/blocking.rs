//! A cap on blocking work started from the network.
//!
//! Store reads and writes, and decryption, run on tokio's blocking pool
//! (they would stall the async threads). That pool grows to 512 threads and
//! queues without limit beyond, so peers asking for blobs, or fetches for a
//! busy mount, could pile up blocking jobs faster than the disk and cores
//! do them. [`run`] makes a job wait (asynchronously, holding no thread)
//! for one of [`limit`] permits first; the rest of the node (its own
//! publishes, the share folder, start-up and shutdown) uses
//! `spawn_blocking` directly and is bounded by its own structure.

use std::sync::{Arc, OnceLock};
use tokio::sync::Semaphore;
use tokio::task::JoinError;

/// Blocking jobs from the network that run at once: twice the cores (each
/// job is part CPU, part waiting on the disk), at least 4.
pub(crate) fn limit() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (2 * cores).max(4)
}

fn permits() -> Arc<Semaphore> {
    static PERMITS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    PERMITS
        .get_or_init(|| Arc::new(Semaphore::new(limit())))
        .clone()
}

/// Like `tokio::task::spawn_blocking(f).await`, once a permit is free.
pub(crate) async fn run<F, R>(f: F) -> Result<R, JoinError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    // The semaphore is never closed, so a permit always comes.
    let permit = permits().acquire_owned().await.ok();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        f()
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_than_the_limit_run_at_once() {
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        // Each job lingers, so uncapped they would all overlap.
        let jobs: Vec<_> = (0..limit() * 3)
            .map(|_| {
                let (running, most) = (running.clone(), most.clone());
                tokio::spawn(run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                }))
            })
            .collect();
        for j in jobs {
            j.await.unwrap().unwrap();
        }
        let most = most.load(Ordering::SeqCst);
        assert!(most <= limit(), "{most} ran at once, limit {}", limit());
    }
}
