//! The share folder's decisions, as a pure state machine.
//!
//! It owns what is known about each file in the folder (the stream last
//! published for it, the SHA-384 of its content, and whether the file on disk
//! has moved on since) and decides what to do: identify a file that has been
//! stable for the debounce time, publish it if its content is new, unpublish
//! the stream of a file that changed or went away, rewrite the manifest. It does no I/O and reads no clock: the driver feeds it full scans
//! and publish outcomes with `now`, and carries out the [`Action`]s it returns.
//! That is what lets debounce, restarts and races with a writer be tested as
//! plain, fast unit tests.
//!
//! An sd hash stays valid while the same content is shared: publishing again
//! would give a new key, hence a new sd hash, and kill every link handed out.
//! So a file whose stamp changed (`touch`, a backup restoring mtimes, a copy
//! renamed over it) is hashed before anything is decided, and keeps the stream
//! of the entry its content matches, its own or another's (a rename). Hashing
//! is skipped when no known stream has the file's size, since none can match.
//! A file that went away holds its stream (as *vanished*) until no file of the
//! same size waits to be identified, so a rename finds it.
//!
//! Invariants:
//! - a file is hashed or published only when a scan at `now` shows the stamp
//!   (size, mtime, inode) it has shown since at least `debounce` ago;
//! - at most one job (hash or publish) is in flight (a big publish keeps both
//!   cores busy);
//! - a publish is kept only if the file still has the stamp it was started
//!   with once `publish` returned; otherwise its stream is unpublished;
//! - a stream is unpublished only when no file in the folder holds it.

pub use super::scan::is_ignored_path;
use crate::hash::SdHash;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What identifies one version of a file: while it keeps changing, the file
/// is being written. Against a published version only size and mtime count
/// (see [`FileStamp::same_version`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    pub size: u64,
    /// Modification time: seconds and nanoseconds since the Unix epoch.
    pub mtime_s: i64,
    pub mtime_ns: u32,
    pub ino: u64,
}

impl FileStamp {
    /// Whether `other` is taken for the same content without hashing: same
    /// size and mtime. The inode is left out: some file systems (vfat) give
    /// new ones at every mount, and a copy renamed into place with the old
    /// mtime (rsync) is the same content.
    pub fn same_version(&self, other: &FileStamp) -> bool {
        (self.size, self.mtime_s, self.mtime_ns) == (other.size, other.mtime_s, other.mtime_ns)
    }
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

/// The SHA-384 of a file's content.
pub type Digest = [u8; 48];

/// A published file as the manifest remembers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Relative to the share folder.
    pub path: PathBuf,
    /// The file's stamp when it was published (or last found unchanged).
    pub stamp: FileStamp,
    /// Its content's SHA-384; `None` in manifests of version 1, until computed.
    pub digest: Option<Digest>,
    pub sd: SdHash,
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Hash this file (relative path), seen with `stamp`; report with
    /// [`ShareState::job_done`].
    Hash { path: PathBuf, stamp: FileStamp },
    /// Publish this file (relative path), seen with `stamp`, and hash it;
    /// report with [`ShareState::job_done`].
    Publish { path: PathBuf, stamp: FileStamp },
    /// Nothing to do but say so: the file's content is known, it keeps (or
    /// takes, after a rename) this stream.
    Kept { path: PathBuf, sd: SdHash },
    /// Stop sharing this stream.
    Unpublish(SdHash),
    /// Save [`ShareState::records`] as the manifest.
    WriteManifest,
}

/// How a job (hash or publish) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The file's content hashes to `digest`; `after` is its stamp read right
    /// after (`None`: gone, or no longer a regular file).
    Hashed {
        digest: Digest,
        after: Option<FileStamp>,
    },
    /// `publish` returned `sd` for content hashing to `digest`; `after` as above.
    Published {
        sd: SdHash,
        digest: Digest,
        after: Option<FileStamp>,
    },
    /// Reading or publishing failed (unreadable file, full disk …): retry later.
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing to do: the file is as published (or waits for a scan to say more).
    Idle,
    /// Seen with `stamp` since `since`, different from what is published.
    Settling { stamp: FileStamp, since: Instant },
    /// The file as it was at `stamp` is being hashed.
    Hashing { stamp: FileStamp },
    /// `publish` is running for the file as it was at `stamp`.
    Publishing { stamp: FileStamp },
    /// Hashing or publishing the file at `stamp` failed at `at`.
    Failed { stamp: FileStamp, at: Instant },
}

/// The stream shared for a file, and what it was published from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shared {
    stamp: FileStamp,
    digest: Option<Digest>,
    sd: SdHash,
}

#[derive(Debug, Clone)]
struct Entry {
    /// The stream currently shared for this path.
    shared: Option<Shared>,
    phase: Phase,
}

/// The share folder's state; see the module docs.
#[derive(Debug)]
pub struct ShareState {
    timing: Timing,
    files: BTreeMap<PathBuf, Entry>,
    /// Streams of files that went away, held while a file of the same size
    /// waits to be identified (it may be the same content, renamed).
    vanished: Vec<Record>,
    in_flight: Option<PathBuf>,
    /// Files the user unpublished, by path: not in `files` while unchanged.
    excluded: BTreeMap<PathBuf, crate::share::excluded::Exclusion>,
    /// The manifest (or the exclusions) no longer match `files`.
    dirty: bool,
}

impl ShareState {
    /// An empty state (no manifest).
    pub fn new(timing: Timing) -> Self {
        Self {
            timing,
            files: BTreeMap::new(),
            vanished: Vec::new(),
            in_flight: None,
            excluded: BTreeMap::new(),
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
            let shared = Shared {
                stamp: r.stamp,
                digest: r.digest,
                sd: r.sd,
            };
            let entry = Entry {
                shared: Some(shared),
                phase: Phase::Idle,
            };
            state.files.insert(r.path, entry);
        }
        state
    }

    /// Takes in a full scan made at `now`.
    pub fn observe(&mut self, now: Instant, scan: &Scan) -> Vec<Action> {
        let mut actions = Vec::new();
        self.drop_gone(scan);
        self.drop_gone_exclusions(scan);
        self.note_changes(now, scan);
        if self.in_flight.is_none() {
            if let Some((path, stamp)) = self.ready(now, scan) {
                self.start_job(path, stamp, &mut actions);
            }
        }
        self.settle_vanished(&mut actions);
        self.flush(&mut actions);
        actions
    }

    /// Gone: not in a scan that could have seen them. Their streams are held
    /// as vanished. A file being hashed or published is left to the check
    /// that follows its job.
    fn drop_gone(&mut self, scan: &Scan) {
        let gone: Vec<PathBuf> = self
            .files
            .iter()
            .filter(|(p, e)| {
                !matches!(e.phase, Phase::Publishing { .. } | Phase::Hashing { .. })
                    && !scan.files.contains_key(*p)
                    && scan.covers(p)
            })
            .map(|(p, _)| p.clone())
            .collect();
        for path in gone {
            if let Some(s) = self.files.remove(&path).and_then(|e| e.shared) {
                self.dirty = true;
                self.vanished.push(Record {
                    path,
                    stamp: s.stamp,
                    digest: s.digest,
                    sd: s.sd,
                });
            }
        }
    }

    /// New or changed: (re)start the debounce clock.
    fn note_changes(&mut self, now: Instant, scan: &Scan) {
        for (path, &stamp) in &scan.files {
            if is_ignored_path(path) || self.still_excluded(path, &stamp) {
                continue;
            }
            let entry = self.files.entry(path.clone()).or_insert(Entry {
                shared: None,
                phase: Phase::Idle,
            });
            let settled = match entry.phase {
                Phase::Publishing { .. } | Phase::Hashing { .. } => continue,
                Phase::Idle => match entry.shared {
                    Some(s) if s.stamp.same_version(&stamp) => continue,
                    shared => shared.map(|s| s.stamp),
                },
                Phase::Settling { stamp: s, .. } | Phase::Failed { stamp: s, .. } => Some(s),
            };
            if settled != Some(stamp) {
                entry.phase = Phase::Settling { stamp, since: now };
            }
        }
    }

    /// The first file (in path order) this scan saw unchanged long enough,
    /// or whose unchanged content was never hashed (a version 1 manifest).
    fn ready(&self, now: Instant, scan: &Scan) -> Option<(PathBuf, FileStamp)> {
        let timing = self.timing;
        self.files.iter().find_map(|(path, e)| {
            let seen = scan.files.get(path)?;
            let ready = match e.phase {
                Phase::Settling { stamp, since } => {
                    *seen == stamp && now.saturating_duration_since(since) >= timing.debounce
                }
                Phase::Failed { stamp, at } => {
                    *seen == stamp && now.saturating_duration_since(at) >= timing.retry
                }
                Phase::Idle => e
                    .shared
                    .is_some_and(|s| s.digest.is_none() && s.stamp.same_version(seen)),
                Phase::Publishing { .. } | Phase::Hashing { .. } => false,
            };
            ready.then(|| (path.clone(), *seen))
        })
    }

    /// Hashes the file first if a known stream has its size (its content may
    /// be known), else publishes it at once.
    fn start_job(&mut self, path: PathBuf, stamp: FileStamp, actions: &mut Vec<Action>) {
        let same_size = self.known().any(|r| r.stamp.size == stamp.size);
        let Some(entry) = self.files.get_mut(&path) else {
            return;
        };
        if same_size {
            entry.phase = Phase::Hashing { stamp };
            actions.push(Action::Hash {
                path: path.clone(),
                stamp,
            });
        } else {
            entry.phase = Phase::Publishing { stamp };
            actions.push(Action::Publish {
                path: path.clone(),
                stamp,
            });
        }
        self.in_flight = Some(path);
    }

    /// When a scan could make progress (a debounce or a retry ends); `None`
    /// while a job is in flight (its end brings a scan) or nothing waits.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.in_flight.is_some() {
            return None;
        }
        self.files
            .values()
            .filter_map(|e| match e.phase {
                Phase::Settling { since, .. } => Some(since + self.timing.debounce),
                Phase::Failed { at, .. } => Some(at + self.timing.retry),
                Phase::Idle | Phase::Publishing { .. } | Phase::Hashing { .. } => None,
            })
            .min()
    }

    /// The file whose job is in flight, if any.
    #[cfg(test)]
    pub fn in_flight(&self) -> Option<&Path> {
        self.in_flight.as_deref()
    }

    /// The files currently shared and their streams, sorted by path.
    pub fn shared(&self) -> Vec<(PathBuf, SdHash)> {
        self.files
            .iter()
            .filter_map(|(p, e)| e.shared.map(|s| (p.clone(), s.sd)))
            .collect()
    }

    /// What the manifest should hold, sorted by path: shared files, and
    /// vanished ones whose stream is still held (so a restart finds them).
    pub fn records(&self) -> Vec<Record> {
        let mut out: Vec<Record> = self.known().collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out.dedup_by(|later, first| later.path == first.path);
        out
    }

    /// Unpublishes `sd` unless another file (or vanished file) still holds it.
    fn release(&self, sd: SdHash, actions: &mut Vec<Action>) {
        let held = self.known().any(|r| r.sd == sd);
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

#[path = "state_identify.rs"]
mod identify;

#[path = "state_exclude.rs"]
mod exclude;

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
