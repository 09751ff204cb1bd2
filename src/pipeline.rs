//! An ordered parallel map over a stream of jobs, with bounded memory.
//!
//! Publishing (read → encrypt → hash → store) and offline reassembly
//! (read → verify → decrypt → write) have the same shape: a sequential
//! producer, CPU-heavy work that can run on every core, and a sequential
//! consumer that must see results in input order. At most `window` jobs exist
//! between the producer and the consumer at any time, so memory is bounded by
//! `window` × job size whatever the file size.
//!
//! Plain threads, not tokio: the work is CPU-bound and blocking file I/O.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Mutex;

/// Runs `work` over every job of `jobs` on `workers` threads and hands the
/// results to `sink` in input order. The first error (from the producer, a
/// worker or the sink) stops everything and is returned; no job is started
/// after it is seen.
pub fn ordered_map<T, R, E, I, F, S>(
    jobs: I,
    workers: usize,
    window: usize,
    work: F,
    mut sink: S,
) -> Result<(), E>
where
    I: Iterator<Item = Result<T, E>> + Send,
    T: Send,
    R: Send,
    E: Send,
    F: Fn(T) -> Result<R, E> + Sync,
    S: FnMut(R) -> Result<(), E>,
{
    let workers = workers.max(1);
    let window = window.max(workers);
    let (job_tx, job_rx) = sync_channel::<(usize, T)>(workers);
    let job_rx = Mutex::new(job_rx);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (res_tx, res_rx) = sync_channel::<(usize, Result<R, E>)>(window);
        // Tokens bound the number of jobs between producer and consumer.
        let (tok_tx, tok_rx) = sync_channel::<()>(window);
        for _ in 0..window {
            let _ = tok_tx.send(());
        }
        // However the consumer leaves, the other threads see `stop` and wind down.
        let _stop_on_exit = StopOnDrop(&stop);
        for _ in 0..workers {
            let res_tx = res_tx.clone();
            let (job_rx, stop, work) = (&job_rx, &stop, &work);
            scope.spawn(move || worker(job_rx, stop, work, res_tx));
        }
        let stop = &stop;
        scope.spawn(move || produce(jobs, &tok_rx, stop, &job_tx, &res_tx));
        consume(&res_rx, &tok_tx, &mut sink)
    })
}

/// Hands out jobs in order, each once a token says there is room for it
/// (so nothing is even read without room), until the jobs end, one fails
/// (its error goes to the consumer) or the others stop.
fn produce<T, R, E>(
    jobs: impl Iterator<Item = Result<T, E>>,
    tokens: &Receiver<()>,
    stop: &AtomicBool,
    to_workers: &SyncSender<(usize, T)>,
    to_consumer: &SyncSender<(usize, Result<R, E>)>,
) {
    let mut jobs = jobs.enumerate();
    loop {
        if tokens.recv().is_err() || stop.load(Ordering::Relaxed) {
            return;
        }
        let Some((i, job)) = jobs.next() else { return };
        let sent = match job {
            Ok(t) => to_workers.send((i, t)).is_ok(),
            Err(e) => {
                let _ = to_consumer.send((i, Err(e)));
                false
            }
        };
        if !sent {
            return;
        }
    }
}

/// Puts results back in input order for `sink`, giving a token back for
/// each one consumed; the first error ends it.
fn consume<R, E>(
    results: &Receiver<(usize, Result<R, E>)>,
    tokens: &SyncSender<()>,
    sink: &mut impl FnMut(R) -> Result<(), E>,
) -> Result<(), E> {
    let mut next = 0usize;
    let mut pending: BTreeMap<usize, R> = BTreeMap::new();
    for (i, r) in results.iter() {
        pending.insert(i, r?);
        while let Some(r) = pending.remove(&next) {
            sink(r)?;
            next += 1;
            let _ = tokens.send(());
        }
    }
    Ok(())
}

struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Takes jobs until the producer is done. After a stop it keeps draining
/// (without working) so a producer blocked on a full queue is released.
fn worker<T, R, E>(
    jobs: &Mutex<Receiver<(usize, T)>>,
    stop: &AtomicBool,
    work: &(impl Fn(T) -> Result<R, E> + Sync),
    out: SyncSender<(usize, Result<R, E>)>,
) {
    loop {
        // Hold the lock only to take a job, never while working.
        let next = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok((i, job)) = next else { return };
        if stop.load(Ordering::Relaxed) {
            continue;
        }
        let r = work(job);
        if r.is_err() {
            stop.store(true, Ordering::Relaxed);
        }
        let _ = out.send((i, r));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn results_arrive_in_order() {
        let mut out = Vec::new();
        let r: Result<(), ()> = ordered_map(
            (0..200u64).map(Ok),
            3,
            4,
            |x| {
                // Uneven work so results finish out of order.
                std::thread::sleep(std::time::Duration::from_micros((x % 7) * 50));
                Ok(x * 2)
            },
            |y| {
                out.push(y);
                Ok(())
            },
        );
        assert_eq!(r, Ok(()));
        assert_eq!(out, (0..200u64).map(|x| x * 2).collect::<Vec<_>>());
    }

    #[test]
    fn no_more_than_window_jobs_are_outstanding() {
        let produced = AtomicUsize::new(0);
        let consumed = AtomicUsize::new(0);
        let max_gap = AtomicUsize::new(0);
        let jobs = (0..100).map(|i| {
            produced.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>(i)
        });
        ordered_map(jobs, 2, 5, Ok, |_| {
            let gap = produced.load(Ordering::SeqCst) - consumed.load(Ordering::SeqCst);
            max_gap.fetch_max(gap, Ordering::SeqCst);
            consumed.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .unwrap();
        assert_eq!(consumed.load(Ordering::SeqCst), 100);
        assert!(
            max_gap.load(Ordering::SeqCst) <= 5,
            "gap {}",
            max_gap.load(Ordering::SeqCst)
        );
    }

    #[test]
    fn first_error_stops_everything() {
        let worked = AtomicUsize::new(0);
        let r = ordered_map(
            (0..10_000).map(Ok),
            2,
            4,
            |x: i32| {
                worked.fetch_add(1, Ordering::SeqCst);
                if x == 10 {
                    Err("boom")
                } else {
                    Ok(x)
                }
            },
            |_| Ok(()),
        );
        assert_eq!(r, Err("boom"));
        assert!(worked.load(Ordering::SeqCst) < 100);
    }

    #[test]
    fn producer_and_sink_errors_propagate() {
        let jobs = (0..10).map(|i| if i == 3 { Err("read failed") } else { Ok(i) });
        assert_eq!(ordered_map(jobs, 2, 2, Ok, |_| Ok(())), Err("read failed"));
        let r = ordered_map((0..10).map(Ok), 2, 2, Ok, |x| {
            if x == 5 {
                Err("disk full")
            } else {
                Ok(())
            }
        });
        assert_eq!(r, Err("disk full"));
    }

    #[test]
    fn empty_input_is_fine() {
        let r: Result<(), ()> =
            ordered_map(std::iter::empty::<Result<u8, ()>>(), 2, 2, Ok, |_| Ok(()));
        assert_eq!(r, Ok(()));
    }
}
