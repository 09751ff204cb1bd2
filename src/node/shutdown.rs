//! The node's cancellation tree: one root token, a child for each part that
//! runs in the background (publishes, the announcer), and a tracker of the
//! tasks, so shutdown is prompt and orderly (as in mini-redis' `shutdown.rs`
//! and rqbit's session).
//!
//! Why: without it, a signal waited for whatever was running to end by
//! itself: a share-folder publish of a big file held SIGTERM for as long as
//! the publish took, and the runtime then waited for its blocking threads.
//! Now [`Lifecycle::stop`] cancels every child at once, and waits for the
//! tracked tasks only up to a deadline: a part that does not stop in time is
//! left behind (its work is crash-safe: blobs are renamed into place whole),
//! rather than holding the process.

use std::future::Future;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long [`Lifecycle::stop`] waits for cancelled tasks to end, and the
/// runtime for its blocking threads: together well within the 2 s a
/// service manager (or a user at a terminal) should wait for a signalled node.
pub const STOP_GRACE: Duration = Duration::from_millis(700);

/// The root of the node's cancellation tree and the tasks it tracks.
#[derive(Debug, Default, Clone)]
pub struct Lifecycle {
    root: CancellationToken,
    tasks: TaskTracker,
}

impl Lifecycle {
    pub fn new() -> Self {
        Self::default()
    }

    /// A token cancelled when the node stops (for blocking work that checks it).
    pub fn token(&self) -> CancellationToken {
        self.root.child_token()
    }

    /// `fut`, ended early when the node stops, and waited for by [`stop`](Self::stop).
    pub fn track<F>(&self, fut: F) -> impl Future<Output = ()> + Send + 'static
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let token = self.token();
        self.tasks.track_future(async move {
            tokio::select! {
                () = token.cancelled() => {}
                () = fut => {}
            }
        })
    }

    /// `fut`, which watches a [`token`](Self::token) itself (to clean up
    /// when the node stops), waited for by [`stop`](Self::stop) like the rest.
    pub fn track_self_stopping<F>(&self, fut: F) -> impl Future<Output = ()> + Send + 'static
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tasks.track_future(fut)
    }

    /// Cancels every child, then waits up to `grace` for the tracked tasks
    /// to end; `false` if some were still running then.
    pub async fn stop(&self, grace: Duration) -> bool {
        self.root.cancel();
        self.tasks.close();
        let ended = tokio::time::timeout(grace, self.tasks.wait()).await.is_ok();
        if !ended {
            tracing::warn!(
                tasks = self.tasks.len(),
                "background tasks did not stop in time; leaving them"
            );
        }
        ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stop_cancels_tracked_tasks_and_children() {
        let life = Lifecycle::new();
        let child = life.token();
        let task = tokio::spawn(life.track(std::future::pending()));
        assert!(life.stop(Duration::from_secs(5)).await, "the task ended");
        assert!(child.is_cancelled());
        task.await.unwrap();
    }

    #[tokio::test]
    async fn stop_gives_up_on_a_task_that_does_not_end() {
        let life = Lifecycle::new();
        // Tracked but never cancelled: it ignores the tree.
        let stuck = life.tasks.track_future(std::future::pending::<()>());
        let _task = tokio::spawn(stuck);
        assert!(!life.stop(Duration::from_millis(100)).await);
    }
}
