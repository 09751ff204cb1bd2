//! Named tasks that log how they ended (finished, cancelled or panicked), so a
//! transfer that vanished can be told from one that failed.
//!
//! The one spawner of the crate: every background task goes through here, so
//! every task has a name and runs inside a span that carries its identity
//! (docs/architecture.md §4, rule 9). It sits at the bottom of the house and
//! knows nothing of the modules that use it.

use std::fmt::{Debug, Display};
use std::future::Future;
use tokio::task::{AbortHandle, JoinHandle, JoinSet};
use tracing::Instrument;

/// Spawns `fut` on the runtime as task `name`, inside `span`.
pub(crate) fn spawn<F>(name: &'static str, span: tracing::Span, fut: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(logged(name, fut).instrument(span))
}

/// Spawns `fut` into `set` as task `name`, inside `span`.
pub(crate) fn spawn_in<T, F>(
    set: &mut JoinSet<T>,
    name: &'static str,
    span: tracing::Span,
    fut: F,
) -> AbortHandle
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    set.spawn(logged(name, fut).instrument(span))
}

/// Spawns into `set` as task `name`, inside `span`, a future that ends with a
/// `Result`, and logs at debug how it ended: its `Ok` value or its error.
pub(crate) fn spawn_reporting_in<F, T, E>(
    set: &mut JoinSet<()>,
    name: &'static str,
    span: tracing::Span,
    fut: F,
) -> AbortHandle
where
    F: Future<Output = Result<T, E>> + Send + 'static,
    T: Debug,
    E: Display,
{
    spawn_in(set, name, span, async move {
        match fut.await {
            Ok(end) => tracing::debug!(task = name, ?end, "task ended"),
            Err(e) => tracing::debug!(task = name, error = %e, "task failed"),
        }
    })
}

async fn logged<F: Future>(name: &'static str, fut: F) -> F::Output {
    let mut end = EndLog { name, done: false };
    tracing::trace!(task = name, "task started");
    let out = fut.await;
    end.done = true;
    tracing::trace!(task = name, "task finished");
    out
}

/// Logs, when dropped before the task finished, whether it was cancelled or panicked.
struct EndLog {
    name: &'static str,
    done: bool,
}

impl Drop for EndLog {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if std::thread::panicking() {
            tracing::error!(task = self.name, "task panicked");
        } else {
            tracing::debug!(task = self.name, "task cancelled");
        }
    }
}
