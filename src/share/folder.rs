//! Which share folder this is, and which manifest entries are its own.
//!
//! The manifest's entries belong to the folder they were published from. A
//! node started with another `--share`, or while its folder is missing (an
//! unmounted disk, a typo), must not take that folder's files for deleted:
//! doing so would unpublish them, and publishing them again later gives new
//! sd hashes, so every hash handed out would be dead. So entries are looked
//! up by the folder's absolute path; other folders' entries are left alone
//! (their streams stay published, unwatched), and a missing folder that has
//! entries is not created but waited for, its streams kept published.
//!
//! While the node runs, the folder can go too: a scan that cannot read it
//! takes nothing for deleted, and [`Root`] also treats an *empty* folder on
//! another file system than before as gone (the mountpoint left behind by an
//! unmounted disk), so sharing pauses instead of unpublishing everything.

use super::manifest::Manifest;
use super::state::{Record, Scan};
use super::ShareError;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::watch;

/// Where the share folder stands at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Presence {
    /// It is there (canonical path).
    Here(PathBuf),
    /// It is missing but has manifest entries: it is waited for, not created.
    Missing(PathBuf),
}

impl Presence {
    pub fn dir(&self) -> &Path {
        match self {
            Presence::Here(d) | Presence::Missing(d) => d,
        }
    }
}

/// `dir` made absolute, with the links of the part that exists resolved
/// (so a missing folder gets the name it had when it was there).
pub(super) fn resolve(dir: &Path) -> std::io::Result<PathBuf> {
    let abs = std::path::absolute(dir)?;
    let mut base = abs.as_path();
    let mut rest = Vec::new();
    loop {
        match std::fs::canonicalize(base) {
            Ok(c) => {
                return Ok(rest
                    .iter()
                    .rev()
                    .fold(c, |p, n: &&std::ffi::OsStr| p.join(n)))
            }
            Err(e) => match (base.parent(), base.file_name()) {
                (Some(parent), Some(name)) => {
                    rest.push(name);
                    base = parent;
                }
                _ => return Err(e),
            },
        }
    }
}

/// Finds the share folder: there, missing with entries (waited for), or
/// missing without (created, as on a first run).
pub(super) fn open(dir: &Path, manifest: &Manifest) -> Result<Presence, ShareError> {
    let create_err = |source| ShareError::CreateDir {
        path: dir.to_path_buf(),
        source,
    };
    let resolved = resolve(dir).map_err(create_err)?;
    match std::fs::metadata(&resolved) {
        Ok(m) if m.is_dir() => Ok(Presence::Here(resolved)),
        Ok(_) => Err(ShareError::NotAFolder(dir.to_path_buf())),
        Err(_) if manifest.get(&resolved).is_some() => Ok(Presence::Missing(resolved)),
        Err(_) => {
            std::fs::create_dir_all(dir).map_err(create_err)?;
            let dir = std::fs::canonicalize(dir).map_err(create_err)?;
            Ok(Presence::Here(dir))
        }
    }
}

/// Splits the manifest into this folder's entries and the rest. Entries of
/// a version 1 manifest (folder not named) are taken as this folder's if
/// one of their files is there; else they stay as they are.
pub(super) fn split(mut manifest: Manifest, dir: &Path) -> (Vec<Record>, Manifest) {
    let mut own = manifest.take(dir);
    if own.is_empty() {
        let unnamed = manifest.take_unnamed();
        if unnamed.iter().any(|r| dir.join(&r.path).is_file()) {
            tracing::info!(
                files = unnamed.len(),
                "the share manifest (version 1) did not name its folder; its files are this folder's"
            );
            own = unnamed;
        } else if !unnamed.is_empty() {
            manifest.folders.push(super::manifest::Folder {
                dir: None,
                dev: None,
                records: unnamed,
            });
        }
    }
    (own, manifest)
}

/// The other folders with entries, and how many each has (for the log and `status`).
pub(super) fn others(manifest: &Manifest) -> Vec<(PathBuf, usize)> {
    manifest
        .folders
        .iter()
        .filter(|f| !f.records.is_empty())
        .map(|f| (f.dir.clone().unwrap_or_default(), f.records.len()))
        .collect()
}

/// The device the folder at `dir` is on; `None` if it is not there.
pub(super) fn device(dir: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(dir)
        .ok()
        .filter(std::fs::Metadata::is_dir)
        .map(|m| m.dev())
}

/// Why a scan's view of the folder root cannot be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Blind {
    /// It cannot be read (missing, its disk gone).
    Unreadable,
    /// It is empty and on another file system than before: an unmounted disk's mountpoint.
    OtherDevice,
}

/// What is known of the folder root between scans: the device it is on.
#[derive(Debug, Default)]
pub(super) struct Root {
    dev: Option<u64>,
}

impl Root {
    /// A root last seen on `dev` (from the manifest; `None`: not known).
    pub fn new(dev: Option<u64>) -> Self {
        Self { dev }
    }

    /// The device the folder was last seen on with files.
    pub fn dev(&self) -> Option<u64> {
        self.dev
    }

    /// Checks one scan, given the root's device (`dev`, read with it) and
    /// whether any file is shared; a blind scan is marked as not covering
    /// the folder, so nothing in it counts as deleted.
    pub fn check(&mut self, scan: &mut Scan, dev: Option<u64>, shares: bool) -> Option<Blind> {
        let root = PathBuf::new();
        let blind = match (dev, self.dev) {
            (None, _) => Some(Blind::Unreadable),
            (Some(d), Some(before)) if d != before && scan.files.is_empty() && shares => {
                Some(Blind::OtherDevice)
            }
            (Some(d), _) => {
                self.dev = Some(d);
                None
            }
        };
        if blind.is_some() && !scan.unreadable.contains(&root) {
            scan.unreadable.push(root);
        }
        blind
    }
}

/// Waits until `dir` is a folder again, looking every `every`; its
/// canonical path, or `None` if `stop` came first.
pub(super) async fn wait_for(
    dir: &Path,
    every: Duration,
    stop: &mut watch::Receiver<bool>,
) -> Option<PathBuf> {
    loop {
        let d = dir.to_path_buf();
        let back = crate::blocking::run(move || {
            std::fs::metadata(&d)
                .ok()
                .filter(std::fs::Metadata::is_dir)
                .and_then(|_| std::fs::canonicalize(&d).ok())
        })
        .await
        .ok()
        .flatten();
        if back.is_some() {
            return back;
        }
        tokio::select! {
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    return None;
                }
            }
            () = tokio::time::sleep(every) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::SdHash;
    use crate::share::manifest::Folder;
    use crate::share::state::FileStamp;

    fn rec(path: &str) -> Record {
        Record {
            path: path.into(),
            stamp: FileStamp {
                size: 1,
                mtime_s: 1,
                mtime_ns: 0,
                ino: 1,
            },
            digest: None,
            sd: SdHash::from_bytes([1; 48]),
        }
    }

    fn manifest(dir: Option<&Path>, files: &[&str]) -> Manifest {
        Manifest {
            folders: vec![Folder {
                dir: dir.map(Path::to_path_buf),
                dev: None,
                records: files.iter().map(|f| rec(f)).collect(),
            }],
        }
    }

    #[test]
    fn an_empty_folder_on_another_device_is_blind_until_it_has_files() {
        let mut root = Root::default();
        let mut seen = Scan::default();
        seen.files.insert("a".into(), rec("a").stamp);
        assert_eq!(root.check(&mut seen.clone(), Some(1), true), None);
        // Unmounted: the empty mountpoint on the parent's file system.
        let mut empty = Scan::default();
        assert_eq!(
            root.check(&mut empty, Some(2), true),
            Some(Blind::OtherDevice)
        );
        assert_eq!(empty.unreadable, vec![PathBuf::new()]);
        // Empty on the same device: the files were deleted.
        assert_eq!(root.check(&mut Scan::default(), Some(1), true), None);
        // Gone altogether.
        let mut gone = Scan::default();
        assert_eq!(root.check(&mut gone, None, true), Some(Blind::Unreadable));
        assert_eq!(gone.unreadable, vec![PathBuf::new()]);
        // Mounted again, maybe under another device number: files are there.
        assert_eq!(root.check(&mut seen.clone(), Some(3), true), None);
        assert_eq!(root.dev(), Some(3));
        assert_eq!(root.check(&mut Scan::default(), Some(4), false), None);

        // Started while the disk is unmounted: the manifest knows its device.
        let mut root = Root::new(Some(1));
        assert_eq!(
            root.check(&mut Scan::default(), Some(2), true),
            Some(Blind::OtherDevice)
        );
    }

    #[test]
    fn a_missing_folder_with_entries_is_not_created() {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        let dir = root.join("usb/share");
        let m = manifest(Some(&dir), &["a"]);
        assert_eq!(open(&dir, &m).unwrap(), Presence::Missing(dir.clone()));
        assert!(!dir.exists());
        // Without entries (a first run, a new folder) it is created.
        let other = root.join("new");
        let got = open(&other, &m).unwrap();
        assert_eq!(got, Presence::Here(other.clone()));
        assert!(other.is_dir());
    }

    #[test]
    fn resolve_names_a_missing_folder_as_it_was_named_when_there() {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        std::fs::create_dir(root.join("real")).unwrap();
        std::os::unix::fs::symlink(root.join("real"), root.join("link")).unwrap();
        assert_eq!(
            resolve(&root.join("link/gone/share")).unwrap(),
            root.join("real/gone/share")
        );
    }

    #[test]
    fn split_keeps_other_folders_and_adopts_a_version_1_manifest_that_fits() {
        let tmp = tempfile::tempdir().unwrap();
        let here = tmp.path();
        std::fs::write(here.join("a"), b"x").unwrap();
        let mut m = manifest(Some(Path::new("/elsewhere")), &["b"]);
        m.folders.push(Folder {
            dir: None,
            dev: None,
            records: vec![rec("a")],
        });
        let (own, rest) = split(m.clone(), here);
        assert_eq!(own, vec![rec("a")]);
        assert_eq!(others(&rest), vec![(PathBuf::from("/elsewhere"), 1)]);

        // A version 1 manifest none of whose files is here stays unnamed.
        let empty = tempfile::tempdir().unwrap();
        let (own, rest) = split(m, empty.path());
        assert!(own.is_empty());
        assert_eq!(rest.folders.len(), 2);
    }
}
