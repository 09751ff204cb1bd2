//! The share folder's decisions, as a pure state machine.
//!
//! It owns what is known about each file in the folder (the stream last
//! published for it, and whether the file on disk has moved on since) and
//! decides what to do: publish a file that has been stable for the debounce
//! time, unpublish the stream of a file that changed or went away, rewrite the
//! manifest. It does no I/O and reads no clock: the driver feeds it full scans
//! and publish outcomes with `now`, and carries out the [`Action`]s it returns.
//! That is what lets debounce, restarts and races with a writer be tested as
//! plain, fast unit tests.
//!
//! Invariants:
//! - a file is published only when a scan at `now` shows the stamp (size,
//!   mtime, inode) it has shown since at least `debounce` ago;
//! - at most one publish is in flight (a big publish keeps both cores busy);
//! - a publish is kept only if the file still has the stamp it was started
//!   with once `publish` returned; otherwise its stream is unpublished;
//! - a stream is unpublished only when no file in the folder holds it.

use crate::hash::SdHash;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

/// What identifies one version of a file: if any of these changed, so may have its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    pub size: u64,
    /// Modification time: seconds and nanoseconds since the Unix epoch.
    pub mtime_s: i64,
    pub mtime_ns: u32,
    pub ino: u64,
}

/// One full scan of the share folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    /// Every regular, not ignored file: path relative to the share folder → stamp.
    pub files: BTreeMap<PathBuf, FileStamp>,
    /// Relative paths (folders or files; the empty path is the share folder
    /// itself) that could not be read: what lies there is unknown, not gone.
    pub unreadable: Vec<PathBuf>,
}

impl Scan {
    /// Whether this scan can tell if `rel` exists.
    fn covers(&self, rel: &Path) -> bool {
        !self.unreadable.iter().any(|u| rel.starts_with(u))
    }
}

/// A published file as the manifest remembers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Relative to the share folder.
    pub path: PathBuf,
    /// The file's stamp when it was published.
    pub stamp: FileStamp,
    pub sd: SdHash,
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Publish this file (relative path), seen with `stamp`; report with
    /// [`ShareState::publish_done`].
    Publish { path: PathBuf, stamp: FileStamp },
    /// Stop sharing this stream.
    Unpublish(SdHash),
    /// Save [`ShareState::records`] as the manifest.
    WriteManifest,
}

/// How a publish ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `publish` returned `sd`; `after` is the file's stamp read right after
    /// it returned (`None`: gone, or no longer a regular file).
    Published {
        sd: SdHash,
        after: Option<FileStamp>,
    },
    /// `publish` failed (unreadable file, full disk …): retry later.
    Failed,
}

/// The machine's timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How long a file must keep one stamp before it is published.
    pub debounce: Duration,
    /// How long after a failed publish an unchanged file is tried again.
    pub retry: Duration,
}

/// Whether a file or folder name is hidden or temporary, hence not shared:
/// it starts with `.`, or ends with `.part` or `~`.
pub fn is_ignored_name(name: &OsStr) -> bool {
    let b = name.as_bytes();
    b.starts_with(b".") || b.ends_with(b".part") || b.ends_with(b"~")
}

/// Whether a relative path is not shared: it has an ignored component, or is
/// not a plain relative path (`..`, absolute, empty).
pub fn is_ignored_path(rel: &Path) -> bool {
    let mut any = false;
    for c in rel.components() {
        match c {
            Component::Normal(name) if !is_ignored_name(name) => any = true,
            _ => return true,
        }
    }
    !any
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing to do: the file is as published (or waits for a scan to say more).
    Idle,
    /// Seen with `stamp` since `since`, different from what is published.
    Settling { stamp: FileStamp, since: Instant },
    /// `publish` is running for the file as it was at `stamp`.
    Publishing { stamp: FileStamp },
    /// Publishing the file at `stamp` failed at `at`.
    Failed { stamp: FileStamp, at: Instant },
}

#[derive(Debug, Clone)]
struct Entry {
    /// The stream currently shared for this path, and the stamp it was published from.
    shared: Option<(FileStamp, SdHash)>,
    phase: Phase,
}

/// The share folder's state; see the module docs.
#[derive(Debug)]
pub struct ShareState {
    timing: Timing,
    files: BTreeMap<PathBuf, Entry>,
    in_flight: Option<PathBuf>,
    /// The manifest no longer matches `files`.
    dirty: bool,
}

impl ShareState {
    /// An empty state (no manifest).
    pub fn new(timing: Timing) -> Self {
        Self {
            timing,
            files: BTreeMap::new(),
            in_flight: None,
            dirty: false,
        }
    }

    /// The state a manifest describes. Records whose stream is no longer
    /// published (`is_live` false) or whose path is not shareable are dropped,
    /// so their files count as new and are published again.
    pub fn restore(
        timing: Timing,
        records: Vec<Record>,
        mut is_live: impl FnMut(&SdHash) -> bool,
    ) -> Self {
        let mut state = Self::new(timing);
        for r in records {
            if is_ignored_path(&r.path) || !is_live(&r.sd) || state.files.contains_key(&r.path) {
                state.dirty = true;
                continue;
            }
            let entry = Entry {
                shared: Some((r.stamp, r.sd)),
                phase: Phase::Idle,
            };
            state.files.insert(r.path, entry);
        }
        state
    }

    /// Takes in a full scan made at `now`.
    pub fn observe(&mut self, now: Instant, scan: &Scan) -> Vec<Action> {
        let mut actions = Vec::new();

        // Gone: not in a scan that could have seen them. A file being
        // published is left to the check that follows its publish.
        let gone: Vec<PathBuf> = self
            .files
            .iter()
            .filter(|(p, e)| {
                !matches!(e.phase, Phase::Publishing { .. })
                    && !scan.files.contains_key(*p)
                    && scan.covers(p)
            })
            .map(|(p, _)| p.clone())
            .collect();
        for path in gone {
            if let Some((_, sd)) = self.files.remove(&path).and_then(|e| e.shared) {
                self.dirty = true;
                self.release(sd, &mut actions);
            }
        }

        // New or changed: (re)start the debounce clock.
        for (path, &stamp) in &scan.files {
            if is_ignored_path(path) {
                continue;
            }
            let entry = self.files.entry(path.clone()).or_insert(Entry {
                shared: None,
                phase: Phase::Idle,
            });
            let settled = match entry.phase {
                Phase::Publishing { .. } => continue,
                Phase::Idle => entry.shared.map(|(s, _)| s),
                Phase::Settling { stamp: s, .. } | Phase::Failed { stamp: s, .. } => Some(s),
            };
            if settled != Some(stamp) {
                entry.phase = Phase::Settling { stamp, since: now };
            }
        }

        // One publish at a time, of a file this scan saw unchanged long enough.
        if self.in_flight.is_none() {
            let timing = self.timing;
            let ready = self.files.iter_mut().find(|(path, e)| {
                let seen = scan.files.get(*path);
                match e.phase {
                    Phase::Settling { stamp, since } => {
                        seen == Some(&stamp)
                            && now.saturating_duration_since(since) >= timing.debounce
                    }
                    Phase::Failed { stamp, at } => {
                        seen == Some(&stamp) && now.saturating_duration_since(at) >= timing.retry
                    }
                    Phase::Idle | Phase::Publishing { .. } => false,
                }
            });
            if let Some((path, entry)) = ready {
                if let Phase::Settling { stamp, .. } | Phase::Failed { stamp, .. } = entry.phase {
                    entry.phase = Phase::Publishing { stamp };
                    self.in_flight = Some(path.clone());
                    actions.push(Action::Publish {
                        path: path.clone(),
                        stamp,
                    });
                }
            }
        }

        self.flush(&mut actions);
        actions
    }

    /// Takes in how the publish of `path` (relative) ended, at `now`.
    pub fn publish_done(&mut self, now: Instant, path: &Path, outcome: Outcome) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.in_flight.as_deref() == Some(path) {
            self.in_flight = None;
        }
        let started = match self.files.get(path).map(|e| e.phase) {
            Some(Phase::Publishing { stamp }) => stamp,
            // Not a publish this state asked for: keep nothing of it.
            _ => {
                if let Outcome::Published { sd, .. } = outcome {
                    self.release(sd, &mut actions);
                }
                return actions;
            }
        };
        let Some(entry) = self.files.get_mut(path) else {
            return actions;
        };
        match outcome {
            Outcome::Published { sd, after } if after == Some(started) => {
                let old = entry.shared.replace((started, sd));
                entry.phase = Phase::Idle;
                self.dirty = true;
                if let Some((_, old_sd)) = old.filter(|(_, o)| *o != sd) {
                    self.release(old_sd, &mut actions);
                }
            }
            Outcome::Published { sd, after } => {
                // Changed or gone while it was read: this stream may hold a
                // half-written file. Settle again (a scan removes a gone file).
                entry.phase = match after {
                    Some(stamp) => Phase::Settling { stamp, since: now },
                    None => Phase::Idle,
                };
                self.release(sd, &mut actions);
            }
            Outcome::Failed => {
                entry.phase = Phase::Failed {
                    stamp: started,
                    at: now,
                };
            }
        }
        self.flush(&mut actions);
        actions
    }

    /// When a scan could make progress (a debounce or a retry ends); `None`
    /// while a publish is in flight (its end brings a scan) or nothing waits.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.in_flight.is_some() {
            return None;
        }
        self.files
            .values()
            .filter_map(|e| match e.phase {
                Phase::Settling { since, .. } => Some(since + self.timing.debounce),
                Phase::Failed { at, .. } => Some(at + self.timing.retry),
                Phase::Idle | Phase::Publishing { .. } => None,
            })
            .min()
    }

    /// The file whose publish is in flight, if any.
    pub fn in_flight(&self) -> Option<&Path> {
        self.in_flight.as_deref()
    }

    /// The files currently shared and their streams, sorted by path.
    pub fn shared(&self) -> Vec<(PathBuf, SdHash)> {
        self.files
            .iter()
            .filter_map(|(p, e)| e.shared.map(|(_, sd)| (p.clone(), sd)))
            .collect()
    }

    /// What the manifest should hold, sorted by path.
    pub fn records(&self) -> Vec<Record> {
        self.files
            .iter()
            .filter_map(|(p, e)| {
                e.shared.map(|(stamp, sd)| Record {
                    path: p.clone(),
                    stamp,
                    sd,
                })
            })
            .collect()
    }

    /// Unpublishes `sd` unless another file still holds it.
    fn release(&self, sd: SdHash, actions: &mut Vec<Action>) {
        let held = self
            .files
            .values()
            .any(|e| matches!(e.shared, Some((_, s)) if s == sd));
        if !held && !actions.contains(&Action::Unpublish(sd)) {
            actions.push(Action::Unpublish(sd));
        }
    }

    fn flush(&mut self, actions: &mut Vec<Action>) {
        if std::mem::take(&mut self.dirty) {
            actions.push(Action::WriteManifest);
        }
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
