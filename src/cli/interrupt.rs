//! Ctrl-C, SIGTERM and SIGHUP during a one-shot command that writes a file.
//!
//! The default action of these signals kills the process at once, and
//! destructors do not run, so a `get` would leave its part file behind. Here
//! the signal ends the command instead: the part files it is writing are
//! removed, then the process dies of the same signal (so a shell or service
//! manager sees what happened). Blobs already fetched are complete files in
//! the store and stay there, so running the command again resumes.
//!
//! A one-shot `publish` is cancelled instead ([`cancel_on_signal`]): it stops
//! between chunks and discards its blobs, then the process dies of the signal.

use std::future::Future;
use tokio::signal::unix::{signal, SignalKind};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Runs `work`; if a terminating signal arrives first, cleans up and dies of it.
pub async fn until_signal<T>(work: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let sig = tokio::select! {
        r = work => return r,
        _ = int.recv() => libc::SIGINT,
        _ = term.recv() => libc::SIGTERM,
        _ = hup.recv() => libc::SIGHUP,
    };
    crate::output::remove_live_parts();
    eprintln!(
        "lbrymount: interrupted; the blobs fetched so far stay in the store, so the same command resumes"
    );
    die_of(sig)
}

/// Runs blocking `work` that watches `cancel`; if a terminating signal
/// arrives first, cancels it, gives it a moment to wind down (a publish
/// discards what it stored), and dies of the signal.
pub async fn cancel_on_signal<T>(
    mut work: JoinHandle<anyhow::Result<T>>,
    cancel: CancellationToken,
) -> anyhow::Result<T> {
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let sig = tokio::select! {
        r = &mut work => return r?,
        _ = int.recv() => libc::SIGINT,
        _ = term.recv() => libc::SIGTERM,
        _ = hup.recv() => libc::SIGHUP,
    };
    cancel.cancel();
    if tokio::time::timeout(crate::node::STOP_GRACE, work)
        .await
        .is_err()
    {
        tracing::warn!("the interrupted work did not stop in time");
    }
    eprintln!("lbrymount: interrupted; the file being published was not published");
    die_of(sig)
}

fn die_of(sig: i32) -> ! {
    // SAFETY: restoring the default action and raising a signal have no
    // preconditions; the default action of these signals ends the process.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
    std::process::exit(128 + sig)
}
