//! `lbrymount ls`: the streams whose descriptors are in the local store.
//!
//! Read-only: it only peeks and reads quietly, so listing neither deletes
//! nor reorders anything in the cache (a corrupt blob it reads is still
//! removed, as by any read).

use crate::assemble::{load_descriptor_quiet, stream_size};
use crate::config::Config;
use crate::hash::{BlobHash, SdHash};
use crate::store::{BlobStore, DiskStore};

pub fn run(cfg: &Config) -> anyhow::Result<()> {
    let store = DiskStore::open(&cfg.data_dir, cfg.cache_bytes)?;
    let mut rows = Vec::new();
    for hash in store.list() {
        if !looks_like_json(&store, &hash) {
            continue;
        }
        let sd = SdHash::from(hash);
        // Not every JSON-looking blob is a descriptor; skip the ones that are not.
        let Ok(desc) = load_descriptor_quiet(&store, &sd) else {
            continue;
        };
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
        rows.push((
            desc.file_name(),
            format!(
                "{sd}  {size}  {present}/{total}  {}",
                desc.file_name().escape_debug()
            ),
        ));
    }
    rows.sort();
    for (_, line) in rows {
        println!("{line}");
    }
    Ok(())
}

/// Descriptors are JSON objects; encrypted blobs almost never start with `{"`.
/// Peeking two bytes avoids reading every 2 MiB data blob in a big cache.
fn looks_like_json(store: &dyn BlobStore, hash: &BlobHash) -> bool {
    matches!(store.peek(hash, 2), Ok(Some(head)) if head == b"{\"")
}
