//! How the share state takes in the end of a job, and knows a file by its
//! content: a hashed file keeps the stream of the entry its digest matches
//! (its own after `touch`, another's after a rename), and the streams of
//! files that went away are held while a file of their size still waits to
//! be identified.

use super::{Action, Digest, FileStamp, Outcome, Phase, Record, ShareState, Shared};
use std::path::Path;
use std::time::Instant;

impl ShareState {
    /// Takes in how the job on `path` (relative) ended, at `now`.
    pub fn job_done(&mut self, now: Instant, path: &Path, outcome: Outcome) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.in_flight.as_deref() == Some(path) {
            self.in_flight = None;
        }
        let phase = self.files.get(path).map(|e| e.phase);
        match (phase, outcome) {
            (Some(Phase::Hashing { stamp }), Outcome::Hashed { digest, after }) => {
                if after == Some(stamp) {
                    self.identify(path, stamp, digest, &mut actions);
                } else {
                    self.changed_during_job(now, path, after);
                }
            }
            (Some(Phase::Publishing { stamp }), Outcome::Published { sd, digest, after }) => {
                if after == Some(stamp) {
                    let new = Shared {
                        stamp,
                        digest: Some(digest),
                        sd,
                    };
                    self.share(path, new, &mut actions);
                } else {
                    // Changed or gone while it was read: this stream may hold a
                    // half-written file. Settle again (a scan removes a gone file).
                    self.changed_during_job(now, path, after);
                    self.release(sd, &mut actions);
                }
            }
            (Some(Phase::Hashing { stamp } | Phase::Publishing { stamp }), Outcome::Failed) => {
                self.set_phase(path, Phase::Failed { stamp, at: now });
            }
            // Not a job this state asked for: keep nothing of it.
            (_, outcome) => {
                if let Outcome::Published { sd, .. } = outcome {
                    self.release(sd, &mut actions);
                }
                return actions;
            }
        }
        self.settle_vanished(&mut actions);
        self.flush(&mut actions);
        actions
    }

    /// A hashed file: keeps the stream of a known entry with this content
    /// (its own, another file's, a vanished one's), or is published.
    pub(super) fn identify(
        &mut self,
        path: &Path,
        stamp: FileStamp,
        digest: Digest,
        out: &mut Vec<Action>,
    ) {
        let own = self.files.get(path).and_then(|e| e.shared);
        let upgrade = own.filter(|s| s.digest.is_none() && s.stamp.same_version(&stamp));
        let known = upgrade.map(|s| s.sd).or_else(|| {
            self.known()
                .find(|r| r.digest == Some(digest))
                .map(|r| r.sd)
        });
        let Some(sd) = known else {
            self.set_phase(path, Phase::Publishing { stamp });
            self.in_flight = Some(path.to_path_buf());
            out.push(Action::Publish {
                path: path.to_path_buf(),
                stamp,
            });
            return;
        };
        self.vanished.retain(|r| r.sd != sd);
        let new = Shared {
            stamp,
            digest: Some(digest),
            sd,
        };
        out.push(Action::Kept {
            path: path.to_path_buf(),
            sd,
        });
        self.share(path, new, out);
    }

    /// `path` now shares `new`; the stream it shared before is released.
    pub(super) fn share(&mut self, path: &Path, new: Shared, actions: &mut Vec<Action>) {
        let Some(entry) = self.files.get_mut(path) else {
            return;
        };
        let old = entry.shared.replace(new);
        entry.phase = Phase::Idle;
        self.dirty = true;
        if let Some(old) = old.filter(|o| o.sd != new.sd) {
            self.release(old.sd, actions);
        }
    }

    /// The file changed (or went away: `after` is `None`) while a job read it.
    pub(super) fn changed_during_job(
        &mut self,
        now: Instant,
        path: &Path,
        after: Option<FileStamp>,
    ) {
        let phase = match after {
            Some(stamp) => Phase::Settling { stamp, since: now },
            None => Phase::Idle,
        };
        self.set_phase(path, phase);
    }

    pub(super) fn set_phase(&mut self, path: &Path, phase: Phase) {
        if let Some(e) = self.files.get_mut(path) {
            e.phase = phase;
        }
    }

    /// Every stream known with its stamp and digest: shared files' and vanished ones'.
    pub(super) fn known(&self) -> impl Iterator<Item = Record> + '_ {
        let shared = self.files.iter().filter_map(|(p, e)| {
            e.shared.map(|s| Record {
                path: p.clone(),
                stamp: s.stamp,
                digest: s.digest,
                sd: s.sd,
            })
        });
        shared.chain(self.vanished.iter().cloned())
    }

    /// Unpublishes the vanished streams no waiting file could turn out to hold:
    /// none of the same size is settling or being hashed.
    pub(super) fn settle_vanished(&mut self, actions: &mut Vec<Action>) {
        let waiting: Vec<u64> = self
            .files
            .values()
            .filter_map(|e| match e.phase {
                Phase::Settling { stamp, .. } | Phase::Hashing { stamp } => Some(stamp.size),
                _ => None,
            })
            .collect();
        let (keep, gone): (Vec<Record>, Vec<Record>) = std::mem::take(&mut self.vanished)
            .into_iter()
            .partition(|r| waiting.contains(&r.stamp.size));
        self.vanished = keep;
        for r in gone {
            self.dirty = true;
            self.release(r.sd, actions);
        }
    }
}

#[cfg(test)]
#[path = "state_identify_tests.rs"]
mod tests;
