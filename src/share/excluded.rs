//! Files of a share folder the user unpublished (`lbrymount unpublish`):
//! kept out of sharing while they stay unchanged.
//!
//! The share folder publishes every file it finds, so a file whose stream
//! was unpublished would be published again (with a new sd hash) at the next
//! rescan or restart. `<data-dir>/share-excluded.json`, beside the share
//! manifest, remembers each such file by folder, relative path and stamp
//! (size and mtime, as [`FileStamp::same_version`] compares them). While the
//! file keeps that stamp it is left alone; once it changes (edited, or
//! replaced) it is new content and is published again; once it is gone the
//! entry goes. The user's file is never touched. A separate file rather than
//! entries in the manifest: the manifest lists what is shared, and readers of
//! older manifests would take an excluded entry for a shared one.
//!
//! Written whole and atomically like the manifest; a file that does not
//! parse is reported and treated as empty (the files come back shared).

use super::state::FileStamp;
use crate::hash::SdHash;
use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};

/// The file's name in the data dir.
pub const FILE_NAME: &str = "share-excluded.json";

/// One unpublished file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exclusion {
    /// The share folder (absolute).
    pub dir: PathBuf,
    /// The file, relative to `dir`.
    pub path: PathBuf,
    pub size: u64,
    pub mtime_s: i64,
    pub mtime_ns: u32,
    /// The stream it was published as (for people reading the file).
    pub sd_hash: String,
}

impl Exclusion {
    pub fn new(dir: &Path, path: &Path, stamp: &FileStamp, sd: &SdHash) -> Exclusion {
        Exclusion {
            dir: dir.to_path_buf(),
            path: path.to_path_buf(),
            size: stamp.size,
            mtime_s: stamp.mtime_s,
            mtime_ns: stamp.mtime_ns,
            sd_hash: sd.to_hex(),
        }
    }

    /// Whether a file seen with `stamp` is still the excluded version.
    pub fn matches(&self, stamp: &FileStamp) -> bool {
        (self.size, self.mtime_s, self.mtime_ns) == (stamp.size, stamp.mtime_s, stamp.mtime_ns)
    }
}

#[derive(Serialize, Deserialize)]
struct FileJson {
    version: u32,
    files: Vec<Exclusion>,
}

/// The path of the list beside a share manifest.
pub fn beside(manifest: &Path) -> PathBuf {
    manifest.with_file_name(FILE_NAME)
}

/// Reads the list (empty if absent; reported and empty if unreadable).
pub fn load(path: &Path) -> Vec<Exclusion> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "cannot read the unpublished share files; they may be published again");
            return Vec::new();
        }
    };
    match serde_json::from_slice::<FileJson>(&bytes) {
        Ok(f) => f.files,
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "the unpublished share files list is corrupt; they may be published again");
            Vec::new()
        }
    }
}

/// Replaces the list; an empty list removes the file.
pub fn save(path: &Path, files: &[Exclusion]) -> io::Result<()> {
    if files.is_empty() {
        return match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    let json = FileJson {
        version: 1,
        files: files.to_vec(),
    };
    let mut bytes = serde_json::to_vec_pretty(&json).map_err(io::Error::other)?;
    bytes.push(b'\n');
    crate::atomic_file::write(path, &bytes)
}

/// Adds entries, replacing any for the same file.
pub fn add(path: &Path, new: Vec<Exclusion>) -> io::Result<()> {
    let mut files = load(path);
    files.retain(|f| !new.iter().any(|n| n.dir == f.dir && n.path == f.path));
    files.extend(new);
    save(path, &files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_match_only_their_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let stamp = FileStamp {
            size: 5,
            mtime_s: 10,
            mtime_ns: 3,
            ino: 9,
        };
        let sd: SdHash = "ab".repeat(48).parse().unwrap();
        let x = Exclusion::new(Path::new("/s"), Path::new("a b.txt"), &stamp, &sd);
        add(&path, vec![x.clone()]).unwrap();
        add(&path, vec![x.clone()]).unwrap();
        assert_eq!(load(&path), vec![x.clone()]);
        assert!(
            x.matches(&FileStamp { ino: 1, ..stamp }),
            "a new inode is the same version"
        );
        assert!(!x.matches(&FileStamp { size: 6, ..stamp }));
        save(&path, &[]).unwrap();
        assert!(!path.exists());
        std::fs::write(&path, "{").unwrap();
        assert!(load(&path).is_empty());
    }
}
