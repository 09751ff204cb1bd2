//! What streams a store holds, as rows for `ls` and `status`.
//!
//! One function serves both ways of asking: `lbrymount ls` on a data dir no
//! node has open, and a running node answering over its control socket, so
//! the two print the same thing. Looking is quiet: listing neither reorders
//! nor deletes anything in the cache (a corrupt blob it reads is still
//! removed, as by any read).

use crate::assemble::{local_streams, stream_size};
use crate::store::{HasBlob, IsPinned, ListBlobs, PeekBlob, ReadQuiet};
use serde::{Deserialize, Serialize};

/// One stream in a store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamRow {
    pub sd_hash: String,
    /// Plaintext size; exact unless `size_exact` is false (an upper bound).
    pub size: u64,
    pub size_exact: bool,
    /// Data blobs present / in the stream.
    pub present: usize,
    pub total: usize,
    /// The descriptor's sanitized file name.
    pub name: String,
    /// Published here (its blobs pinned), rather than fetched.
    pub published: bool,
    /// Pinned by the user (`lbrymount pin`): fetched, kept whatever the
    /// cache pressure. Never true together with `published`.
    #[serde(default)]
    pub pinned: bool,
    /// Bytes of the stream's data blobs held in the store.
    #[serde(default)]
    pub stored_bytes: u64,
}

impl StreamRow {
    /// `<sd_hash>  <size>  <present>/<total>  <name>`, with `~` before a size
    /// that is only a bound; names are escaped so a row stays one line.
    ///
    /// A collection (docs/protocol.md §12) shows as its folder: `<name>/`
    /// followed by `  [collection]`.
    pub fn line(&self) -> String {
        let tilde = if self.size_exact { "" } else { "~" };
        let name = match self.name.strip_suffix(crate::collection::SUFFIX) {
            Some(folder) if !folder.is_empty() => {
                format!("{}/  [collection]", folder.escape_debug())
            }
            _ => self.name.escape_debug().to_string(),
        };
        format!(
            "{}  {tilde}{}  {}/{}  {name}",
            self.sd_hash, self.size, self.present, self.total,
        )
    }
}

/// Every stream whose descriptor is in `store`, sorted by name then sd hash.
pub fn stream_rows<S>(store: &S) -> Vec<StreamRow>
where
    S: HasBlob + IsPinned + ListBlobs + PeekBlob + ReadQuiet + ?Sized,
{
    let mut rows: Vec<StreamRow> = local_streams(store)
        .into_iter()
        .map(|(sd, desc)| {
            let (size, size_exact) = stream_size(store, &desc);
            let blobs = desc.blobs();
            let held: Vec<_> = blobs.iter().filter(|b| store.contains(&b.hash)).collect();
            StreamRow {
                sd_hash: sd.to_string(),
                size,
                size_exact,
                present: held.len(),
                stored_bytes: held.iter().map(|b| u64::from(b.length)).sum(),
                total: blobs.len(),
                name: desc.file_name(),
                published: store.is_pinned(&sd.as_blob()),
                pinned: false,
            }
        })
        .collect();
    rows.sort_by(|a, b| (&a.name, &a.sd_hash).cmp(&(&b.name, &b.sd_hash)));
    rows
}

/// [`stream_rows`] of a disk store, telling the user's pinned streams from
/// published ones (the store pins the blobs of both).
pub fn disk_rows(store: &crate::store::DiskStore) -> Vec<StreamRow> {
    let pins = store.stream_pins();
    let mut rows = stream_rows(store);
    for row in &mut rows {
        if row.sd_hash.parse().is_ok_and(|sd| pins.contains(&sd)) {
            row.pinned = true;
            row.published = false;
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::{publish_reader, PublishOptions};
    use crate::store::{Keep, MemStore};

    #[test]
    fn rows_tell_published_from_cached_and_count_blobs() {
        let store = MemStore::new();
        let opts = PublishOptions::default();
        let data = vec![7u8; 3 * 2_097_151 + 5];
        let mine = publish_reader(&store, "b.bin", &data[..], &opts, &|_| {}).unwrap();
        let other = MemStore::new();
        let theirs = publish_reader(&other, "a\nb.txt", &b"hi"[..], &opts, &|_| {}).unwrap();
        let sd = other.get(&theirs.sd_hash.as_blob()).unwrap().unwrap();
        store.put(&sd, Keep::Cache).unwrap();
        let rows = stream_rows(&store);
        assert_eq!(rows.len(), 2);
        let (a, b) = (&rows[0], &rows[1]);
        assert_eq!((a.published, a.present, a.total), (false, 0, 1));
        assert_eq!(a.line().lines().count(), 1, "{}", a.line());
        assert_eq!(b.sd_hash, mine.sd_hash.to_string());
        assert_eq!((b.published, b.present, b.total), (true, 4, 4));
        assert_eq!((b.size, b.size_exact), (data.len() as u64, true));
        assert_eq!(
            b.line(),
            format!("{}  {}  4/4  b.bin", mine.sd_hash, data.len())
        );
    }
}
