//! `lbrymount ls`: the streams whose descriptors are in the local store.

use crate::assemble::{load_descriptor, stream_size};
use crate::config::Config;
use crate::hash::SdHash;
use crate::store::{BlobStore, DiskStore, RawBlob};
use std::io::Read;

pub fn run(cfg: &Config) -> anyhow::Result<()> {
    let store = DiskStore::open(&cfg.data_dir, cfg.cache_bytes)?;
    let mut rows = Vec::new();
    for hash in store.list() {
        if !looks_like_json(&store, &hash) {
            continue;
        }
        let sd = SdHash::from(hash);
        // Not every JSON-looking blob is a descriptor; skip the ones that are not.
        let Ok(desc) = load_descriptor(&store, &sd) else {
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
fn looks_like_json(store: &DiskStore, hash: &crate::hash::BlobHash) -> bool {
    let mut head = [0u8; 2];
    match store.open_raw(hash) {
        Ok(Some(RawBlob::File(mut f, _))) => f.read_exact(&mut head).is_ok() && &head == b"{\"",
        Ok(Some(RawBlob::Bytes(b))) => b.starts_with(b"{\""),
        _ => false,
    }
}
