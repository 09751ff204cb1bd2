//! Collections: a folder tree named by one sd hash (docs/protocol.md §12).
//!
//! A collection is a small JSON document listing every file of a tree (its
//! relative path, the sd hash of the stream holding it, its size and, when
//! known, the SHA-384 of its content), stored as an ordinary LBRY stream so
//! that any LBRY peer stores and serves its blobs like any others. A reader
//! knows a stream is a collection from two things, never by guessing: the
//! sd blob's suggested file name ends in [`SUFFIX`], and the content is a
//! JSON object whose first key is [`MAGIC`] with a version this code reads.
//!
//! This module is pure: bytes in, a checked [`Collection`] out, and back.
//! The rules are strict because a collection comes from anyone and its
//! paths become paths on the reader's disk: relative, `/`-separated, no
//! empty, `.` or `..` component, no NUL, each name at most 255 bytes, no two
//! entries with one path, no path that is both a file and a folder, at most
//! [`MAX_ENTRIES`] entries and [`MAX_BYTES`] bytes. Entries that are
//! themselves collections are not followed (they are plain files in the
//! tree), so a collection cannot form a cycle.
//!
//! [`Collection::to_bytes`] is canonical (entries sorted by path, no
//! whitespace, fixed key order), and the share folder publishes it with a
//! key derived from these bytes ([`stream_key`]), so the same tree always
//! gets the same sd hash.

pub mod tree;

use crate::hash::SdHash;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The file-name suffix that marks a collection stream.
pub const SUFFIX: &str = ".lbrycollection";
/// The first key of a collection document; its value is the format version.
pub const MAGIC: &str = "lbrymount_collection";
/// The format version this code writes and reads.
pub const VERSION: u32 = 1;
/// Most entries a collection may list.
pub const MAX_ENTRIES: usize = 100_000;
/// Largest collection document, in bytes.
pub const MAX_BYTES: usize = 16 << 20;
/// Longest path, and longest component, in bytes.
const MAX_PATH: usize = 4096;
const MAX_NAME: usize = 255;

/// One file of a collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Relative, `/`-separated, checked (see the module docs).
    pub path: String,
    pub sd: SdHash,
    /// Plaintext size in bytes.
    pub size: u64,
    /// SHA-384 of the content, if the publisher knew it.
    pub sha384: Option<[u8; 48]>,
}

/// A checked collection: entries sorted by path, no clashes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Collection {
    entries: Vec<Entry>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CollectionError {
    #[error("collection is {0} bytes; at most {MAX_BYTES} are accepted")]
    TooBig(usize),
    #[error("collection lists {0} entries; at most {MAX_ENTRIES} are accepted")]
    TooManyEntries(usize),
    #[error("not a collection document: {0}")]
    NotJson(String),
    #[error("collection format version {0}; this lbrymount reads version {VERSION}")]
    Version(u32),
    #[error("collection path {path:?} is refused: {why}")]
    BadPath { path: String, why: &'static str },
    #[error("collection lists {0:?} twice")]
    Duplicate(String),
    #[error("collection path {0:?} is both a file and a folder")]
    FileAndFolder(String),
    #[error("collection entry {path:?} has a bad {field}")]
    BadField { path: String, field: &'static str },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryJson {
    path: String,
    sd_hash: String,
    size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha384: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DocJson {
    lbrymount_collection: u32,
    entries: Vec<EntryJson>,
}

/// Whether a stream named `name` (its sd blob's suggested file name) is
/// announced as a collection.
pub fn is_collection_name(name: &[u8]) -> bool {
    name.len() > SUFFIX.len() && name.ends_with(SUFFIX.as_bytes())
}

/// The stream key a collection with content `bytes` is published under:
/// derived from the bytes, so one tree always gets one sd hash.
pub fn stream_key(bytes: &[u8]) -> [u8; 16] {
    let mut h = crate::sha384::Sha384::new();
    h.update(b"lbrymount-collection-key\0");
    h.update(bytes);
    let d = h.finalize();
    let mut key = [0u8; 16];
    key.copy_from_slice(&d[..16]);
    key
}

impl Collection {
    /// A collection of `entries`, checked like a parsed one.
    pub fn new(entries: Vec<Entry>) -> Result<Self, CollectionError> {
        if entries.len() > MAX_ENTRIES {
            return Err(CollectionError::TooManyEntries(entries.len()));
        }
        for e in &entries {
            check_path(&e.path)?;
        }
        let mut entries = entries;
        entries.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
        check_clashes(&entries)?;
        Ok(Self { entries })
    }

    /// Parses and checks a collection document.
    pub fn parse(bytes: &[u8]) -> Result<Self, CollectionError> {
        if bytes.len() > MAX_BYTES {
            return Err(CollectionError::TooBig(bytes.len()));
        }
        if !starts_with_magic(bytes) {
            return Err(CollectionError::NotJson(format!(
                "it does not begin with {{\"{MAGIC}\":"
            )));
        }
        let doc: DocJson =
            serde_json::from_slice(bytes).map_err(|e| CollectionError::NotJson(e.to_string()))?;
        if doc.lbrymount_collection != VERSION {
            return Err(CollectionError::Version(doc.lbrymount_collection));
        }
        if doc.entries.len() > MAX_ENTRIES {
            return Err(CollectionError::TooManyEntries(doc.entries.len()));
        }
        let entries = doc
            .entries
            .into_iter()
            .map(entry)
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(entries)
    }

    /// The canonical document: same entries, same bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let doc = DocJson {
            lbrymount_collection: VERSION,
            entries: self
                .entries
                .iter()
                .map(|e| EntryJson {
                    path: e.path.clone(),
                    sd_hash: e.sd.to_hex(),
                    size: e.size,
                    sha384: e.sha384.map(hex::encode),
                })
                .collect(),
        };
        // Serializing plain strings and numbers cannot fail.
        serde_json::to_vec(&doc).unwrap_or_default()
    }

    /// Entries sorted by path (bytewise).
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Sum of the files' sizes.
    pub fn total_size(&self) -> u64 {
        self.entries.iter().map(|e| e.size).sum()
    }
}

/// `{"lbrymount_collection":`, allowing whitespace as JSON does.
fn starts_with_magic(bytes: &[u8]) -> bool {
    let mut rest = bytes.trim_ascii_start();
    let Some(r) = rest.strip_prefix(b"{") else {
        return false;
    };
    rest = r.trim_ascii_start();
    let key = format!("\"{MAGIC}\"");
    let Some(r) = rest.strip_prefix(key.as_bytes()) else {
        return false;
    };
    r.trim_ascii_start().starts_with(b":")
}

fn entry(j: EntryJson) -> Result<Entry, CollectionError> {
    let bad = |field| CollectionError::BadField {
        path: j.path.clone(),
        field,
    };
    let sd = j.sd_hash.parse::<SdHash>().map_err(|_| bad("sd_hash"))?;
    let sha384 = match &j.sha384 {
        None => None,
        Some(h) => Some(crate::hash::parse_hex48(h).map_err(|_| bad("sha384"))?),
    };
    Ok(Entry {
        path: j.path,
        sd,
        size: j.size,
        sha384,
    })
}

/// Checks one path against the rules of the module docs.
pub fn check_path(path: &str) -> Result<(), CollectionError> {
    let bad = |why| {
        Err(CollectionError::BadPath {
            path: path.to_owned(),
            why,
        })
    };
    if path.is_empty() {
        return bad("it is empty");
    }
    if path.starts_with('/') {
        return bad("it is absolute");
    }
    if path.contains('\0') {
        return bad("it contains NUL");
    }
    if path.len() > MAX_PATH {
        return bad("it is longer than 4096 bytes");
    }
    for c in path.split('/') {
        match c {
            "" => return bad("it has an empty component"),
            "." => return bad("it has a `.` component"),
            ".." => return bad("it has a `..` component"),
            c if c.len() > MAX_NAME => return bad("a component is longer than 255 bytes"),
            _ => {}
        }
    }
    Ok(())
}

/// Duplicates, and a path that is a file and the folder of another entry.
fn check_clashes(entries: &[Entry]) -> Result<(), CollectionError> {
    check_tree(entries.iter().map(|e| e.path.as_str()))
}

/// Refuses a duplicate path, or a path that is both a file and the folder
/// of another; for any list of file paths (collections, torrents).
pub fn check_tree<'a>(paths: impl IntoIterator<Item = &'a str>) -> Result<(), CollectionError> {
    let mut files = BTreeSet::new();
    let mut dirs = BTreeSet::new();
    for path in paths {
        if !files.insert(path) {
            return Err(CollectionError::Duplicate(path.to_owned()));
        }
        let mut at = 0;
        while let Some(i) = path[at..].find('/') {
            dirs.insert(&path[..at + i]);
            at += i + 1;
        }
    }
    match files.intersection(&dirs).next() {
        Some(p) => Err(CollectionError::FileAndFolder((*p).to_owned())),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
