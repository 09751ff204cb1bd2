//! Files the user unpublished: out of the state, kept out while unchanged
//! (see `excluded.rs` for why and how they are remembered).

use super::{Entry, Phase, ShareState};
use crate::hash::SdHash;
use crate::share::excluded::Exclusion;
use crate::share::state::{FileStamp, Scan};
use std::path::{Path, PathBuf};

impl ShareState {
    /// Starts with these files kept out (paths relative to the folder).
    pub fn with_excluded(mut self, excluded: Vec<Exclusion>) -> Self {
        for x in excluded {
            self.files.remove(&x.path);
            self.excluded.insert(x.path.clone(), x);
        }
        self
    }

    /// Takes every idle file shared as `sd` out of sharing, kept out while
    /// unchanged; `dir` is the folder, for the record. The caller unpublishes
    /// the stream. Returns the files excluded.
    pub fn exclude(&mut self, dir: &Path, sd: &SdHash) -> Vec<PathBuf> {
        let paths: Vec<PathBuf> = self
            .files
            .iter()
            .filter(|(_, e)| e.shared.is_some_and(|s| s.sd == *sd))
            .filter(|(_, e)| e.phase == Phase::Idle)
            .map(|(p, _)| p.clone())
            .collect();
        for p in &paths {
            if let Some(s) = self.files.remove(p).and_then(|e| e.shared) {
                self.excluded
                    .insert(p.clone(), Exclusion::new(dir, p, &s.stamp, sd));
            }
        }
        self.vanished.retain(|r| r.sd != *sd);
        if !paths.is_empty() {
            self.dirty = true;
        }
        paths
    }

    /// The files kept out, sorted by path.
    pub fn excluded(&self) -> Vec<Exclusion> {
        self.excluded.values().cloned().collect()
    }

    /// Whether a scanned file is an excluded version (left alone). An
    /// exclusion whose file changed ends here: the file is new content.
    pub(super) fn still_excluded(&mut self, path: &Path, stamp: &FileStamp) -> bool {
        match self.excluded.get(path) {
            Some(x) if x.matches(stamp) => true,
            Some(_) => {
                self.excluded.remove(path);
                self.files.insert(
                    path.to_path_buf(),
                    Entry {
                        shared: None,
                        phase: Phase::Idle,
                    },
                );
                self.dirty = true;
                false
            }
            None => false,
        }
    }

    /// Exclusions of files this scan could see and did not: gone.
    pub(super) fn drop_gone_exclusions(&mut self, scan: &Scan) {
        let before = self.excluded.len();
        self.excluded
            .retain(|p, _| scan.files.contains_key(p) || !scan.covers(p));
        if self.excluded.len() != before {
            self.dirty = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::share::state::{Action, Record, ShareState, Timing};
    use crate::share::state::{FileStamp, Scan};
    use std::path::{Path, PathBuf};
    use std::time::{Duration, Instant};

    fn stamp(size: u64, mtime_s: i64) -> FileStamp {
        FileStamp {
            size,
            mtime_s,
            mtime_ns: 0,
            ino: 1,
        }
    }

    fn scan(files: &[(&str, FileStamp)]) -> Scan {
        Scan {
            files: files.iter().map(|(p, s)| (PathBuf::from(p), *s)).collect(),
            ..Scan::default()
        }
    }

    #[test]
    fn an_unpublished_file_stays_unpublished_until_it_changes() {
        let timing = Timing {
            debounce: Duration::from_secs(1),
            retry: Duration::from_secs(5),
        };
        let sd = "ab".repeat(48).parse().unwrap();
        let record = Record {
            path: "a.mkv".into(),
            stamp: stamp(10, 1),
            digest: Some([0; 48]),
            sd,
        };
        let mut st = ShareState::restore(timing, vec![record], |_| true);
        assert_eq!(
            st.exclude(Path::new("/s"), &sd),
            vec![PathBuf::from("a.mkv")]
        );
        assert!(st.shared().is_empty());
        let t0 = Instant::now();
        let same = scan(&[("a.mkv", stamp(10, 1))]);
        let actions = st.observe(t0, &same);
        assert_eq!(actions, vec![Action::WriteManifest]);
        let later = t0 + Duration::from_secs(10);
        assert!(st.observe(later, &same).is_empty(), "not published again");
        assert_eq!(st.excluded().len(), 1);
        // A new version is new content: published once it settles.
        let edited = scan(&[("a.mkv", stamp(11, 2))]);
        st.observe(later, &edited);
        let actions = st.observe(later + Duration::from_secs(2), &edited);
        assert!(
            actions.iter().any(|a| matches!(a, Action::Publish { .. })),
            "{actions:?}"
        );
        assert!(st.excluded().is_empty());
    }
}
