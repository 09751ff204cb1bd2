//! Folders of the share folder published as collections
//! (docs/protocol.md §12): which collection each folder should have now, which it has, and
//! which streams may go when it changes. Pure: the driver feeds it the
//! shared files and carries out what it says.
//!
//! Each folder directly inside the share folder is one collection of every
//! file below it (top-level files stay single streams, as ever). When the
//! folder's files change, a new collection is published and the one before
//! is kept, whole: its descriptor and every file stream it names stay
//! published even if the files changed since, so a link handed out a moment
//! ago keeps working. The collection before that is released, and with it
//! the streams nothing else holds. What is kept is saved beside the share
//! manifest, so a restart neither loses nor leaks it.

use super::state::Record;
use crate::collection::{Collection, Entry};
use crate::hash::SdHash;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Component, Path};

/// A published collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kept {
    #[serde(with = "hex_sd")]
    pub sd: SdHash,
    /// The file streams it names.
    #[serde(with = "hex_sds")]
    pub files: Vec<SdHash>,
    /// Its document, when known (not after a restart: published again, it
    /// gets the same sd hash).
    #[serde(skip)]
    pub doc: Option<Collection>,
}

/// One folder's collections.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderColl {
    pub current: Option<Kept>,
    pub previous: Option<Kept>,
}

/// Every folder's collections, by folder name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collections {
    pub folders: BTreeMap<String, FolderColl>,
}

/// What the driver must do for one folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Publish this document as `<folder>.lbrycollection`.
    Publish { folder: String, doc: Collection },
    /// The folder has no file any more: release its collections.
    Retire { folder: String },
}

/// The collection each folder should have, from the shared files' records.
/// A file whose path is not UTF-8 cannot be named in a collection: it is
/// left out, with a warning.
pub fn desired(records: &[Record]) -> BTreeMap<String, Collection> {
    let mut by_folder: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    for r in records {
        let Some((folder, rel)) = split(&r.path) else {
            continue;
        };
        by_folder.entry(folder).or_default().push(Entry {
            path: rel,
            sd: r.sd,
            size: r.stamp.size,
            sha384: r.digest,
        });
    }
    by_folder
        .into_iter()
        .filter_map(|(folder, entries)| match Collection::new(entries) {
            Ok(doc) => Some((folder, doc)),
            Err(e) => {
                tracing::warn!(%folder, error = %e, "this folder cannot be published as a collection");
                None
            }
        })
        .collect()
}

/// `photos/a/b.txt` → (`photos`, `a/b.txt`); `None` for a top-level file.
fn split(path: &Path) -> Option<(String, String)> {
    let mut parts = Vec::new();
    for c in path.components() {
        let Component::Normal(name) = c else {
            return None;
        };
        match name.to_str() {
            Some(n) => parts.push(n),
            None => {
                tracing::warn!(file = %path.display(), "a name that is not UTF-8 cannot be in a collection; left out");
                return None;
            }
        }
    }
    if parts.len() < 2 {
        return None;
    }
    Some((parts[0].to_owned(), parts[1..].join("/")))
}

impl Collections {
    /// Whether a kept collection holds `sd` (its descriptor or one of its files).
    pub fn holds(&self, sd: &SdHash) -> bool {
        self.kept().any(|k| k.sd == *sd || k.files.contains(sd))
    }

    fn kept(&self) -> impl Iterator<Item = &Kept> {
        self.folders
            .values()
            .flat_map(|f| f.current.iter().chain(f.previous.iter()))
    }

    /// What to do so that every folder has `desired`.
    pub fn changes(&self, desired: &BTreeMap<String, Collection>) -> Vec<Change> {
        let mut out: Vec<Change> = desired
            .iter()
            .filter(|(folder, doc)| {
                let current = self.folders.get(*folder).and_then(|f| f.current.as_ref());
                current.and_then(|k| k.doc.as_ref()) != Some(*doc)
            })
            .map(|(folder, doc)| Change::Publish {
                folder: folder.clone(),
                doc: doc.clone(),
            })
            .collect();
        out.extend(
            self.folders
                .keys()
                .filter(|f| !desired.contains_key(*f))
                .map(|f| Change::Retire { folder: f.clone() }),
        );
        out
    }

    /// `doc` was published for `folder` as `sd`; returns the streams that
    /// may now go (the caller keeps those the share folder still shares).
    pub fn published(&mut self, folder: &str, sd: SdHash, doc: Collection) -> Vec<SdHash> {
        let files = doc.entries().iter().map(|e| e.sd).collect();
        let kept = Kept {
            sd,
            files,
            doc: Some(doc),
        };
        let f = self.folders.entry(folder.to_owned()).or_default();
        if f.current.as_ref().is_some_and(|k| k.sd == sd) {
            f.current = Some(kept);
            return Vec::new();
        }
        let dropped = std::mem::replace(&mut f.previous, f.current.replace(kept));
        self.unheld(dropped.into_iter().collect())
    }

    /// Releases `folder`'s collections; returns the streams that may go.
    pub fn retire(&mut self, folder: &str) -> Vec<SdHash> {
        let Some(f) = self.folders.remove(folder) else {
            return Vec::new();
        };
        self.unheld(f.current.into_iter().chain(f.previous).collect())
    }

    /// The streams of `gone` that no kept collection holds.
    fn unheld(&self, gone: Vec<Kept>) -> Vec<SdHash> {
        let mut out: Vec<SdHash> = gone
            .into_iter()
            .flat_map(|k| std::iter::once(k.sd).chain(k.files))
            .filter(|sd| !self.holds(sd))
            .collect();
        out.sort_by_key(SdHash::to_hex);
        out.dedup();
        out
    }

    /// Each folder's current collection.
    #[cfg(test)]
    pub fn current(&self) -> Vec<(String, SdHash)> {
        self.folders
            .iter()
            .filter_map(|(name, f)| f.current.as_ref().map(|k| (name.clone(), k.sd)))
            .collect()
    }
}

mod hex_sd {
    use crate::hash::SdHash;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(sd: &SdHash, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&sd.to_hex())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SdHash, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

mod hex_sds {
    use crate::hash::SdHash;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(sds: &[SdHash], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(sds.iter().map(SdHash::to_hex))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SdHash>, D::Error> {
        let v = Vec::<String>::deserialize(d)?;
        v.iter()
            .map(|s| s.parse().map_err(serde::de::Error::custom))
            .collect()
    }
}

/// Where the kept collections of share folder `dir` (absolute) are saved:
/// beside the share manifest, one file per folder, so a node started with
/// another folder leaves them alone, as it leaves the folder's files.
pub fn kept_path(manifest: &Path, dir: &Path) -> std::path::PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let id = crate::sha384::Sha384::digest(dir.as_os_str().as_bytes());
    manifest.with_file_name(format!("share-collections-{}.json", hex::encode(&id[..8])))
}

/// Loads what was kept (a missing or unreadable file: nothing kept).
pub fn load(path: &Path) -> Collections {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            tracing::warn!(file = %path.display(), error = %e, "the kept collections cannot be read; earlier collections are no longer kept");
            Collections::default()
        }),
        Err(_) => Collections::default(),
    }
}

/// Saves what is kept, atomically.
pub fn save(path: &Path, c: &Collections) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(c).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    crate::atomic_file::write(path, &bytes)
}

#[cfg(test)]
#[path = "collections_tests.rs"]
mod tests;
