//! Stream → file: decrypt verified blobs in order and write the original bytes.
//!
//! Bytes go to an [`Output`] (a part file renamed into place when complete,
//! or standard output; see [`crate::output`]). Blobs reach this module
//! already verified (`VerifiedBlob`); it checks them against the descriptor
//! (length) and decrypts them. Where blobs come from (local store or peers) is
//! the caller's business.

use crate::blob::{self, BlobError, VerifiedBlob};
use crate::hash::{BlobHash, SdHash};
use crate::layout::{Layout, Size};
use crate::pipeline::ordered_map;
use crate::sd::{BlobInfo, SdError, StreamDescriptor};
use crate::store::{HasBlob, ListBlobs, PeekBlob, ReadBlob, ReadQuiet, StoreError};
use std::path::Path;

pub use crate::output::{Output, OutputError};

#[derive(Debug, thiserror::Error)]
pub enum GetError {
    #[error("stream descriptor {0} is not in the local store")]
    MissingSd(SdHash),
    #[error("stream descriptor {sd} is invalid")]
    BadSd {
        sd: SdHash,
        #[source]
        source: Box<SdError>,
    },
    #[error("blob {num} ({hash}) of the stream is not in the local store")]
    MissingBlob { num: u32, hash: BlobHash },
    #[error("blob {num} ({hash}) is {got} bytes but the descriptor says {expected}")]
    Length {
        num: u32,
        hash: BlobHash,
        expected: u64,
        got: u64,
    },
    #[error("cannot decrypt blob {num} ({hash})")]
    Decrypt {
        num: u32,
        hash: BlobHash,
        #[source]
        source: BlobError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Output(#[from] OutputError),
}

/// Reads and checks a stream descriptor from the store (a use of its blob).
pub fn load_descriptor<S: ReadBlob + ?Sized>(
    store: &S,
    sd: &SdHash,
) -> Result<StreamDescriptor, GetError> {
    parse_descriptor(sd, store.get(&sd.as_blob())?)
}

/// [`load_descriptor`] for looking around (`ls`): not a use, so the cache
/// order stays as it was.
pub fn load_descriptor_quiet<S: ReadQuiet + ?Sized>(
    store: &S,
    sd: &SdHash,
) -> Result<StreamDescriptor, GetError> {
    parse_descriptor(sd, store.get_quiet(&sd.as_blob())?)
}

fn parse_descriptor(sd: &SdHash, blob: Option<VerifiedBlob>) -> Result<StreamDescriptor, GetError> {
    let blob = blob.ok_or(GetError::MissingSd(*sd))?;
    StreamDescriptor::parse_verified(blob.data(), sd).map_err(|source| GetError::BadSd {
        sd: *sd,
        source: Box::new(source),
    })
}

/// Checks a blob against its descriptor entry and decrypts it.
pub fn decrypt_blob(
    desc: &StreamDescriptor,
    info: &BlobInfo,
    blob: VerifiedBlob,
) -> Result<Vec<u8>, GetError> {
    check_length(info, &blob)?;
    let mut data = blob.into_data();
    let n = blob::decrypt_in_place(desc.key(), &info.iv, &mut data).map_err(|source| {
        GetError::Decrypt {
            num: info.blob_num,
            hash: info.hash,
            source,
        }
    })?;
    data.truncate(n);
    Ok(data)
}

/// [`decrypt_blob`] of a blob shared with others (the store may be writing
/// it): the plaintext goes to a new buffer.
pub fn decrypt_shared(
    desc: &StreamDescriptor,
    info: &BlobInfo,
    blob: &VerifiedBlob,
) -> Result<Vec<u8>, GetError> {
    check_length(info, blob)?;
    blob::decrypt(desc.key(), &info.iv, blob.data()).map_err(|source| GetError::Decrypt {
        num: info.blob_num,
        hash: info.hash,
        source,
    })
}

/// A blob must have the length its descriptor gives.
fn check_length(info: &BlobInfo, blob: &VerifiedBlob) -> Result<(), GetError> {
    if blob.len() as u64 != u64::from(info.length) {
        return Err(GetError::Length {
            num: info.blob_num,
            hash: info.hash,
            expected: info.length.into(),
            got: blob.len() as u64,
        });
    }
    Ok(())
}

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

/// Fails, naming the first missing blob, unless the store holds every blob.
pub fn check_complete<S: HasBlob + ?Sized>(
    store: &S,
    desc: &StreamDescriptor,
) -> Result<(), GetError> {
    match desc.blobs().iter().find(|b| !store.contains(&b.hash)) {
        Some(b) => Err(GetError::MissingBlob {
            num: b.blob_num,
            hash: b.hash,
        }),
        None => Ok(()),
    }
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
        |info: &BlobInfo| {
            let blob = store.get(&info.hash)?.ok_or(GetError::MissingBlob {
                num: info.blob_num,
                hash: info.hash,
            })?;
            decrypt_blob(desc, info, blob)
        },
        |plain| {
            out.write(&plain)?;
            progress(plain.len() as u64);
            Ok(())
        },
    )?;
    Ok(out.finish()?)
}

/// The stream's plaintext size and whether it is exact. Exact once the last
/// blob is in the store (decrypting it reveals its padding) and every earlier
/// blob follows LBRY's layout; otherwise the layout's best estimate. Reading
/// the last blob is not a use of it (this serves `ls`).
pub fn stream_size<S: ReadQuiet + ?Sized>(store: &S, desc: &StreamDescriptor) -> (u64, bool) {
    let mut layout = Layout::for_stream(desc);
    if let Some(last) = desc.blobs().last() {
        if let Ok(Some(blob)) = store.get_quiet(&last.hash) {
            if let Ok(plain) = decrypt_blob(desc, last, blob) {
                let _ = layout.learn(desc.blobs().len() - 1, plain.len() as u32);
            }
        }
    }
    match layout.size() {
        // LBRY's writer fills every blob but the last, so its size is known from the last blob.
        Size::Exact(n) | Size::Presumed(n) => (n, true),
        Size::Range { max, .. } => (max, false),
    }
}

/// Every stream whose valid descriptor is in the store, read quietly.
pub fn local_streams<S>(store: &S) -> Vec<(SdHash, StreamDescriptor)>
where
    S: ListBlobs + PeekBlob + ReadQuiet + ?Sized,
{
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
fn looks_like_json<S: PeekBlob + ?Sized>(store: &S, hash: &BlobHash) -> bool {
    matches!(store.peek(hash, 2), Ok(Some(head)) if head == b"{\"")
}
