//! A stream reassembled from the local store: every blob read, checked and
//! decrypted on `workers` threads (`pipeline`), written in order.
//!
//! Synchronous, on plain threads: `get` without a node calls it directly,
//! and the store is synchronous.

use super::{check_complete, GetError, Output};
use crate::pipeline::ordered_map;
use crate::sd::{BlobInfo, StreamDescriptor};
use crate::store::{HasBlob, ReadBlob};
use std::path::Path;

/// Reassembles a stream from the local store only (`get --offline`); the
/// caller has loaded and checked its descriptor.
pub fn get_offline<S: HasBlob + ReadBlob + Sync + ?Sized>(
    store: &S,
    desc: &StreamDescriptor,
    target: &Path,
    replace: bool,
    workers: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<u64, GetError> {
    check_complete(store, desc)?;
    let out = Output::create(target, replace)?;
    get_offline_into(store, desc, out, workers, progress)
}

/// [`get_offline`] into an output the caller opened (a file or standard output).
pub fn get_offline_into<S: ReadBlob + Sync + ?Sized>(
    store: &S,
    desc: &StreamDescriptor,
    mut out: Output,
    workers: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<u64, GetError> {
    ordered_map(
        desc.blobs().iter().map(Ok),
        workers,
        workers * 2,
        |info: &BlobInfo| plaintext(store, desc, info),
        |plain| {
            out.write(&plain)?;
            progress(plain.len() as u64);
            Ok(())
        },
    )?;
    Ok(out.finish()?)
}

/// Blob `info` of the stream, from the store, decrypted.
fn plaintext<S: ReadBlob + ?Sized>(
    store: &S,
    desc: &StreamDescriptor,
    info: &BlobInfo,
) -> Result<Vec<u8>, GetError> {
    let blob = store.get(&info.hash)?.ok_or(GetError::MissingBlob {
        num: info.blob_num,
        hash: info.hash,
    })?;
    Ok(desc.described(info).decrypt(blob)?)
}
