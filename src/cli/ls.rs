//! `lbrymount ls`: the streams whose descriptors are in the local store.
//!
//! Read-only: it only peeks and reads quietly, so listing neither deletes
//! nor reorders anything in the cache (a corrupt blob it reads is still
//! removed, as by any read).

use crate::assemble::{load_descriptor_quiet, stream_size};
use crate::config::Config;
use crate::hash::{BlobHash, SdHash};
use crate::sd::StreamDescriptor;
use crate::store::{BlobStore, DiskStore};

pub fn run(cfg: &Config) -> anyhow::Result<()> {
    let store = DiskStore::open(&cfg.data_dir, cfg.cache_bytes)?;
    let mut rows = Vec::new();
    for (sd, desc) in streams(&store) {
        let total = desc.blobs().len();
        let present = desc
            .blobs()
            .iter()
            .filter(|b| store.contains(&b.hash))
            .count();
        let size = match stream_size(&store, &desc) {
            (n, true) => n.to_string(),
            (n, false) => format!("~{n}"),
        };
        let line = format!(
            "{sd}  {size}  {present}/{total}  {}",
            desc.file_name().escape_debug()
        );
        rows.push((desc.file_name(), line));
    }
    rows.sort();
    for (_, line) in rows {
        println!("{line}");
    }
    Ok(())
}

/// Every stream whose valid descriptor is in the store, read quietly.
pub(super) fn streams(store: &dyn BlobStore) -> Vec<(SdHash, StreamDescriptor)> {
    let mut out = Vec::new();
    for hash in store.list() {
        if !looks_like_json(store, &hash) {
            continue;
        }
        let sd = SdHash::from(hash);
        // Not every JSON-looking blob is a descriptor; skip the ones that are not.
        if let Ok(desc) = load_descriptor_quiet(store, &sd) {
            out.push((sd, desc));
        }
    }
    out
}

/// Descriptors are JSON objects; encrypted blobs almost never start with `{"`.
/// Peeking two bytes avoids reading every 2 MiB data blob in a big cache.
fn looks_like_json(store: &dyn BlobStore, hash: &BlobHash) -> bool {
    matches!(store.peek(hash, 2), Ok(Some(head)) if head == b"{\"")
}
