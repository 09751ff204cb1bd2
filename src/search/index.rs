//! The names of the streams this node holds, for answering searches (from
//! peers, and of local shares) and for choosing the keyword keys the
//! announcer puts in the DHT.
//!
//! The index is rebuilt from the store (quietly: looking is not a use) when
//! it is older than [`REFRESH`], so a stream published a moment ago is found
//! and a flood of queries costs at most one scan per period. Synchronous:
//! callers on the runtime use the blocking pool.

use super::text::{announce_keys, score, tokens};
use crate::assemble::{local_streams, stream_size};
use crate::hash::BlobHash;
use crate::store::{ListBlobs, PeekBlob, ReadQuiet};
use crate::wire::search::Hit;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An index older than this is rebuilt before it answers.
pub const REFRESH: Duration = Duration::from_secs(2);
/// Tokens of one name announced, at most (the first ones: a name's words
/// come before its extension and numbering).
pub const MAX_TOKENS_PER_STREAM: usize = 8;
/// Keyword keys announced by one node, at most; the rest are not announced
/// (their streams are still found through their other words and locally).
pub const MAX_KEYWORD_KEYS: usize = 1024;

/// What an index needs of a store.
pub trait IndexStore: ListBlobs + PeekBlob + ReadQuiet + Send + Sync + 'static {}

impl<S: ListBlobs + PeekBlob + ReadQuiet + Send + Sync + 'static> IndexStore for S {}

/// One indexed stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub hit: Hit,
    pub tokens: Vec<String>,
}

/// A store's stream names, rebuilt when stale.
pub struct NameIndex {
    store: Arc<dyn IndexStore>,
    cached: Mutex<Option<(Instant, Arc<Vec<Entry>>)>>,
}

impl NameIndex {
    pub fn new(store: Arc<dyn IndexStore>) -> Self {
        Self {
            store,
            cached: Mutex::new(None),
        }
    }

    /// The entries, rebuilt first when older than [`REFRESH`] at `now`.
    pub fn entries(&self, now: Instant) -> Arc<Vec<Entry>> {
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, entries)) = &*cached {
            if now.saturating_duration_since(*at) < REFRESH {
                return entries.clone();
            }
        }
        let entries = Arc::new(entries_of(&*self.store));
        *cached = Some((now, entries.clone()));
        entries
    }

    /// Up to `max` streams matching `query`, best first, with their scores.
    pub fn search(&self, query: &str, max: usize) -> Vec<(u32, Hit)> {
        rank(&tokens(query), &self.entries(Instant::now()), max)
    }
}

impl crate::exchange::server::NameSearch for NameIndex {
    fn search(&self, query: &str, max: usize) -> Vec<Hit> {
        NameIndex::search(self, query, max)
            .into_iter()
            .map(|(_, h)| h)
            .collect()
    }
}

/// The entries of every stream in `store`.
pub fn entries_of<S: ListBlobs + PeekBlob + ReadQuiet + ?Sized>(store: &S) -> Vec<Entry> {
    local_streams(store)
        .into_iter()
        .map(|(sd, desc)| {
            let name = desc.file_name();
            Entry {
                tokens: tokens(&name),
                hit: Hit {
                    sd_hash: sd,
                    size: stream_size(store, &desc).0,
                    name,
                },
            }
        })
        .collect()
}

/// The entries matching `query` (its tokens), best first, then by name;
/// at most `max`.
pub fn rank(query: &[String], entries: &[Entry], max: usize) -> Vec<(u32, Hit)> {
    let mut found: Vec<(u32, Hit)> = entries
        .iter()
        .filter_map(|e| score(query, &e.tokens).map(|s| (s, e.hit.clone())))
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.name.cmp(&b.1.name)));
    found.truncate(max);
    found
}

/// The keyword keys to announce for these names: each name's first
/// [`MAX_TOKENS_PER_STREAM`] tokens, deduplicated, at most
/// [`MAX_KEYWORD_KEYS`] in all.
pub fn keyword_keys<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<BlobHash> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for name in names {
        for token in tokens(name).iter().take(MAX_TOKENS_PER_STREAM) {
            for key in announce_keys(token) {
                if out.len() >= MAX_KEYWORD_KEYS {
                    return out;
                }
                if seen.insert(key) {
                    out.push(key);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::{publish_reader, PublishOptions};
    use crate::store::MemStore;

    #[test]
    fn finds_held_streams_by_any_word_and_ranks_exact_first() {
        let store = Arc::new(MemStore::new());
        let opts = PublishOptions::default();
        for name in ["Holiday Photos.zip", "holidays.txt", "other.bin"] {
            publish_reader(&*store, name, &b"x"[..], &opts, &|_| {}).unwrap();
        }
        let index = NameIndex::new(store);
        let names: Vec<String> = index
            .search("HOLIDAY", 10)
            .into_iter()
            .map(|(_, h)| h.name)
            .collect();
        assert_eq!(names, ["Holiday Photos.zip", "holidays.txt"]);
        assert!(index.search("nothing", 10).is_empty());
        assert_eq!(index.search("holiday", 1).len(), 1);
    }

    #[test]
    fn keyword_keys_are_capped_per_stream_and_in_all() {
        let long = (0..20).map(|i| format!("w{i:02}x")).collect::<Vec<_>>();
        let keys = keyword_keys([long.join(" ").as_str()]);
        assert_eq!(keys.len(), MAX_TOKENS_PER_STREAM);
        let many: Vec<String> = (0..2000).map(|i| format!("name{i:05}")).collect();
        let keys = keyword_keys(many.iter().map(String::as_str));
        assert_eq!(keys.len(), MAX_KEYWORD_KEYS);
        let again = keyword_keys(["same word", "word same"]);
        assert_eq!(again.len(), 2);
    }
}
