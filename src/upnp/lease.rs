//! When to (re)map: the pure schedule of the UPnP task, taking `now`.
//!
//! A mapping is asked for with a lease of [`LEASE`] and renewed when half
//! of what the gateway granted has run (so a lost renewal has another half
//! lease to succeed); a gateway that only grants permanent mappings (lease
//! 0) is still asked again every [`PERMANENT_CHECK`], since a router that
//! reboots forgets them. A failure (no gateway, a refusal) is tried again
//! after a backoff that doubles from [`RETRY_FIRST`] to [`RETRY_MAX`], so
//! a node that starts before its router keeps trying without flooding the
//! LAN.

use std::time::{Duration, Instant};

/// The lease asked for, in seconds (the gateway may grant less, or 0).
pub const LEASE: Duration = Duration::from_secs(3600);
/// How often a permanent mapping is asked for again.
pub const PERMANENT_CHECK: Duration = Duration::from_secs(1800);
/// The first wait after a failure.
pub const RETRY_FIRST: Duration = Duration::from_secs(30);
/// The longest wait after failures.
pub const RETRY_MAX: Duration = Duration::from_secs(1800);
/// Renewal never comes sooner than this after a mapping (a gateway
/// granting a lease of seconds must not make us spin).
const MIN_RENEW: Duration = Duration::from_secs(30);

/// When the next attempt is due, and how many have failed in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    next: Instant,
    failures: u32,
}

impl Schedule {
    /// The first attempt is due at once.
    pub fn new(now: Instant) -> Self {
        Self {
            next: now,
            failures: 0,
        }
    }

    /// When the next attempt (mapping or renewal) is due.
    pub fn next(&self) -> Instant {
        self.next
    }

    /// Failures in a row since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// A mapping was made (or renewed) at `now` with the `granted` lease
    /// (zero: permanent); returns when it is renewed.
    pub fn mapped(&mut self, now: Instant, granted: Duration) -> Instant {
        self.failures = 0;
        let wait = if granted.is_zero() {
            PERMANENT_CHECK
        } else {
            (granted / 2).max(MIN_RENEW)
        };
        self.next = now + wait;
        self.next
    }

    /// An attempt failed at `now`; returns when the next one is due.
    pub fn failed(&mut self, now: Instant) -> Instant {
        let shift = self.failures.min(16);
        self.failures = self.failures.saturating_add(1);
        let wait = RETRY_FIRST
            .checked_mul(1u32 << shift)
            .unwrap_or(RETRY_MAX)
            .min(RETRY_MAX);
        self.next = now + wait;
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_attempt_is_at_once() {
        let now = Instant::now();
        assert_eq!(Schedule::new(now).next(), now);
    }

    #[test]
    fn a_lease_is_renewed_at_half_time_well_before_it_ends() {
        let now = Instant::now();
        let mut s = Schedule::new(now);
        let renew = s.mapped(now, LEASE);
        assert_eq!(renew, now + LEASE / 2);
        assert!(renew < now + LEASE);
    }

    #[test]
    fn a_tiny_lease_does_not_make_the_task_spin() {
        let now = Instant::now();
        let mut s = Schedule::new(now);
        assert_eq!(s.mapped(now, Duration::from_secs(2)), now + MIN_RENEW);
    }

    #[test]
    fn a_permanent_mapping_is_checked_again_later() {
        let now = Instant::now();
        let mut s = Schedule::new(now);
        assert_eq!(s.mapped(now, Duration::ZERO), now + PERMANENT_CHECK);
    }

    #[test]
    fn failures_back_off_doubling_up_to_the_cap_and_success_resets() {
        let now = Instant::now();
        let mut s = Schedule::new(now);
        assert_eq!(s.failed(now), now + RETRY_FIRST);
        assert_eq!(s.failed(now), now + RETRY_FIRST * 2);
        assert_eq!(s.failed(now), now + RETRY_FIRST * 4);
        for _ in 0..40 {
            s.failed(now);
        }
        assert_eq!(s.failed(now), now + RETRY_MAX);
        assert_eq!(s.failures(), 44);
        s.mapped(now, LEASE);
        assert_eq!(s.failures(), 0);
        assert_eq!(s.failed(now), now + RETRY_FIRST);
    }
}
