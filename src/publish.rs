//! File → LBRY stream: chunk, encrypt, hash, store, describe (docs/protocol.md §2.5).
//!
//! Streaming with bounded memory: the file is read one 2 097 151-byte chunk at
//! a time through [`pipeline::ordered_map`], so a 10 GiB file needs a few
//! chunks of RAM, not 10 GiB. Encryption and hashing of different chunks run
//! on every core; the descriptor is written once all blobs are stored, so a
//! stream is only listed (its sd blob exists) when every blob is in place.
//!
//! Published data is never evicted, but a publish that fails (a read error,
//! a full disk) must not leave pinned blobs that nothing describes. So blobs
//! are stored [`Keep::Staged`] (protected, not persisted), then pinned all
//! at once with the sd blob when the publish succeeds, and discarded when it
//! fails. After a crash midway they are ordinary cache, evicted in time.

use crate::blob::{self, StreamKey, VerifiedBlob, BLOCK, PLAIN_CHUNK};
use crate::hash::{BlobHash, SdHash};
use crate::pipeline::ordered_map;
use crate::sd::{BlobInfo, StreamDescriptor};
use crate::store::{Keep, PinBlobs, PutBlob, StoreError};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tokio_util::sync::CancellationToken;

/// Where IVs come from. lbry-sdk uses fresh random IVs; the fixed sequence
/// reproduces the test vectors of docs/protocol.md §2.6 (the n-th IV is byte n repeated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IvSource {
    Random,
    Sequence,
}

#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// The stream key; a fresh random AES-128 key when `None`.
    pub key: Option<StreamKey>,
    pub ivs: IvSource,
    /// Worker threads for encryption, hashing and storing.
    pub workers: usize,
    /// Stops the publish between chunks (shutdown, a signal): it then fails
    /// with [`PublishError::Cancelled`] and its blobs are discarded.
    pub cancel: CancellationToken,
}

impl Default for PublishOptions {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            key: None,
            ivs: IvSource::Random,
            // Each worker also stores its blob and waits about 10 ms in
            // fsync; twice the cores keeps every core busy meanwhile.
            workers: 2 * cores,
            cancel: CancellationToken::new(),
        }
    }
}

/// What a publish produced.
#[derive(Debug, Clone)]
pub struct Published {
    pub sd_hash: SdHash,
    pub descriptor: StreamDescriptor,
    /// Plaintext bytes read.
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{0} is not a regular file")]
    NotAFile(PathBuf),
    #[error("{0} has no file name to publish under")]
    NoName(PathBuf),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the publish was cancelled")]
    Cancelled,
}

/// What a publish needs of a store: its blobs stored staged, then pinned
/// together, or discarded when it fails. `Sync`: the encrypting workers
/// store blobs as they finish them.
pub trait PublishStore: PutBlob + PinBlobs + Sync {}

impl<S: PutBlob + PinBlobs + Sync + ?Sized> PublishStore for S {}

/// Publishes the file at `path` under its base name.
pub fn publish_file(
    store: &dyn PublishStore,
    path: &Path,
    opts: &PublishOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Published, PublishError> {
    let read_err = |source| PublishError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if !meta.is_file() {
        return Err(PublishError::NotAFile(path.to_path_buf()));
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| PublishError::NoName(path.to_path_buf()))?;
    let file = std::fs::File::open(path).map_err(read_err)?;
    publish_reader(store, &name, file, opts, progress).map_err(|e| match e {
        PublishError::Read { source, .. } => PublishError::Read {
            path: path.to_path_buf(),
            source,
        },
        other => other,
    })
}

/// Publishes whatever `reader` yields under `name`. On failure the blobs it
/// stored are discarded.
pub fn publish_reader<R: Read + Send>(
    store: &dyn PublishStore,
    name: &str,
    reader: R,
    opts: &PublishOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Published, PublishError> {
    let staged = Mutex::new(Vec::new());
    let result = publish_staged(store, name, reader, opts, progress, &staged);
    if result.is_err() {
        store.discard(&staged.into_inner().unwrap_or_else(|e| e.into_inner()));
    }
    result
}

/// The publish itself; every blob it stores staged is recorded in `staged`.
fn publish_staged<R: Read + Send>(
    store: &dyn PublishStore,
    name: &str,
    reader: R,
    opts: &PublishOptions,
    progress: &(dyn Fn(u64) + Sync),
    staged: &Mutex<Vec<BlobHash>>,
) -> Result<Published, PublishError> {
    let stager = Stager { store, staged };
    let key = opts.key.clone().unwrap_or_else(StreamKey::random);
    let mut chunks = Chunks {
        reader,
        name,
        ivs: IvGen::new(opts.ivs),
        size: 0,
        cancel: &opts.cancel,
    };
    let blobs = encrypt_all(&stager, &key, &mut chunks, opts.workers, progress)?;
    // Nor is a stream described (listed) once cancelled.
    if opts.cancel.is_cancelled() {
        return Err(PublishError::Cancelled);
    }
    let descriptor = StreamDescriptor::new(name, key, blobs, chunks.ivs.next_iv());
    let sd_hash = describe(&stager, &descriptor)?;
    let size = chunks.size;
    tracing::info!(sd = %sd_hash.short(), name, size, blobs = descriptor.blobs().len(), "published");
    Ok(Published {
        sd_hash,
        descriptor,
        size,
    })
}

/// Encrypts, hashes and stages every chunk on `workers` threads; the
/// descriptor entries of the blobs, in order.
fn encrypt_all(
    stager: &Stager<'_>,
    key: &StreamKey,
    chunks: impl Iterator<Item = Result<(Vec<u8>, [u8; BLOCK]), PublishError>> + Send,
    workers: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<BlobInfo>, PublishError> {
    let mut blobs: Vec<BlobInfo> = Vec::new();
    ordered_map(
        chunks,
        workers,
        workers * 2,
        |(plain, iv): (Vec<u8>, [u8; BLOCK])| {
            let enc = VerifiedBlob::from_bytes(blob::encrypt(key, &iv, &plain));
            stager.stage(&enc)?;
            progress(plain.len() as u64);
            Ok::<_, PublishError>((enc, iv))
        },
        |(enc, iv)| {
            let blob_num = u32::try_from(blobs.len()).unwrap_or(u32::MAX);
            // Encrypted blobs are at most 2 MiB, so the length fits.
            let length = u32::try_from(enc.len()).unwrap_or(u32::MAX);
            blobs.push(BlobInfo {
                blob_num,
                hash: *enc.hash(),
                iv,
                length,
            });
            Ok(())
        },
    )?;
    Ok(blobs)
}

/// Stages the sd blob, then pins it with every blob it describes in one
/// call: the stream is published whole or not at all.
fn describe(stager: &Stager<'_>, descriptor: &StreamDescriptor) -> Result<SdHash, PublishError> {
    let sd = VerifiedBlob::from_bytes(descriptor.to_bytes());
    stager.stage(&sd)?;
    let mut all: Vec<_> = descriptor.blobs().iter().map(|b| b.hash).collect();
    all.push(*sd.hash());
    stager.store.pin(&all)?;
    Ok(SdHash::from(*sd.hash()))
}

/// Stores blobs staged and records each, so a failed publish discards them.
struct Stager<'a> {
    store: &'a dyn PublishStore,
    staged: &'a Mutex<Vec<BlobHash>>,
}

impl Stager<'_> {
    fn stage(&self, blob: &VerifiedBlob) -> Result<(), StoreError> {
        self.store.put(blob, Keep::Staged)?;
        let mut staged = self.staged.lock().unwrap_or_else(|e| e.into_inner());
        staged.push(*blob.hash());
        Ok(())
    }
}

/// The file's chunks and the IV of each, counted as they are read.
struct Chunks<'a, R> {
    reader: R,
    /// For read errors.
    name: &'a str,
    ivs: IvGen,
    /// Plaintext bytes read so far.
    size: u64,
    cancel: &'a CancellationToken,
}

impl<R: Read> Iterator for Chunks<'_, R> {
    type Item = Result<(Vec<u8>, [u8; BLOCK]), PublishError>;

    /// Checked before each chunk is read: a cancelled publish stops reading
    /// and lets the chunks in flight finish (each a few milliseconds).
    fn next(&mut self) -> Option<Self::Item> {
        if self.cancel.is_cancelled() {
            return Some(Err(PublishError::Cancelled));
        }
        match read_chunk(&mut self.reader) {
            Ok(c) if c.is_empty() => None,
            Ok(c) => {
                self.size += c.len() as u64;
                Some(Ok((c, self.ivs.next_iv())))
            }
            Err(source) => Some(Err(PublishError::Read {
                path: PathBuf::from(self.name),
                source,
            })),
        }
    }
}

/// Reads up to one full chunk; shorter only at end of file.
fn read_chunk(r: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(PLAIN_CHUNK);
    r.take(PLAIN_CHUNK as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

struct IvGen {
    source: IvSource,
    n: u8,
}

impl IvGen {
    fn new(source: IvSource) -> Self {
        Self { source, n: 0 }
    }
    fn next_iv(&mut self) -> [u8; BLOCK] {
        match self.source {
            IvSource::Random => rand::random(),
            IvSource::Sequence => {
                self.n = self.n.wrapping_add(1);
                [self.n; BLOCK]
            }
        }
    }
}

#[cfg(test)]
#[path = "publish_tests.rs"]
mod tests;
