//! The share manifest: which stream each shared file was published as.
//!
//! A restart must not publish a file again under a new key, or the sd hash a
//! user handed out would stop working; so `<data-dir>/share.json` remembers,
//! per file, the stamp it was published from, the SHA-384 of its content and
//! its sd hash. Entries belong to the share folder they were found in (its
//! absolute path): a node started with another folder, or without its folder
//! (an unmounted disk), leaves them alone. Version 1 manifests (one folder,
//! not named; no digests) are still read. It is written
//! whole to a temporary file, synced and renamed into place, so a crash leaves
//! the old manifest or the new one, never half of one.
//!
//! A manifest that does not parse is an error the caller reports and then
//! treats as empty (every file is published anew); [`set_aside`] keeps the
//! bad file for inspection. Entries that parse but make no sense (a bad hash,
//! a path leaving the folder) are skipped one by one with a warning.

use super::state::{is_ignored_path, FileStamp, Record};
use crate::hash::SdHash;
use serde::{Deserialize, Serialize};
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The format version this code writes (it reads 1 too).
const VERSION: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("share manifest {path} is corrupt")]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("share manifest {path} has version {found}; this lbrymount reads version {VERSION}")]
    Version { path: PathBuf, found: u32 },
    #[error("cannot {op} share manifest {path}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl ManifestError {
    /// Whether the file exists but cannot be used (as opposed to an I/O failure).
    pub fn is_corrupt(&self) -> bool {
        matches!(self, Self::Corrupt { .. } | Self::Version { .. })
    }
}

#[derive(Serialize, Deserialize)]
struct FileJson {
    /// The relative path when it is UTF-8 …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    /// … else its raw bytes in hex (Linux file names are bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path_hex: Option<String>,
    size: u64,
    mtime_s: i64,
    mtime_ns: u32,
    ino: u64,
    /// SHA-384 of the content, hex (absent in version 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha384: Option<String>,
    sd_hash: String,
}

#[derive(Serialize, Deserialize)]
struct FolderJson {
    /// The folder's absolute path when it is UTF-8 …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dir: Option<String>,
    /// … else its raw bytes in hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dir_hex: Option<String>,
    /// The device (`st_dev`) it was on when last seen with files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dev: Option<u64>,
    files: Vec<FileJson>,
}

#[derive(Serialize, Deserialize)]
struct ManifestJson {
    version: u32,
    /// Version 1: the files of the one, unnamed, folder.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    files: Vec<FileJson>,
    /// Version 2.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    folders: Vec<FolderJson>,
}

/// The files published from one share folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    /// Its absolute path; `None` for a version 1 manifest, which did not say.
    pub dir: Option<PathBuf>,
    /// The device it was on (an empty folder on another one is an unmounted
    /// disk's mountpoint, not a folder whose files were all deleted).
    pub dev: Option<u64>,
    pub records: Vec<Record>,
}

/// The whole manifest: every share folder's files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub folders: Vec<Folder>,
}

impl Manifest {
    /// Takes out the files recorded for `dir` (none: empty).
    pub fn take(&mut self, dir: &Path) -> Vec<Record> {
        match self
            .folders
            .iter()
            .position(|f| f.dir.as_deref() == Some(dir))
        {
            Some(i) => self.folders.remove(i).records,
            None => Vec::new(),
        }
    }

    /// The files recorded for `dir`, if any.
    pub fn get(&self, dir: &Path) -> Option<&[Record]> {
        self.folders
            .iter()
            .find(|f| f.dir.as_deref() == Some(dir) && !f.records.is_empty())
            .map(|f| f.records.as_slice())
    }

    /// The device `dir` was recorded on, if known.
    pub fn dev(&self, dir: &Path) -> Option<u64> {
        self.folders
            .iter()
            .find(|f| f.dir.as_deref() == Some(dir))
            .and_then(|f| f.dev)
    }

    /// Takes out the files of a version 1 manifest (folder not named).
    pub fn take_unnamed(&mut self) -> Vec<Record> {
        match self.folders.iter().position(|f| f.dir.is_none()) {
            Some(i) => self.folders.remove(i).records,
            None => Vec::new(),
        }
    }

    /// This manifest with `records` as the files of `dir` (on `dev`), first.
    pub fn with(&self, dir: &Path, dev: Option<u64>, records: Vec<Record>) -> Manifest {
        let mut folders = vec![Folder {
            dir: Some(dir.to_path_buf()),
            dev,
            records,
        }];
        folders.extend(
            self.folders
                .iter()
                .filter(|f| f.dir.as_deref() != Some(dir))
                .cloned(),
        );
        folders.retain(|f| !f.records.is_empty());
        Manifest { folders }
    }
}

/// Reads the manifest at `path`; a missing file is an empty manifest.
pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Manifest::default()),
        Err(source) => {
            return Err(ManifestError::Io {
                op: "read",
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let json: ManifestJson =
        serde_json::from_slice(&bytes).map_err(|source| ManifestError::Corrupt {
            path: path.to_path_buf(),
            source,
        })?;
    let folders = match json.version {
        1 => vec![(None, None, json.files)],
        2 => json
            .folders
            .into_iter()
            .map(|f| (Some((f.dir, f.dir_hex)), f.dev, f.files))
            .collect(),
        found => {
            return Err(ManifestError::Version {
                path: path.to_path_buf(),
                found,
            })
        }
    };
    let mut manifest = Manifest::default();
    for (dir, dev, files) in folders {
        let dir = match dir {
            // Version 1, or a version 1 folder kept unnamed.
            None | Some((None, None)) => None,
            Some((utf8, hex)) => match decode_path(utf8.as_deref(), hex.as_deref()) {
                Some(d) if d.is_absolute() => Some(d),
                _ => {
                    tracing::warn!(manifest = %path.display(), "skipping a share manifest folder with a bad path");
                    continue;
                }
            },
        };
        let records = files.iter().filter_map(|f| checked(path, f)).collect();
        manifest.folders.push(Folder { dir, dev, records });
    }
    Ok(manifest)
}

/// The record of an entry, or `None` with a warning if it makes no sense.
fn checked(manifest: &Path, f: &FileJson) -> Option<Record> {
    let r = record(f);
    if r.is_none() {
        tracing::warn!(
            manifest = %manifest.display(),
            entry = ?f.path.as_deref().or(f.path_hex.as_deref()),
            "skipping a share manifest entry with a bad path, digest or sd hash"
        );
    }
    r
}

fn decode_path(utf8: Option<&str>, hex: Option<&str>) -> Option<PathBuf> {
    match (utf8, hex) {
        (Some(p), None) => Some(PathBuf::from(p)),
        (None, Some(h)) => Some(PathBuf::from(OsStr::from_bytes(&hex::decode(h).ok()?))),
        _ => None,
    }
}

fn encode_path(p: &Path) -> (Option<String>, Option<String>) {
    match p.to_str() {
        Some(s) => (Some(s.to_owned()), None),
        None => (None, Some(hex::encode(p.as_os_str().as_bytes()))),
    }
}

fn record(f: &FileJson) -> Option<Record> {
    let rel = decode_path(f.path.as_deref(), f.path_hex.as_deref())?;
    if is_ignored_path(&rel) {
        return None;
    }
    let digest = match &f.sha384 {
        None => None,
        Some(h) => Some(<[u8; 48]>::try_from(hex::decode(h).ok()?).ok()?),
    };
    Some(Record {
        path: rel,
        stamp: FileStamp {
            size: f.size,
            mtime_s: f.mtime_s,
            mtime_ns: f.mtime_ns,
            ino: f.ino,
        },
        digest,
        sd: f.sd_hash.parse::<SdHash>().ok()?,
    })
}

fn file_json(r: &Record) -> FileJson {
    let (path, path_hex) = encode_path(&r.path);
    FileJson {
        path,
        path_hex,
        size: r.stamp.size,
        mtime_s: r.stamp.mtime_s,
        mtime_ns: r.stamp.mtime_ns,
        ino: r.stamp.ino,
        sha384: r.digest.map(hex::encode),
        sd_hash: r.sd.to_hex(),
    }
}

/// Writes `manifest` at `path`, atomically.
pub fn save(path: &Path, manifest: &Manifest) -> Result<(), ManifestError> {
    let folders = manifest
        .folders
        .iter()
        .map(|f| {
            let (dir, dir_hex) = f.dir.as_deref().map(encode_path).unwrap_or_default();
            FolderJson {
                dir,
                dir_hex,
                dev: f.dev,
                files: f.records.iter().map(file_json).collect(),
            }
        })
        .collect();
    let json = ManifestJson {
        version: VERSION,
        files: Vec::new(),
        folders,
    };
    let io_err = |op: &'static str| {
        move |source| ManifestError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    };
    let mut bytes =
        serde_json::to_vec_pretty(&json).map_err(|e| io_err("encode")(io::Error::other(e)))?;
    bytes.push(b'\n');
    crate::atomic_file::write(path, &bytes).map_err(io_err("write"))
}

/// Renames an unusable manifest to `<name>.corrupt` so the next save does not
/// overwrite it; returns the new name, or `None` if that failed.
pub fn set_aside(path: &Path) -> Option<PathBuf> {
    let to = sibling(path, ".corrupt");
    std::fs::rename(path, &to).ok().map(|()| to)
}

/// `path` with `suffix` appended to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

#[cfg(test)]
#[path = "manifest_tests.rs"]
mod tests;
