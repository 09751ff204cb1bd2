//! Starting inotify (through `notify`) and telling its limits apart.
//!
//! inotify has per-user limits: watches (one per folder, so a deep share
//! folder can exhaust them) and instances. Reaching either is no reason to
//! stop sharing, but the user must hear that changes are now found late and
//! which sysctl to raise; [`fallback_warning`] says so.

use notify::{ErrorKind, RecursiveMode, Watcher};
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc;

pub(super) type Events = mpsc::UnboundedSender<notify::Result<notify::Event>>;

/// A recursive watcher on `dir` sending every event (and error) to `tx`. Blocking:
/// adding the watches walks the whole tree.
pub(super) fn start(dir: &Path, tx: Events) -> notify::Result<notify::RecommendedWatcher> {
    let mut w = notify::recommended_watcher(move |event| {
        // The driver is gone only at shutdown, when events no longer matter.
        let _ = tx.send(event);
    })?;
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
