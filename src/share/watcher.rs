//! Starting inotify (through `notify`) and telling its limits apart.
//!
//! inotify has per-user limits: watches (one per folder, so a deep share
//! folder can exhaust them) and instances. Reaching either is no reason to
//! stop sharing, but the user must hear that changes are now found late and
//! which sysctl to raise; [`fallback_warning`] says so.
//!
//! The events go to the driver through a bounded queue ([`EVENT_QUEUE`]): a
//! burst of changes (a folder of thousands of files copied in) must not
//! grow memory without limit. Like inotify's own queue overflow, events that
//! find it full are dropped and remembered as "missed", and the driver then
//! rescans the folder, which finds every change they would have announced.

use notify::{ErrorKind, RecursiveMode, Watcher};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Watcher events queued for the driver, at most.
pub(super) const EVENT_QUEUE: usize = 1024;

type Event = notify::Result<notify::Event>;

/// The watcher's side of the bounded event queue. Cheap to clone.
#[derive(Clone)]
pub(super) struct Events {
    tx: mpsc::Sender<Event>,
    missed: Arc<AtomicBool>,
}

impl Events {
    /// A queue of `EVENT_QUEUE` events and its receiving end.
    pub(super) fn channel() -> (Events, mpsc::Receiver<Event>) {
        let (tx, rx) = mpsc::channel(EVENT_QUEUE);
        let missed = Arc::default();
        (Events { tx, missed }, rx)
    }

    /// Queues `event`, or remembers that one was missed if the queue is full.
    fn send(&self, event: Event) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(event) {
            self.missed.store(true, Ordering::Relaxed);
        }
        // Closed: the driver is gone only at shutdown, when events no longer matter.
    }

    /// Whether events were dropped since the last call (then rescan).
    pub(super) fn take_missed(&self) -> bool {
        self.missed.swap(false, Ordering::Relaxed)
    }
}

/// A recursive watcher on `dir` sending every event (and error) to `tx`. Blocking:
/// adding the watches walks the whole tree.
pub(super) fn start(dir: &Path, tx: Events) -> notify::Result<notify::RecommendedWatcher> {
    let mut w = notify::recommended_watcher(move |event| tx.send(event))?;
    w.watch(dir, RecursiveMode::Recursive)?;
    Ok(w)
}

fn io_errno(e: &notify::Error) -> Option<i32> {
    match &e.kind {
        ErrorKind::Io(io) => io.raw_os_error(),
        _ => None,
    }
}

/// Whether `e` means the per-user inotify watch limit is reached
/// (`notify` reports ENOSPC from `inotify_add_watch` as `MaxFilesWatch`).
pub(super) fn is_watch_limit(e: &notify::Error) -> bool {
    matches!(e.kind, ErrorKind::MaxFilesWatch) || io_errno(e) == Some(libc::ENOSPC)
}

/// The warning given when the share folder falls back to rescans every `every`.
pub(super) fn fallback_warning(e: &notify::Error, every: Duration) -> String {
    let cause = if is_watch_limit(e) {
        "the system's inotify watch limit is reached (fs.inotify.max_user_watches); \
         raise it, e.g. as root: sysctl fs.inotify.max_user_watches=524288 \
         (and put that line in /etc/sysctl.d/ to keep it)"
            .to_owned()
    } else if io_errno(e) == Some(libc::EMFILE) {
        "the system's inotify instance limit is reached (fs.inotify.max_user_instances); \
         raise it, e.g. as root: sysctl fs.inotify.max_user_instances=1024"
            .to_owned()
    } else {
        format!("the watcher failed: {e}")
    };
    format!(
        "cannot watch the share folder for changes: {cause}. Until then it is rescanned \
         every {every:?}, so new files are noticed late"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_drops_events_and_says_so() {
        let (tx, mut rx) = Events::channel();
        for _ in 0..EVENT_QUEUE + 10 {
            tx.send(Ok(notify::Event::default()));
        }
        assert!(tx.take_missed(), "the overflow is remembered");
        assert!(!tx.take_missed(), "and reported once");
        let mut queued = 0;
        while rx.try_recv().is_ok() {
            queued += 1;
        }
        assert_eq!(queued, EVENT_QUEUE);
    }
}
