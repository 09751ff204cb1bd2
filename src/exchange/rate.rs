//! Upload and download rate limits (`--max-upload-rate`, `--max-download-rate`):
//! one token bucket per direction, shared by every connection of the process.
//!
//! [`Bucket`] is the pure part: it takes `now` and is tested on its own. It
//! runs on debt: a sender waits until the bucket is not in debt, sends what
//! the socket takes, then is charged exactly that, so partial sends and short
//! reads cost what they moved and the long-run rate is exact. The burst is a
//! tenth of a second's worth (at least 16 KiB), so a limit holds over any
//! window longer than that.
//!
//! [`Throttle`] wraps a bucket for async callers. The two throttles are
//! process-wide statics rather than parts threaded through every constructor:
//! one node runs per process, and the control socket changes a limit while
//! the blob server and the fetcher use it. A limit of 0 means unlimited, and
//! an unlimited throttle costs one atomic load per call.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The smallest burst, so a low limit still moves whole TCP segments.
const MIN_BURST: f64 = 16.0 * 1024.0;
/// Largest piece moved at once while limited, so waits stay short and even.
pub const LIMITED_CHUNK: usize = 64 * 1024;

/// A token bucket in bytes. Pure: every method takes `now`.
#[derive(Debug, Clone)]
pub struct Bucket {
    /// Bytes per second; 0 is unlimited.
    rate: u64,
    /// Available bytes; negative is debt.
    tokens: f64,
    last: Instant,
}

impl Bucket {
    pub fn new(rate: u64, now: Instant) -> Bucket {
        Bucket {
            rate,
            tokens: 0.0,
            last: now,
        }
    }

    pub fn rate(&self) -> u64 {
        self.rate
    }

    fn burst(&self) -> f64 {
        (self.rate as f64 / 10.0).max(MIN_BURST)
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + dt * self.rate as f64).min(self.burst());
    }

    /// How long to wait before moving more bytes (zero when not in debt).
    pub fn wait(&mut self, now: Instant) -> Duration {
        if self.rate == 0 {
            return Duration::ZERO;
        }
        self.refill(now);
        if self.tokens >= 0.0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64(-self.tokens / self.rate as f64)
    }

    /// `n` bytes were moved.
    pub fn charge(&mut self, now: Instant, n: u64) {
        if self.rate == 0 {
            return;
        }
        self.refill(now);
        self.tokens -= n as f64;
    }

    /// A new limit from now on; the debt is forgiven (a lower limit must
    /// not stall for what was moved under the higher one).
    pub fn set_rate(&mut self, now: Instant, rate: u64) {
        self.refill(now);
        self.rate = rate;
        self.tokens = self.tokens.clamp(0.0, self.burst());
    }
}

/// A bucket shared by async tasks.
pub struct Throttle {
    /// Mirrors the bucket's rate, read without the lock.
    rate: AtomicU64,
    bucket: Mutex<Option<Bucket>>,
}

impl Throttle {
    const fn new() -> Throttle {
        Throttle {
            rate: AtomicU64::new(0),
            bucket: Mutex::new(None),
        }
    }

    /// The limit in bytes per second; 0 is unlimited.
    pub fn rate(&self) -> u64 {
        self.rate.load(Ordering::Relaxed)
    }

    pub fn set_rate(&self, rate: u64) {
        let now = Instant::now();
        let mut b = self.lock();
        b.get_or_insert_with(|| Bucket::new(rate, now))
            .set_rate(now, rate);
        self.rate.store(rate, Ordering::Relaxed);
    }

    /// How many bytes to move next, at most `want`.
    pub fn chunk(&self, want: usize) -> usize {
        if self.rate() == 0 {
            want
        } else {
            want.min(LIMITED_CHUNK)
        }
    }

    /// Waits until bytes may move. Returns at once when unlimited.
    pub async fn ready(&self) {
        loop {
            if self.rate() == 0 {
                return;
            }
            let wait = self
                .lock()
                .as_mut()
                .map_or(Duration::ZERO, |b| b.wait(Instant::now()));
            if wait.is_zero() {
                return;
            }
            // Re-checked after the sleep: the limit may have changed meanwhile.
            tokio::time::sleep(wait.min(Duration::from_millis(250))).await;
        }
    }

    /// `n` bytes moved.
    pub fn charge(&self, n: u64) {
        if self.rate() == 0 {
            return;
        }
        if let Some(b) = self.lock().as_mut() {
            b.charge(Instant::now(), n);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Bucket>> {
        self.bucket.lock().unwrap_or_else(|e| e.into_inner())
    }
}

static UPLOAD: Throttle = Throttle::new();
static DOWNLOAD: Throttle = Throttle::new();

/// The blob server's limit (bytes sent to peers).
pub fn upload() -> &'static Throttle {
    &UPLOAD
}

/// The fetcher's limit (blob bytes received from peers).
pub fn download() -> &'static Throttle {
    &DOWNLOAD
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_long_run_rate_is_the_limit() {
        let t0 = Instant::now();
        let mut b = Bucket::new(1_000_000, t0);
        let (mut now, mut moved) = (t0, 0u64);
        // A sender that moves 64 KiB whenever allowed, for 10 simulated seconds.
        while now < t0 + Duration::from_secs(10) {
            now += b.wait(now);
            b.charge(now, 65_536);
            moved += 65_536;
        }
        let rate = moved as f64 / 10.0;
        assert!((0.98e6..1.03e6).contains(&rate), "{rate}");
    }

    #[test]
    fn unlimited_never_waits_and_a_new_limit_applies_at_once() {
        let t0 = Instant::now();
        let mut b = Bucket::new(0, t0);
        b.charge(t0, 1 << 30);
        assert_eq!(b.wait(t0), Duration::ZERO);
        b.set_rate(t0, 100_000);
        assert_eq!(b.wait(t0), Duration::ZERO, "no debt carried over");
        b.charge(t0, 50_000);
        let w = b.wait(t0);
        assert!(
            w > Duration::from_millis(400) && w <= Duration::from_millis(500),
            "{w:?}"
        );
        b.set_rate(t0, 0);
        assert_eq!(b.wait(t0), Duration::ZERO);
    }

    #[test]
    fn idle_time_earns_at_most_the_burst() {
        let t0 = Instant::now();
        let mut b = Bucket::new(1_000_000, t0);
        let later = t0 + Duration::from_secs(60);
        b.charge(later, 200_000);
        // Burst 100 kB: 100 kB of debt is 0.1 s.
        let w = b.wait(later);
        assert!(
            w >= Duration::from_millis(99) && w <= Duration::from_millis(101),
            "{w:?}"
        );
    }
}
