//! The announcer's waiting line: blobs waiting for an announce slot, each
//! with its round (a full pass, or one request from the rest of the node).
//!
//! Requests go first; they are deduplicated and bounded by the caller's cap.
//! A full pass lists the whole store, so a new pass supersedes the rest of
//! an older one still waiting: its blobs are all in the new pass. Without
//! that, a young routing table that grows several times in a row (a LAN
//! where nodes start one after another) queues as many whole passes, and
//! the pass that reaches the newest node waits behind all of them. Pure.

use crate::hash::BlobHash;
use std::collections::{HashMap, HashSet, VecDeque};

/// One round of announcing: it logs `announced` once all its blobs are done.
#[derive(Default)]
struct Round {
    left: usize,
    done: usize,
    stores: usize,
}

/// Blobs waiting for a slot, with their rounds. See the module docs.
#[derive(Default)]
pub struct Waiting {
    pass: VecDeque<(BlobHash, u64)>,
    asked: VecDeque<(BlobHash, u64)>,
    queued: HashSet<BlobHash>,
    rounds: HashMap<u64, Round>,
    next_round: u64,
    /// Requested blobs waiting, at most.
    max_asked: usize,
}

impl Waiting {
    pub fn new(max_asked: usize) -> Self {
        Self {
            max_asked,
            ..Self::default()
        }
    }

    /// Queues a round of `blobs`: a full pass replaces what is left of an
    /// older pass; a request's blobs beyond the cap, or already waiting,
    /// are left out of it.
    pub fn add(&mut self, blobs: Vec<BlobHash>, full_pass: bool) {
        if full_pass {
            self.supersede_pass();
        }
        let id = self.next_round;
        self.next_round += 1;
        let mut round = Round::default();
        for b in blobs {
            if full_pass {
                self.pass.push_back((b, id));
            } else if self.queued.len() >= self.max_asked {
                tracing::warn!("announce backlog full; left to the next full pass");
                break;
            } else if self.queued.insert(b) {
                self.asked.push_back((b, id));
            } else {
                continue;
            }
            round.left += 1;
        }
        self.rounds.insert(id, round);
        self.finish(id);
    }

    /// Drops the blobs of older passes still waiting, and their rounds once
    /// nothing of them runs.
    fn supersede_pass(&mut self) {
        let mut dropped = 0;
        for (_, id) in self.pass.drain(..) {
            if let Some(r) = self.rounds.get_mut(&id) {
                r.left = r.left.saturating_sub(1);
            }
            dropped += 1;
        }
        if dropped > 0 {
            tracing::debug!(
                dropped,
                "a newer full pass supersedes the rest of an older one"
            );
            self.rounds.retain(|_, r| r.left > 0);
        }
    }

    /// The next blob to announce, requests first.
    pub fn next(&mut self) -> Option<(BlobHash, u64)> {
        let (b, id) = self.asked.pop_front().or_else(|| self.pass.pop_front())?;
        self.queued.remove(&b);
        Some((b, id))
    }

    /// Round `id`'s announce of one blob ended with `stores` stores.
    pub fn done(&mut self, id: u64, stores: usize) {
        if let Some(r) = self.rounds.get_mut(&id) {
            r.left = r.left.saturating_sub(1);
            r.done += 1;
            r.stores += stores;
        }
        self.finish(id);
    }

    fn finish(&mut self, id: u64) {
        if self.rounds.get(&id).is_some_and(|r| r.left == 0) {
            if let Some(r) = self.rounds.remove(&id) {
                tracing::info!(blobs = r.done, stores = r.stores, "announced");
            }
        }
    }

    /// Blobs waiting, passes and requests together.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.pass.len() + self.asked.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs(from: u8, n: u8) -> Vec<BlobHash> {
        (from..from + n)
            .map(|i| BlobHash::from_bytes([i; 48]))
            .collect()
    }

    fn drain(w: &mut Waiting) -> Vec<(BlobHash, u64)> {
        std::iter::from_fn(|| w.next()).collect()
    }

    #[test]
    fn a_new_full_pass_replaces_what_is_left_of_an_older_one() {
        let mut w = Waiting::new(16);
        w.add(blobs(0, 10), true);
        let (first, old) = w.next().unwrap();
        assert_eq!(first, blobs(0, 1)[0]);
        w.add(blobs(0, 10), true);
        assert_eq!(w.len(), 10, "one pass waits, not one and nine tenths");
        w.done(old, 2);
        assert!(
            !w.rounds.contains_key(&old),
            "the old round ended with its running blob"
        );
        assert_eq!(w.rounds.len(), 1, "only the new pass is left");
        let rest = drain(&mut w);
        assert_eq!(rest.len(), 10);
        assert!(
            rest.iter().all(|(_, id)| *id != old),
            "all from the new pass"
        );
    }

    #[test]
    fn requests_go_first_deduplicated_and_bounded() {
        let mut w = Waiting::new(3);
        w.add(blobs(0, 2), true);
        w.add(blobs(10, 2), false);
        w.add(blobs(10, 5), false);
        let order: Vec<BlobHash> = drain(&mut w).into_iter().map(|(b, _)| b).collect();
        let mut want = blobs(10, 3);
        want.extend(blobs(0, 2));
        assert_eq!(order, want, "requests first, each once, within the cap");
    }

    #[test]
    fn a_round_ends_when_its_last_blob_is_done() {
        let mut w = Waiting::new(8);
        w.add(blobs(0, 2), false);
        let (_, id) = w.next().unwrap();
        w.done(id, 1);
        assert!(w.rounds.contains_key(&id));
        let (_, id2) = w.next().unwrap();
        w.done(id2, 1);
        assert!(w.rounds.is_empty());
    }
}
