//! One job (hashing a file, or publishing it) on a blocking thread, and how
//! its outcome gets back.
//!
//! A publish is CPU-heavy and may take minutes (a hash, a good part of that), and [`SharePublisher`] has no
//! way to cancel one; so it runs on its own blocking thread while the driver
//! keeps scanning, and leaves its outcome in a [`Slot`]. If the driver stops
//! first, it marks the slot abandoned and the thread unpublishes the stream
//! itself when `publish` returns: nothing stays published that the manifest
//! does not record. A panicking `publish` counts as a failure, so the driver
//! never waits for an outcome that cannot come.

use super::state::{FileStamp, Outcome};
use super::{scan, SharePublisher};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::Notify;

/// Where a publish's thread leaves its outcome.
#[derive(Default)]
pub(super) struct Slot {
    state: Mutex<SlotState>,
    done: Notify,
}

#[derive(Default)]
enum SlotState {
    #[default]
    Running,
    Done(Outcome),
    /// The driver is gone: the thread must undo its publish itself.
    Abandoned,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Slot {
    /// Resolves once an outcome is there (maybe spuriously: check with [`take`](Self::take)).
    pub async fn done(&self) {
        self.done.notified().await;
    }

    /// The outcome, if the publish has ended.
    pub fn take(&self) -> Option<Outcome> {
        let mut state = lock(&self.state);
        match std::mem::take(&mut *state) {
            SlotState::Done(o) => Some(o),
            other => {
                *state = other;
                None
            }
        }
    }

    /// Gives up on the publish: its outcome if it has ended (to be recorded),
    /// else `None`, and the thread undoes the publish when it ends.
    pub fn abandon(&self) -> Option<Outcome> {
        match std::mem::replace(&mut *lock(&self.state), SlotState::Abandoned) {
            SlotState::Done(o) => Some(o),
            _ => None,
        }
    }
}

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Hash the file's content.
    Hash,
    /// Hash and publish it.
    Publish,
}

/// Runs `kind` on `dir/rel` on a blocking thread; the outcome arrives in the returned slot.
pub(super) fn spawn(
    publisher: Arc<dyn SharePublisher>,
    dir: &std::path::Path,
    rel: &std::path::Path,
    stamp: FileStamp,
    kind: Kind,
) -> Arc<Slot> {
    let slot = Arc::new(Slot::default());
    let finish = Finish {
        slot: slot.clone(),
        publisher,
        outcome: None,
    };
    let abs: PathBuf = dir.join(rel);
    let span = match kind {
        Kind::Hash => tracing::info_span!("hash", file = %rel.display()),
        Kind::Publish => tracing::info_span!("publish", file = %rel.display()),
    };
    // Waits its turn among the long jobs (`blocking::run_long`); the slot is
    // told however the job ends, a job dropped before its turn included.
    let job = crate::blocking::run_long(move || {
        let _enter = span.enter();
        // Dropped before `_enter`: the outcome is handed over inside the span.
        let mut finish = finish;
        finish.outcome = Some(run(&*finish.publisher, &abs, stamp, kind));
    });
    crate::task::spawn("share job", tracing::Span::current(), job);
    slot
}

/// The job itself (blocking). Whether the file changed meanwhile is for the
/// state machine to judge, from the stamp read after.
fn run(
    publisher: &dyn SharePublisher,
    abs: &std::path::Path,
    stamp: FileStamp,
    kind: Kind,
) -> Outcome {
    tracing::debug!(bytes = stamp.size, ?kind, "reading");
    let digest = match scan::digest_file(abs) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read; trying again when it changes or at the next rescan");
            return Outcome::Failed;
        }
    };
    if kind == Kind::Hash {
        let after = scan::stat_file(abs);
        return Outcome::Hashed { digest, after };
    }
    match publisher.publish(abs) {
        Ok(sd) => Outcome::Published {
            sd,
            digest,
            after: scan::stat_file(abs),
        },
        Err(e) => {
            tracing::warn!(
                error = %e,
                "cannot publish; trying again when it changes or at the next rescan"
            );
            Outcome::Failed
        }
    }
}

/// Hands the outcome over when the thread is done (also after a panic), or
/// undoes the publish if the driver is gone.
struct Finish {
    slot: Arc<Slot>,
    publisher: Arc<dyn SharePublisher>,
    outcome: Option<Outcome>,
}

impl Drop for Finish {
    fn drop(&mut self) {
        let outcome = self.outcome.take().unwrap_or(Outcome::Failed);
        let mut state = lock(&self.slot.state);
        if matches!(*state, SlotState::Abandoned) {
            drop(state);
            if let Outcome::Published { sd, .. } = outcome {
                self.publisher.unpublish(&sd);
                tracing::info!(sd = %sd.short(), "unpublished a stream finished after shutdown");
            }
        } else {
            *state = SlotState::Done(outcome);
            drop(state);
            self.slot.done.notify_one();
        }
    }
}
