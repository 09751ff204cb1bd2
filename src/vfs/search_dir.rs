//! `.search/TEXT/` in the mount: looking up `TEXT` under the root's
//! `.search` directory searches stream names, and the directory lists one
//! directory per stream found, named `<file name> <short sd hash>`, each
//! holding the stream's file like a claim directory does.
//!
//! The filesystem defines the seam ([`Searcher`]) and the node implements
//! it (DHT peers, local store, hubs), so the mount never learns where
//! results come from. Results are kept [`SEARCH_TTL`], then searched anew
//! on the next lookup; their entries live in the bounded name table, so a
//! flood of searches is refused once it is full, never grows memory.

use super::name_table::{NameEntry, What};
use super::names::{is_listable, BoxFuture, Named};
use super::{Attr, DirEntry, FsError, Kind, Vfs, ROOT};
use crate::hash::SdHash;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// The root's search directory.
pub const SEARCH_DIR: &str = ".search";
/// How long a search's results are listed before it is run again.
pub const SEARCH_TTL: Duration = Duration::from_secs(60);
/// Most results listed for one search.
pub const MAX_RESULTS: usize = 100;

/// One stream a search found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub sd: SdHash,
    /// The descriptor's file name, as the source gave it.
    pub name: String,
}

/// Stream names to streams. Implemented by the node.
pub trait Searcher: Send + Sync + 'static {
    /// Streams whose names match `text`, best first.
    fn search<'a>(&'a self, text: &'a str) -> BoxFuture<'a, Result<Vec<Found>, String>>;
}

/// The directory name of a result: `<file name> <short sd hash>`, the file
/// name cut (on a character) so the whole stays a valid name.
pub fn result_name(f: &Found) -> String {
    let short = f.sd.short();
    let mut end = f.name.len().min(255 - 1 - short.len());
    while !f.name.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} {short}", &f.name[..end])
}

impl Vfs {
    /// `.search/TEXT/` searches stream names through `searcher`; without,
    /// there is no `.search`.
    pub fn with_search(mut self, searcher: std::sync::Arc<dyn Searcher>) -> Self {
        self.searcher = Some(searcher);
        self
    }

    /// The `.search` directory's inode (made on first use).
    pub(super) fn search_root(&self) -> Result<u64, FsError> {
        if let Some((ino, _)) = self.name_table.get(ROOT, SEARCH_DIR) {
            return Ok(ino);
        }
        let entry = NameEntry {
            parent: ROOT,
            name: SEARCH_DIR.to_owned(),
            path: SEARCH_DIR.to_owned(),
            what: What::SearchRoot,
            at: Instant::now(),
        };
        self.name_table
            .put(entry)
            .map_err(|e| FsError::Io(e.to_string()))
    }

    /// `.search/TEXT`: the directory of `text`'s results, searched when
    /// not known or older than [`SEARCH_TTL`].
    pub(super) async fn search_dir(&self, parent: u64, text: &str) -> Result<Attr, FsError> {
        let now = Instant::now();
        if let Some((ino, e)) = self.name_table.get(parent, text) {
            if now.saturating_duration_since(e.at) < SEARCH_TTL {
                return Ok(self.attr(ino, Kind::Dir, 0));
            }
        }
        let searcher = self.searcher.as_ref().ok_or(FsError::NotFound)?;
        let span = tracing::info_span!("search", text = %text);
        let asked = searcher.search(text).instrument(span);
        let found = match self.bounded("searching", asked).await {
            Ok(Ok(found)) => found,
            Ok(Err(why)) | Err(why) => {
                let reason = format!("search {text:?} failed: {why}");
                self.record(reason.clone());
                return Err(FsError::Io(reason));
            }
        };
        let dir = self.put_search(parent, text, Vec::new())?;
        let mut children = Vec::new();
        for f in found.into_iter().take(MAX_RESULTS) {
            match self.put_result(dir, &f) {
                Ok(Some(child)) if !children.contains(&child) => children.push(child),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "search results cut short");
                    break;
                }
            }
        }
        self.put_search(parent, text, children)?;
        Ok(self.attr(dir, Kind::Dir, 0))
    }

    fn put_search(&self, parent: u64, text: &str, children: Vec<u64>) -> Result<u64, FsError> {
        let entry = NameEntry {
            parent,
            name: text.to_owned(),
            path: text.to_owned(),
            what: What::Search(children),
            at: Instant::now(),
        };
        self.name_table
            .put(entry)
            .map_err(|e| FsError::Io(e.to_string()))
    }

    /// One result's directory under `dir`; `None` when its name cannot be one.
    fn put_result(&self, dir: u64, f: &Found) -> Result<Option<u64>, FsError> {
        let name = result_name(f);
        if !is_listable(&name) {
            return Ok(None);
        }
        let entry = NameEntry {
            parent: dir,
            name: name.clone(),
            path: name,
            what: What::Stream(Named {
                name: f.name.clone(),
                source: super::names::Source::Stream(f.sd),
                url: String::new(),
                claim_id: String::new(),
                channel: None,
                media_type: String::new(),
            }),
            at: Instant::now(),
        };
        let ino = self.name_table.put(entry);
        ino.map(Some).map_err(|e| FsError::Io(e.to_string()))
    }

    /// The entries of a search directory after cookie `after`.
    pub(super) fn search_entries(&self, children: &[u64], after: u64) -> Vec<DirEntry> {
        let at = usize::try_from(after).unwrap_or(usize::MAX);
        let rest = children.iter().enumerate().skip(at);
        rest.filter_map(|(i, &child)| {
            let (e, _) = self.name_table.entry(child)?;
            Some(DirEntry {
                ino: child,
                kind: Kind::Dir,
                name: e.name.clone(),
                cookie: i as u64 + 1,
            })
        })
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_names_carry_the_short_hash_and_stay_valid() {
        let sd = SdHash::from_bytes([0xab; 48]);
        let f = |name: &str| {
            result_name(&Found {
                sd,
                name: name.into(),
            })
        };
        assert_eq!(f("cat.jpg"), "cat.jpg abababab");
        let long = f(&"é".repeat(200));
        assert!(long.len() <= 255 && long.ends_with(" abababab"), "{long}");
    }
}
