//! Announces that reached no DHT node, tried again.
//!
//! A node alone on its network when it announces (the first node on a LAN,
//! or one whose contacts were all down) would otherwise wait for the next
//! full pass, 12 hours later, before anyone could find what it serves or
//! search its names. Such blobs are kept (bounded, deduplicated) and
//! announced again after 5 s, the wait doubling up to 5 min while nothing
//! is reached and starting again at 5 s once an announce reaches a node.
//!
//! And a young routing table that grows (fewer than K contacts, then one
//! more) calls for a full pass again: on a small network (a LAN of a few
//! nodes) an announcement is stored only on the nodes up when it was made,
//! and a node that joins later would otherwise hold none of them until the
//! next full pass. On a network of K contacts or more this never fires.
//! Pure: the caller passes `now` and the counts.

use crate::hash::BlobHash;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// The first wait before announcing again.
pub const FIRST_DELAY: Duration = Duration::from_secs(5);
/// The longest wait.
pub const MAX_DELAY: Duration = Duration::from_secs(300);
/// Blobs kept for another try, at most.
pub const MAX_BLOBS: usize = 4096;

/// Whether a routing table that went from `before` to `after` contacts is
/// young and grew: the cue for a full announce pass.
pub fn young_table_grew(before: usize, after: usize) -> bool {
    after > before && before < crate::dht::K
}

#[derive(Debug)]
pub struct Retry {
    blobs: HashSet<BlobHash>,
    delay: Duration,
    due: Option<Instant>,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            blobs: HashSet::new(),
            delay: FIRST_DELAY,
            due: None,
        }
    }
}

impl Retry {
    /// `blob`'s announce, ended at `now`, reached `stores` nodes.
    pub fn record(&mut self, blob: BlobHash, stores: usize, now: Instant) {
        if stores > 0 {
            self.delay = FIRST_DELAY;
            return;
        }
        if self.blobs.len() >= MAX_BLOBS || !self.blobs.insert(blob) {
            return;
        }
        self.due.get_or_insert(now + self.delay);
    }

    /// When the kept blobs are to be announced again.
    pub fn due(&self) -> Option<Instant> {
        self.due
    }

    /// The blobs to announce again, if their time came at `now`; the wait
    /// after this try is twice as long.
    pub fn take(&mut self, now: Instant) -> Vec<BlobHash> {
        if self.due.is_none_or(|d| d > now) {
            return Vec::new();
        }
        self.due = None;
        self.delay = (self.delay * 2).min(MAX_DELAY);
        self.blobs.drain().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(n: u8) -> BlobHash {
        BlobHash::from_bytes([n; 48])
    }

    #[test]
    fn what_reached_nobody_is_announced_again_with_a_growing_wait() {
        let t0 = Instant::now();
        let mut r = Retry::default();
        r.record(blob(1), 3, t0);
        assert_eq!(r.due(), None, "reached nodes: nothing to retry");
        r.record(blob(2), 0, t0);
        r.record(blob(2), 0, t0);
        assert_eq!(r.due(), Some(t0 + FIRST_DELAY));
        assert!(r.take(t0 + Duration::from_secs(4)).is_empty(), "not yet");
        assert_eq!(
            r.take(t0 + FIRST_DELAY),
            vec![blob(2)],
            "once, deduplicated"
        );
        let t1 = t0 + FIRST_DELAY;
        r.record(blob(2), 0, t1);
        assert_eq!(r.due(), Some(t1 + 2 * FIRST_DELAY), "the wait doubles");
        for _ in 0..10 {
            let due = r.due().unwrap();
            r.take(due);
            r.record(blob(2), 0, due);
        }
        let last = r.due().unwrap();
        r.take(last);
        r.record(blob(2), 0, last);
        assert_eq!(r.due(), Some(last + MAX_DELAY), "capped");
        let due = r.due().unwrap();
        r.take(due);
        r.record(blob(3), 1, due);
        r.record(blob(2), 0, due);
        assert_eq!(r.due(), Some(due + FIRST_DELAY), "a success starts over");
    }

    #[test]
    fn only_a_young_table_that_grows_calls_for_a_pass() {
        assert!(young_table_grew(0, 1));
        assert!(young_table_grew(2, 3));
        assert!(young_table_grew(7, 9));
        assert!(!young_table_grew(3, 3), "no new contact");
        assert!(!young_table_grew(3, 2), "a contact lost");
        assert!(!young_table_grew(8, 30), "a grown table");
    }

    #[test]
    fn the_kept_blobs_are_bounded() {
        let t0 = Instant::now();
        let mut r = Retry::default();
        for i in 0..MAX_BLOBS + 10 {
            let mut b = [0u8; 48];
            b[..8].copy_from_slice(&(i as u64).to_be_bytes());
            r.record(BlobHash::from_bytes(b), 0, t0);
        }
        assert_eq!(r.take(t0 + FIRST_DELAY).len(), MAX_BLOBS);
    }
}
