//! `lbrymount publish FILE...`

use super::progress::bytes_bar;
use crate::config::Config;
use crate::publish::{publish_file, PublishError, PublishOptions};
use crate::store::DiskStore;
use std::path::PathBuf;

/// Files below this size finish before a bar would be worth drawing.
const BAR_THRESHOLD: u64 = 64 << 20;

pub fn run(cfg: &Config, files: &[PathBuf], show_progress: bool) -> anyhow::Result<()> {
    let store = DiskStore::open(&cfg.data_dir, cfg.cache_bytes)?;
    let opts = PublishOptions::default();
    for file in files {
        let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
        let bar = bytes_bar(
            size,
            &file.to_string_lossy(),
            show_progress && size >= BAR_THRESHOLD,
        );
        let published =
            publish_file(&store, file, &opts, &|n| bar.inc(n)).map_err(|e| match e {
                // Read errors already name the file; store errors name a blob, so add which file.
                PublishError::Store(_) => {
                    anyhow::Error::new(e).context(format!("cannot publish {}", file.display()))
                }
                other => other.into(),
            })?;
        bar.finish_and_clear();
        println!("{}  {}", published.sd_hash, file.display());
    }
    Ok(())
}
