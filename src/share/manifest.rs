//! The share manifest: which stream each shared file was published as.
//!
//! A restart must not publish a file again under a new key, or the sd hash a
//! user handed out would stop working; so `<data-dir>/share.json` remembers,
//! per file, the stamp it was published from and its sd hash. It is written
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

/// The format version this code writes and reads.
const VERSION: u32 = 1;

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
    sd_hash: String,
}

#[derive(Serialize, Deserialize)]
struct ManifestJson {
    version: u32,
    files: Vec<FileJson>,
}

/// Reads the manifest at `path`; a missing file is an empty manifest.
pub fn load(path: &Path) -> Result<Vec<Record>, ManifestError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
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
    if json.version != VERSION {
        return Err(ManifestError::Version {
            path: path.to_path_buf(),
            found: json.version,
        });
    }
    let mut records = Vec::with_capacity(json.files.len());
    for f in json.files {
        match record(&f) {
            Some(r) => records.push(r),
            None => tracing::warn!(
                manifest = %path.display(),
                entry = ?f.path.as_deref().or(f.path_hex.as_deref()),
                "skipping a share manifest entry with a bad path or sd hash"
            ),
        }
    }
    Ok(records)
}

fn record(f: &FileJson) -> Option<Record> {
    let rel = match (&f.path, &f.path_hex) {
        (Some(p), None) => PathBuf::from(p),
        (None, Some(h)) => PathBuf::from(OsStr::from_bytes(&hex::decode(h).ok()?)),
        _ => return None,
    };
    if is_ignored_path(&rel) {
        return None;
    }
    Some(Record {
        path: rel,
        stamp: FileStamp {
            size: f.size,
            mtime_s: f.mtime_s,
            mtime_ns: f.mtime_ns,
            ino: f.ino,
        },
        sd: f.sd_hash.parse::<SdHash>().ok()?,
    })
}

/// Writes `records` as the manifest at `path`, atomically.
pub fn save(path: &Path, records: &[Record]) -> Result<(), ManifestError> {
    let files = records
        .iter()
        .map(|r| {
            let (utf8, hex) = match r.path.to_str() {
                Some(s) => (Some(s.to_owned()), None),
                None => (None, Some(hex::encode(r.path.as_os_str().as_bytes()))),
            };
            FileJson {
                path: utf8,
                path_hex: hex,
                size: r.stamp.size,
                mtime_s: r.stamp.mtime_s,
                mtime_ns: r.stamp.mtime_ns,
                ino: r.stamp.ino,
                sd_hash: r.sd.to_hex(),
            }
        })
        .collect();
    let json = ManifestJson {
        version: VERSION,
        files,
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
mod tests {
    use super::*;

    fn rec(path: PathBuf, n: u8) -> Record {
        Record {
            path,
            stamp: FileStamp {
                size: 1 << 40,
                mtime_s: -5,
                mtime_ns: 999_999_999,
                ino: u64::MAX,
            },
            sd: SdHash::from_bytes([n; 48]),
        }
    }

    #[test]
    fn round_trips_including_non_utf8_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/share.json");
        let odd = PathBuf::from(OsStr::from_bytes(b"sub/caf\xe9.txt"));
        let records = vec![rec("a b/ü.mkv".into(), 1), rec(odd, 2)];
        save(&path, &records).unwrap();
        assert_eq!(load(&path).unwrap(), records);
        assert!(
            !crate::atomic_file::temp_path(&path).exists(),
            "the temporary file is renamed away"
        );
        // Saving again replaces it whole.
        save(&path, &records[..1]).unwrap();
        assert_eq!(load(&path).unwrap(), records[..1]);
    }

    #[test]
    fn a_missing_manifest_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(&dir.path().join("share.json")).unwrap(), vec![]);
    }

    #[test]
    fn corrupt_and_future_manifests_are_reported_and_can_be_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("share.json");
        std::fs::write(&path, b"{\"version\":1,\"files\":[{\"pa").unwrap();
        let e = load(&path).unwrap_err();
        assert!(e.is_corrupt(), "{e}");
        assert!(e.to_string().contains("corrupt"), "{e}");
        let aside = set_aside(&path).unwrap();
        assert!(aside.ends_with("share.json.corrupt") && aside.exists() && !path.exists());

        std::fs::write(&path, b"{\"version\":9,\"files\":[]}").unwrap();
        assert!(matches!(
            load(&path),
            Err(ManifestError::Version { found: 9, .. })
        ));
    }

    #[test]
    fn bad_entries_are_skipped_one_by_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("share.json");
        let good = SdHash::from_bytes([3; 48]).to_hex();
        let text = format!(
            r#"{{"version":1,"files":[
              {{"path":"ok","size":1,"mtime_s":2,"mtime_ns":3,"ino":4,"sd_hash":"{good}"}},
              {{"path":"bad-hash","size":1,"mtime_s":2,"mtime_ns":3,"ino":4,"sd_hash":"xyz"}},
              {{"path":"../escape","size":1,"mtime_s":2,"mtime_ns":3,"ino":4,"sd_hash":"{good}"}},
              {{"size":1,"mtime_s":2,"mtime_ns":3,"ino":4,"sd_hash":"{good}"}}
            ]}}"#
        );
        std::fs::write(&path, text).unwrap();
        let got = load(&path).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].path, PathBuf::from("ok"));
    }

    #[test]
    fn an_unreadable_manifest_is_an_io_error_not_corruption() {
        let dir = tempfile::tempdir().unwrap();
        // A folder where the file should be: reading it fails.
        let e = load(dir.path()).unwrap_err();
        assert!(!e.is_corrupt(), "{e}");
    }
}
