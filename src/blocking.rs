//! Caps on blocking work: every job the node hands to tokio's blocking pool
//! goes through here.
//!
//! Store reads and writes, decryption, folder scans, state files and the
//! answers to `ls` and `status` run on tokio's blocking pool (they would
//! stall the async threads). That pool grows to 512 threads and queues
//! without limit beyond, so peers asking for blobs, fetches for a busy
//! mount, or many control requests could pile up blocking jobs faster than
//! the disk and cores do them. [`run`] makes a job wait (asynchronously,
//! holding no thread) for one of [`limit`] permits first.
//!
//! Jobs that take minutes (a publish, hashing a whole shared file) have
//! their own, smaller cap ([`run_long`]): they wait for each other, and never
//! for the permits of the short jobs a reader waits on, nor take them.
//! Start-up (opening the store) and the one-shot commands of `cli/` use
//! `spawn_blocking` directly: one job at a time, bounded by their structure.

use std::sync::{Arc, OnceLock};
use tokio::sync::Semaphore;
use tokio::task::JoinError;

/// Short blocking jobs that run at once: twice the cores (each job is part
/// CPU, part waiting on the disk), at least 4.
pub(crate) fn limit() -> usize {
    (2 * cores()).max(4)
}

/// Long jobs (publishes, hashing) that run at once: one per core, at least
/// 2. A publish spreads over every core itself (`pipeline`).
pub(crate) fn long_limit() -> usize {
    cores().max(2)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

fn permits() -> Arc<Semaphore> {
    static PERMITS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    PERMITS
        .get_or_init(|| Arc::new(Semaphore::new(limit())))
        .clone()
}

fn long_permits() -> Arc<Semaphore> {
    static PERMITS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    PERMITS
        .get_or_init(|| Arc::new(Semaphore::new(long_limit())))
        .clone()
}

/// Like `tokio::task::spawn_blocking(f).await`, once a permit is free: for
/// jobs of milliseconds to seconds (store, decryption, scans, state files).
pub(crate) async fn run<F, R>(f: F) -> Result<R, JoinError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    run_with(permits(), f).await
}

/// [`run`] for jobs that may take minutes (a publish, hashing a file), under
/// [`long_limit`]. Once started, a job runs to its end even if the future
/// is dropped, as with `spawn_blocking`.
pub(crate) async fn run_long<F, R>(f: F) -> Result<R, JoinError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    run_with(long_permits(), f).await
}

async fn run_with<F, R>(permits: Arc<Semaphore>, f: F) -> Result<R, JoinError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    // The semaphores are never closed, so a permit always comes.
    let permit = permits.acquire_owned().await.ok();
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn long_jobs_never_hold_up_short_ones() {
        // Every long permit taken by a job that waits for a short one.
        let (release, released) = tokio::sync::watch::channel(false);
        let long: Vec<_> = (0..long_limit() + 1)
            .map(|_| {
                let mut released = released.clone();
                tokio::spawn(run_long(move || {
                    let wait = released.wait_for(|r| *r);
                    let _ = tokio::runtime::Handle::current().block_on(wait);
                }))
            })
            .collect();
        let short = tokio::time::timeout(std::time::Duration::from_secs(10), run(|| 7));
        assert_eq!(short.await.expect("a short job ran").unwrap(), 7);
        release.send(true).unwrap();
        for j in long {
            j.await.unwrap().unwrap();
        }
    }
}
