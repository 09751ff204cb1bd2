//! The streams waiting to be reflected, and when each is due: the pure
//! part of background reflection (`--reflect`), taking `now`.
//!
//! Bounded (a share folder of many files must not grow it without end:
//! beyond [`MAX_PENDING`] a stream is refused, and the next start offers
//! it again) and deduplicated (a stream asked for twice waits once). A
//! failed upload is due again after a backoff doubling from
//! [`RETRY_FIRST`] to [`RETRY_MAX`], so a reflector that is down gets the
//! stream once it is back, without being hammered meanwhile.

use crate::hash::SdHash;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Streams waiting, at most.
pub const MAX_PENDING: usize = 4096;
/// The wait after a first failure.
pub const RETRY_FIRST: Duration = Duration::from_secs(1);
/// The longest wait between attempts.
pub const RETRY_MAX: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    due: Instant,
    /// Failed attempts so far.
    failures: u32,
    /// Order of arrival, so equal due times go first come, first served.
    seq: u64,
}

/// The waiting streams.
#[derive(Debug, Default)]
pub struct Pending {
    waiting: HashMap<SdHash, Entry>,
    seq: u64,
}

/// The wait after `failures` failed attempts.
pub fn backoff(failures: u32) -> Duration {
    let shift = failures.saturating_sub(1).min(20);
    RETRY_FIRST
        .checked_mul(1u32 << shift)
        .unwrap_or(RETRY_MAX)
        .min(RETRY_MAX)
}

impl Pending {
    /// Queues `sd`, due at once; `false` if the queue is full. A stream
    /// already waiting keeps its place and backoff.
    pub fn add(&mut self, sd: SdHash, now: Instant) -> bool {
        if self.waiting.contains_key(&sd) {
            return true;
        }
        if self.waiting.len() >= MAX_PENDING {
            return false;
        }
        self.seq += 1;
        let entry = Entry {
            due: now,
            failures: 0,
            seq: self.seq,
        };
        self.waiting.insert(sd, entry);
        true
    }

    /// When the earliest stream is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.waiting.values().map(|e| e.due).min()
    }

    /// Takes the stream due first, if one is due at `now`, with its failures so far.
    pub fn take_due(&mut self, now: Instant) -> Option<(SdHash, u32)> {
        let (&sd, e) = self
            .waiting
            .iter()
            .filter(|(_, e)| e.due <= now)
            .min_by_key(|(_, e)| (e.due, e.seq))?;
        let failures = e.failures;
        self.waiting.remove(&sd);
        Some((sd, failures))
    }

    /// An upload of `sd` failed at `now` (its `failures`-th): it is due
    /// again after the backoff. Returns when.
    pub fn failed(&mut self, sd: SdHash, failures: u32, now: Instant) -> Instant {
        let due = now + backoff(failures);
        self.seq += 1;
        let entry = Entry {
            due,
            failures,
            seq: self.seq,
        };
        // Asked for again meanwhile: the backoff still holds.
        self.waiting.insert(sd, entry);
        due
    }

    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sd(n: u8) -> SdHash {
        SdHash::from_bytes([n; 48])
    }

    #[test]
    fn streams_are_due_at_once_first_come_first_served_and_deduplicated() {
        let now = Instant::now();
        let mut p = Pending::default();
        assert!(p.add(sd(2), now));
        assert!(p.add(sd(1), now));
        assert!(p.add(sd(2), now));
        assert_eq!(p.len(), 2);
        assert_eq!(p.take_due(now), Some((sd(2), 0)));
        assert_eq!(p.take_due(now), Some((sd(1), 0)));
        assert_eq!(p.take_due(now), None);
        assert!(p.is_empty());
    }

    #[test]
    fn a_failed_upload_waits_a_doubling_backoff_up_to_the_cap() {
        let now = Instant::now();
        let mut p = Pending::default();
        p.add(sd(1), now);
        let (s, f) = p.take_due(now).unwrap();
        let due = p.failed(s, f + 1, now);
        assert_eq!(due, now + RETRY_FIRST);
        assert_eq!(p.take_due(now), None, "not due before the backoff");
        assert_eq!(p.next_due(), Some(due));
        assert_eq!(p.take_due(due), Some((sd(1), 1)));
        assert_eq!(backoff(2), RETRY_FIRST * 2);
        assert_eq!(backoff(3), RETRY_FIRST * 4);
        assert_eq!(backoff(40), RETRY_MAX);
    }

    #[test]
    fn the_queue_is_bounded() {
        let now = Instant::now();
        let mut p = Pending::default();
        for i in 0..MAX_PENDING {
            let mut b = [0u8; 48];
            b[..8].copy_from_slice(&(i as u64).to_le_bytes());
            assert!(p.add(SdHash::from_bytes(b), now));
        }
        assert!(!p.add(sd(0xff), now), "full");
        assert_eq!(p.len(), MAX_PENDING);
    }
}
