//! `lbrymount ls`: the streams whose descriptors are in the local store.
//!
//! Read-only: it only peeks and reads quietly, so listing neither deletes
//! nor reorders anything in the cache (a corrupt blob it reads is still
//! removed, as by any read).

use crate::assemble::{local_streams, stream_size};
use crate::config::Config;
use crate::store::{BlobStore, DiskStore};

pub fn run(cfg: &Config) -> anyhow::Result<()> {
    let store = DiskStore::open(&cfg.data_dir, cfg.cache_bytes)?;
    let mut rows = Vec::new();
    for (sd, desc) in local_streams(&store) {
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
