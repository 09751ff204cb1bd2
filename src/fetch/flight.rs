//! Single flight: at most one transfer per blob, whose one result (blob or
//! error) goes to every caller that asked while it ran.
//!
//! The first caller becomes the *leader*: it gets a [`Leader`] to hand to the
//! spawned transfer task, and everybody (leader included) gets a [`Waiter`].
//! Waiters only watch; a caller that gives up drops its waiter and nothing
//! else happens. The transfer task owns the leader, so the transfer outlives
//! any caller; when the task ends without a result (panic, shutdown) the
//! leader's drop closes the channel and the waiters get
//! [`FetchError::Interrupted`] instead of hanging.
//!
//! A flight also carries an *urgent* flag: a bulk prefetch that a reader
//! starts waiting for becomes urgent, which lets the transfer hedge.
//!
//! A fetched blob is *delivered* (verified, in memory) before it is stored
//! (a 2 MiB disk write, milliseconds on a slow disk): a reader that only
//! needs the bytes ([`Waiter::wait_shared`]) goes on at delivery, while
//! [`Waiter::wait`] returns once the flight is over, blob stored.

use super::FetchError;
use crate::blob::VerifiedBlob;
use crate::hash::BlobHash;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::watch;

/// Where a flight is. The blob is shared so that many waiters cost no
/// copies of it; the last one to take it gets the blob itself (see
/// [`Waiter::wait`]).
#[derive(Clone)]
enum Outcome {
    Running,
    /// Verified and handed to readers; being stored.
    Delivered(Arc<VerifiedBlob>),
    /// Over: stored (or served from the store), or failed.
    Done(Result<Arc<VerifiedBlob>, FetchError>),
}

/// The blobs being transferred right now.
#[derive(Default)]
pub(crate) struct Flights {
    map: Mutex<HashMap<BlobHash, Entry>>,
    next_id: AtomicU64,
}

/// The map holds the only sender of a flight's outcome: removing the entry
/// closes the channel, so no waiter outlives its flight.
struct Entry {
    id: u64,
    outcome: watch::Sender<Outcome>,
    urgent: watch::Sender<bool>,
}

/// Joining a flight: either it was already running, or the caller must start it.
pub(crate) enum Join {
    Running(Waiter),
    Start(Waiter, Leader),
}

impl Flights {
    fn lock(&self) -> MutexGuard<'_, HashMap<BlobHash, Entry>> {
        // Every update of the map is a single insert or remove: a panic cannot leave it half done.
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Joins the flight for `hash`, creating it if none runs.
    pub(crate) fn join(self: &Arc<Self>, hash: BlobHash, urgent: bool) -> Join {
        let mut map = self.lock();
        if let Some(e) = map.get(&hash) {
            if urgent {
                raise(&e.urgent);
            }
            let outcome = e.outcome.subscribe();
            return Join::Running(Waiter { hash, outcome });
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (outcome, rx) = watch::channel(Outcome::Running);
        let (urgent, urgent_rx) = watch::channel(urgent);
        map.insert(
            hash,
            Entry {
                id,
                outcome,
                urgent,
            },
        );
        let waiter = Waiter { hash, outcome: rx };
        let leader = Leader {
            flights: Arc::clone(self),
            hash,
            id,
            urgent: urgent_rx,
        };
        Join::Start(waiter, leader)
    }

    /// How many callers wait on the flight for `hash` (0 if none runs).
    #[cfg(test)]
    pub(crate) fn waiters(&self, hash: &BlobHash) -> usize {
        self.lock()
            .get(hash)
            .map_or(0, |e| e.outcome.receiver_count())
    }
}

fn raise(flag: &watch::Sender<bool>) {
    flag.send_if_modified(|u| !std::mem::replace(u, true));
}

/// One caller's view of a flight.
pub(crate) struct Waiter {
    hash: BlobHash,
    outcome: watch::Receiver<Outcome>,
}

impl Waiter {
    /// Waits for the end of the flight: the blob stored (or found in the
    /// store), or the error. A finished flight has dropped its sender, so
    /// the only waiter (the common case) holds the last reference once its
    /// receiver is gone and takes the blob without copying 2 MiB.
    pub(crate) async fn wait(mut self) -> Result<VerifiedBlob, FetchError> {
        let hash = self.hash;
        let outcome = match self
            .outcome
            .wait_for(|o| matches!(o, Outcome::Done(_)))
            .await
        {
            Ok(r) => r.clone(),
            Err(_) => Outcome::Running,
        };
        drop(self.outcome);
        match outcome {
            Outcome::Done(Ok(blob)) => Ok(Arc::try_unwrap(blob).unwrap_or_else(|b| (*b).clone())),
            Outcome::Done(Err(e)) => Err(e),
            _ => Err(FetchError::Interrupted { hash }),
        }
    }

    /// Waits for the blob only: returns at delivery, possibly before the
    /// blob is stored (see the module docs).
    pub(crate) async fn wait_shared(mut self) -> Result<Arc<VerifiedBlob>, FetchError> {
        let hash = self.hash;
        let outcome = match self
            .outcome
            .wait_for(|o| !matches!(o, Outcome::Running))
            .await
        {
            Ok(r) => r.clone(),
            Err(_) => Outcome::Running,
        };
        match outcome {
            Outcome::Delivered(blob) | Outcome::Done(Ok(blob)) => Ok(blob),
            Outcome::Done(Err(e)) => Err(e),
            Outcome::Running => Err(FetchError::Interrupted { hash }),
        }
    }
}

/// The right and duty to finish a flight; owned by the transfer task.
pub(crate) struct Leader {
    flights: Arc<Flights>,
    hash: BlobHash,
    id: u64,
    /// Becomes `true` when a waiter needs the blob urgently.
    pub(crate) urgent: watch::Receiver<bool>,
}

impl Leader {
    /// Hands the verified blob to the waiters that need only its bytes; the
    /// flight goes on (the blob is being stored) until [`finish`](Self::finish).
    pub(crate) fn deliver(&self, blob: Arc<VerifiedBlob>) {
        let map = self.flights.lock();
        if let Some(e) = map.get(&self.hash).filter(|e| e.id == self.id) {
            e.outcome.send_replace(Outcome::Delivered(blob));
        }
    }

    /// Hands the result to every waiter and ends the flight.
    pub(crate) fn finish(self, result: Result<Arc<VerifiedBlob>, FetchError>) {
        let mut map = self.flights.lock();
        if map.get(&self.hash).is_some_and(|e| e.id == self.id) {
            if let Some(e) = map.remove(&self.hash) {
                // Published and removed under the lock: a caller either joined
                // before and gets this result, or starts a new flight after.
                // Dropping the sender here closes the channel once the value is in.
                e.outcome.send_replace(Outcome::Done(result));
            }
        }
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        let mut map = self.flights.lock();
        if map.get(&self.hash).is_some_and(|e| e.id == self.id) {
            map.remove(&self.hash);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(f: &Arc<Flights>, hash: BlobHash, urgent: bool) -> (Waiter, Leader) {
        match f.join(hash, urgent) {
            Join::Start(w, l) => (w, l),
            Join::Running(_) => panic!("expected a new flight"),
        }
    }

    fn running(f: &Arc<Flights>, hash: BlobHash, urgent: bool) -> Waiter {
        match f.join(hash, urgent) {
            Join::Running(w) => w,
            Join::Start(..) => panic!("expected a running flight"),
        }
    }

    #[tokio::test]
    async fn every_waiter_gets_the_one_result_then_the_flight_is_gone() {
        let f = Arc::new(Flights::default());
        let blob = VerifiedBlob::from_bytes(b"abc".to_vec());
        let hash = *blob.hash();
        let (w1, leader) = start(&f, hash, false);
        let w2 = running(&f, hash, false);
        assert_eq!(f.waiters(&hash), 2);
        drop(w2);
        let w3 = running(&f, hash, false);
        leader.finish(Ok(Arc::new(blob.clone())));
        assert_eq!(w1.wait().await.unwrap(), blob);
        assert_eq!(w3.wait().await.unwrap(), blob);
        assert_eq!(f.waiters(&hash), 0);
        let (_w, _leader) = start(&f, hash, false);
    }

    #[tokio::test]
    async fn a_single_waiter_gets_the_blob_without_a_copy() {
        let f = Arc::new(Flights::default());
        let blob = VerifiedBlob::from_bytes(vec![5; 1000]);
        let (hash, bytes) = (*blob.hash(), blob.data().as_ptr());
        let (w, leader) = start(&f, hash, false);
        leader.finish(Ok(Arc::new(blob)));
        assert_eq!(f.waiters(&hash), 0);
        assert_eq!(w.wait().await.unwrap().data().as_ptr(), bytes);
    }

    #[tokio::test]
    async fn a_delivered_blob_reaches_shared_waiters_before_the_flight_ends() {
        let f = Arc::new(Flights::default());
        let blob = Arc::new(VerifiedBlob::from_bytes(vec![7; 1000]));
        let hash = *blob.hash();
        let (shared, leader) = start(&f, hash, false);
        let stored = running(&f, hash, false);
        let stored = tokio::spawn(stored.wait());
        leader.deliver(blob.clone());
        // Delivered: the bytes are there, the same allocation, no copy.
        let got = shared.wait_shared().await.unwrap();
        assert!(Arc::ptr_eq(&got, &blob));
        // A caller joining now gets the delivered blob at once too.
        let late = running(&f, hash, false).wait_shared().await.unwrap();
        assert!(Arc::ptr_eq(&late, &blob));
        // The flight is not over: whoever waits for the stored blob still waits.
        tokio::task::yield_now().await;
        assert!(!stored.is_finished());
        assert_eq!(f.waiters(&hash), 1);
        leader.finish(Ok(blob.clone()));
        assert_eq!(stored.await.unwrap().unwrap(), *blob);
        assert_eq!(f.waiters(&hash), 0);
    }

    #[tokio::test]
    async fn a_flight_lost_after_delivery_fails_waiters_for_the_stored_blob() {
        let f = Arc::new(Flights::default());
        let blob = Arc::new(VerifiedBlob::from_bytes(vec![8; 10]));
        let hash = *blob.hash();
        let (w, leader) = start(&f, hash, false);
        let shared = running(&f, hash, false);
        leader.deliver(blob);
        drop(leader);
        assert!(shared.wait_shared().await.is_ok());
        assert!(matches!(
            w.wait().await,
            Err(FetchError::Interrupted { .. })
        ));
    }

    #[tokio::test]
    async fn errors_are_shared_and_a_lost_leader_does_not_hang_waiters() {
        let f = Arc::new(Flights::default());
        let hash = BlobHash::digest(b"x");
        let (w1, leader) = start(&f, hash, false);
        let w2 = running(&f, hash, false);
        leader.finish(Err(FetchError::NoPeers { hash, why: None }));
        assert!(matches!(w1.wait().await, Err(FetchError::NoPeers { .. })));
        assert!(matches!(w2.wait().await, Err(FetchError::NoPeers { .. })));

        let (w, leader) = start(&f, hash, false);
        drop(leader);
        assert!(matches!(
            w.wait().await,
            Err(FetchError::Interrupted { .. })
        ));
    }

    #[tokio::test]
    async fn urgency_reaches_the_leader() {
        let f = Arc::new(Flights::default());
        let hash = BlobHash::digest(b"y");
        let (_w, mut leader) = start(&f, hash, false);
        assert!(!*leader.urgent.borrow());
        let _w2 = running(&f, hash, false);
        assert!(!*leader.urgent.borrow());
        let _w3 = running(&f, hash, true);
        leader.urgent.changed().await.unwrap();
        assert!(*leader.urgent.borrow_and_update());
        let _w4 = running(&f, hash, true);
        assert!(!leader.urgent.has_changed().unwrap());
    }
}
