//! Reads that just failed, so that the kernel's retry of the same range fails
//! at once instead of waiting out the read timeout a second time.
//!
//! When a read fails, the kernel asks again for the page it was after (a
//! read-ahead failure is retried as a plain read). Served normally, that
//! retry waits the whole read timeout again, and the reader sees twice the
//! timeout it asked for. A range whose read waited out most of the timeout
//! and failed less than `window` ago therefore fails again at once with the
//! same reason (the caller records only such slow failures: a quick failure
//! is as quick the second time). The window is short: a reader who tries
//! again later gets a fresh attempt.
//!
//! PURE: takes `now`, so the window is tested without a clock.

use crate::hash::SdHash;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Failures remembered at most (the oldest go first).
const KEPT: usize = 64;

/// How long a failed range fails retries at once.
pub(super) const RETRY_WINDOW: Duration = Duration::from_secs(1);

struct Failure<K> {
    sd: K,
    start: u64,
    end: u64,
    at: Instant,
    reason: String,
}

/// Recently failed byte ranges of streams.
pub(super) struct RecentFailures<K = SdHash> {
    window: Duration,
    list: VecDeque<Failure<K>>,
}

impl<K: PartialEq> RecentFailures<K> {
    pub(super) fn new(window: Duration) -> Self {
        Self {
            window,
            list: VecDeque::new(),
        }
    }

    /// A read of `len` bytes at `offset` of `sd` failed at `now` for `reason`.
    pub(super) fn record(&mut self, sd: K, offset: u64, len: u64, reason: &str, now: Instant) {
        self.forget_old(now);
        if self.list.len() == KEPT {
            self.list.pop_front();
        }
        self.list.push_back(Failure {
            sd,
            start: offset,
            end: offset.saturating_add(len.max(1)),
            at: now,
            reason: reason.to_owned(),
        });
    }

    /// The reason a read overlapping a range that failed within the window
    /// failed, if one did.
    pub(super) fn recent(&mut self, sd: K, offset: u64, len: u64, now: Instant) -> Option<String> {
        self.forget_old(now);
        let end = offset.saturating_add(len.max(1));
        self.list
            .iter()
            .rev()
            .find(|f| f.sd == sd && f.start < end && offset < f.end)
            .map(|f| f.reason.clone())
    }

    fn forget_old(&mut self, now: Instant) {
        let window = self.window;
        self.list
            .retain(|f| now.saturating_duration_since(f.at) < window);
    }
}

impl super::Vfs {
    /// An EIO whose reason is logged and kept: `stream SD: OP failed: WHY`.
    pub(super) fn io_error(
        &self,
        sd: crate::hash::SdHash,
        op: &str,
        why: String,
    ) -> super::FsError {
        let reason = format!("stream {sd}: {op} failed: {why}");
        self.record(reason.clone());
        super::FsError::Io(reason)
    }

    pub(super) fn record(&self, reason: String) {
        tracing::warn!("{reason}");
        let mut e = self
            .errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if e.len() == super::RECENT_ERRORS {
            e.pop_front();
        }
        e.push_back((std::time::SystemTime::now(), reason));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sd(n: u8) -> SdHash {
        SdHash::from(crate::hash::BlobHash::digest(&[n]))
    }

    #[test]
    fn an_overlapping_retry_within_the_window_fails_with_the_same_reason() {
        let t = Instant::now();
        let mut f = RecentFailures::new(Duration::from_secs(1));
        f.record(sd(1), 4096, 1 << 20, "peer gone", t);
        let soon = t + Duration::from_millis(10);
        assert_eq!(
            f.recent(sd(1), 4096, 4096, soon).as_deref(),
            Some("peer gone")
        );
        assert_eq!(f.recent(sd(1), 0, 8192, soon).as_deref(), Some("peer gone"));
        // Before the range, after it, or another stream: a fresh attempt.
        assert_eq!(f.recent(sd(1), 0, 4096, soon), None);
        assert_eq!(f.recent(sd(1), 4096 + (1 << 20), 10, soon), None);
        assert_eq!(f.recent(sd(2), 4096, 4096, soon), None);
        // Once the window has passed, the range is tried again.
        assert_eq!(
            f.recent(sd(1), 4096, 4096, t + Duration::from_secs(1)),
            None
        );
    }

    #[test]
    fn the_list_stays_bounded() {
        let t = Instant::now();
        let mut f = RecentFailures::new(Duration::from_secs(60));
        for i in 0..1000u64 {
            f.record(sd(1), i * 10, 10, "x", t);
        }
        assert_eq!(f.list.len(), KEPT);
        assert_eq!(f.recent(sd(1), 0, 10, t), None, "the oldest went first");
        assert!(f.recent(sd(1), 9990, 10, t).is_some());
    }
}
