//! `lbrymount reflect SD_HASH|URL... [--reflector HOST:PORT]`: upload
//! streams held in the data dir to a reflector, so they stay available
//! while this machine is offline.
//!
//! The blobs are read from the data dir's `blobfiles/` as files, each
//! re-verified against its name, without taking the store's lock: a node
//! running on the data dir (the usual case for a publisher) keeps running.

use super::progress::bytes_bar;
use crate::blob::{VerifiedBlob, MAX_BLOB_SIZE};
use crate::config::Config;
use crate::hash::{BlobHash, SdHash};
use crate::reflector::{reflect, ClientConfig};
use crate::store::{ReadBlob, StoreError};
use anyhow::Context;
use std::path::PathBuf;
use std::sync::Arc;

/// lbry-sdk's `reflector_servers`.
pub const DEFAULT_REFLECTOR: &str = "reflector.lbry.com:5566";

pub fn run(
    cfg: &Config,
    streams: &[SdHash],
    reflector: Option<String>,
    show_progress: bool,
) -> anyhow::Result<()> {
    let addr = reflector.unwrap_or_else(|| DEFAULT_REFLECTOR.to_string());
    let store = Arc::new(BlobDir(cfg.data_dir.join("blobfiles")));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    for &sd in streams {
        let bar = bytes_bar(stream_size(&store, sd), &sd.short(), show_progress);
        let done = rt
            .block_on(reflect(
                store.clone(),
                &addr,
                sd,
                &ClientConfig::default(),
                &|n| bar.inc(n),
            ))
            .with_context(|| format!("cannot reflect {sd} to {addr}"))?;
        bar.finish_and_clear();
        println!(
            "{sd}  {} blobs sent ({} bytes), {} of the stream's {} blobs were already there",
            done.blobs_sent,
            done.bytes_sent,
            done.blobs_total - done.blobs_sent,
            done.blobs_total
        );
    }
    Ok(())
}

/// The bytes an upload of the whole stream sends (0 if unknown: the upload says why).
fn stream_size(store: &BlobDir, sd: SdHash) -> u64 {
    match store.get(&sd.as_blob()) {
        Ok(Some(b)) => crate::sd::StreamDescriptor::parse_verified(b.data(), &sd)
            .map(|d| d.encrypted_size() + b.len() as u64)
            .unwrap_or(0),
        _ => 0,
    }
}

/// The data dir's blob files, read as files and verified (no lock taken).
struct BlobDir(PathBuf);

impl ReadBlob for BlobDir {
    fn get(&self, hash: &BlobHash) -> Result<Option<VerifiedBlob>, StoreError> {
        use std::io::Read;
        let path = self.0.join(hash.to_hex());
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StoreError::Io {
                    op: "open",
                    path,
                    source,
                })
            }
        };
        let mut data = Vec::new();
        // One byte over the maximum is enough to tell a foreign file.
        file.take(MAX_BLOB_SIZE as u64 + 1)
            .read_to_end(&mut data)
            .map_err(|source| StoreError::Io {
                op: "read",
                path,
                source,
            })?;
        VerifiedBlob::verify(hash, data)
            .map(Some)
            .map_err(|actual| StoreError::Corrupt {
                hash: *hash,
                actual,
            })
    }
}
