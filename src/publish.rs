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
    mut reader: R,
    opts: &PublishOptions,
    progress: &(dyn Fn(u64) + Sync),
    staged: &Mutex<Vec<BlobHash>>,
) -> Result<Published, PublishError> {
    let stage = |blob: &VerifiedBlob| -> Result<(), StoreError> {
        store.put(blob, Keep::Staged)?;
        let mut staged = staged.lock().unwrap_or_else(|e| e.into_inner());
        staged.push(*blob.hash());
        Ok(())
    };
    let key = opts.key.clone().unwrap_or_else(StreamKey::random);
    let mut ivs = IvGen::new(opts.ivs);
    let mut size = 0u64;
    let size_ref = &mut size;
    let ivs_ref = &mut ivs;
    let cancel = &opts.cancel;
    // Checked before each chunk is read: a cancelled publish stops reading
    // and lets the chunks in flight finish (each a few milliseconds).
    let chunks = std::iter::from_fn(move || {
        if cancel.is_cancelled() {
            return Some(Err(PublishError::Cancelled));
        }
        match read_chunk(&mut reader) {
            Ok(c) if c.is_empty() => None,
            Ok(c) => {
                *size_ref += c.len() as u64;
                Some(Ok((c, ivs_ref.next_iv())))
            }
            Err(source) => Some(Err(PublishError::Read {
                path: PathBuf::from(name),
                source,
            })),
        }
    });
    let mut blobs: Vec<BlobInfo> = Vec::new();
    let key_ref = &key;
    ordered_map(
        chunks,
        opts.workers,
        opts.workers * 2,
        |(plain, iv): (Vec<u8>, [u8; BLOCK])| {
            let enc = VerifiedBlob::from_bytes(blob::encrypt(key_ref, &iv, &plain));
            stage(&enc)?;
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
    // Nor is a stream described (listed) once cancelled.
    if opts.cancel.is_cancelled() {
        return Err(PublishError::Cancelled);
    }
    let terminator_iv = ivs.next_iv();
    let descriptor = StreamDescriptor::new(name, key, blobs, terminator_iv);
    let sd = VerifiedBlob::from_bytes(descriptor.to_bytes());
    stage(&sd)?;
    // One pin for the blobs and their descriptor: the stream is published
    // whole or not at all.
    let mut all: Vec<_> = descriptor.blobs().iter().map(|b| b.hash).collect();
    all.push(*sd.hash());
    store.pin(&all)?;
    let sd_hash = SdHash::from(*sd.hash());
    tracing::info!(sd = %sd_hash.short(), name, size, blobs = descriptor.blobs().len(), "published");
    Ok(Published {
        sd_hash,
        descriptor,
        size,
    })
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
mod tests {
    use super::*;
    use crate::store::{MemStore, Stats};

    fn vector_opts() -> PublishOptions {
        let key =
            StreamKey::new(&hex::decode("000102030405060708090a0b0c0d0e0f").unwrap()).unwrap();
        PublishOptions {
            key: Some(key),
            ivs: IvSource::Sequence,
            workers: 2,
            ..PublishOptions::default()
        }
    }

    #[test]
    fn a_cancelled_publish_fails_and_leaves_nothing_stored() {
        let store = MemStore::new();
        let opts = vector_opts();
        let data = vec![7u8; 3 * PLAIN_CHUNK];
        // Cancelled once the first chunk is stored: the rest is never read.
        let cancel = opts.cancel.clone();
        let err = publish_reader(&store, "big.bin", &data[..], &opts, &|_| cancel.cancel());
        assert!(matches!(err, Err(PublishError::Cancelled)), "{err:?}");
        assert_eq!(store.stats().blobs, 0, "its blobs are discarded");
    }

    fn publish_bytes(name: &str, data: &[u8]) -> (MemStore, Published) {
        let store = MemStore::new();
        let p = publish_reader(&store, name, data, &vector_opts(), &|_| {}).unwrap();
        (store, p)
    }

    #[test]
    fn reproduces_protocol_vectors_byte_for_byte() {
        let (store, p) = publish_bytes("hello.txt", b"hello lbry\n");
        assert_eq!(p.sd_hash.to_hex(), "8581c1b3afbf0ed1c7af5800ddd5103f3ec2fe705cc424b88b474c42796b8a52f4b67ebdec914b72229cd83ad8f4a613");
        assert_eq!(store.get(&p.sd_hash.as_blob()).unwrap().unwrap().len(), 536);

        let exact: Vec<u8> = (0..PLAIN_CHUNK).map(|i| i as u8).collect();
        let (_, p) = publish_bytes("exact.bin", &exact);
        assert_eq!(p.sd_hash.to_hex(), "dc31c6e891eea616a1318a23e42122e113499e368defad1f16f31a2b155171c2b01391bb1169a3f33fb0b0c72238e69d");

        let multi: Vec<u8> = (0..4_194_402usize).map(|i| (7 * i + 3) as u8).collect();
        let (store, p) = publish_bytes("multi.bin", &multi);
        assert_eq!(p.sd_hash.to_hex(), "eeebe32ee7ec5e0d808b254870c8a1377b8558eb0be9a6aed4be0b23040fe63839abc76eeef4cdfb00e1483d6a4c7ef5");
        let lens: Vec<u32> = p.descriptor.blobs().iter().map(|b| b.length).collect();
        assert_eq!(lens, vec![2_097_152, 2_097_152, 112]);
        // Every blob and the sd blob are in the store, pinned.
        assert_eq!(store.stats().blobs, 4);
        assert_eq!(store.stats().cached_bytes, 0);
    }

    #[test]
    fn empty_file_is_a_terminator_only_stream() {
        let (store, p) = publish_bytes("empty", b"");
        assert!(p.descriptor.blobs().is_empty());
        assert_eq!(p.size, 0);
        assert!(store.contains(&p.sd_hash.as_blob()));
    }

    #[test]
    fn random_ivs_and_keys_differ_per_publish() {
        let store = MemStore::new();
        let a = publish_reader(
            &store,
            "x",
            &b"same"[..],
            &PublishOptions::default(),
            &|_| {},
        )
        .unwrap();
        let b = publish_reader(
            &store,
            "x",
            &b"same"[..],
            &PublishOptions::default(),
            &|_| {},
        )
        .unwrap();
        assert_ne!(a.sd_hash, b.sd_hash);
    }

    #[test]
    fn read_errors_name_the_file() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        let store = MemStore::new();
        let e = publish_reader(&store, "f.bin", Broken, &vector_opts(), &|_| {}).unwrap_err();
        assert!(e.to_string().contains("f.bin"), "{e}");
        assert_eq!(
            store.stats().blobs,
            0,
            "nothing is described after a failed read"
        );
    }

    /// Yields `left` pseudo-random bytes, then fails once `store` holds
    /// `stored` blobs, so the publish has really stored some when it fails.
    struct FailsAfter<'a> {
        left: usize,
        store: &'a (dyn Stats + Sync),
        stored: usize,
    }

    impl Read for FailsAfter<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.left == 0 {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
                while self.store.stats().blobs < self.stored && std::time::Instant::now() < deadline
                {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                return Err(io::Error::other("disk on fire"));
            }
            let n = buf.len().min(self.left);
            for (i, b) in buf[..n].iter_mut().enumerate() {
                *b = (self.left - i) as u8 ^ 0x5a;
            }
            self.left -= n;
            Ok(n)
        }
    }

    fn publish_failing_midway<S: PublishStore + Stats>(store: &S) {
        let reader = FailsAfter {
            left: 5 * PLAIN_CHUNK / 2,
            store,
            stored: store.stats().blobs + 1,
        };
        let e = publish_reader(store, "f.bin", reader, &vector_opts(), &|_| {}).unwrap_err();
        assert!(matches!(e, PublishError::Read { .. }), "{e}");
    }

    #[test]
    fn a_publish_that_fails_midway_leaves_no_blob_behind() {
        let mem = MemStore::new();
        let earlier = publish_reader(&mem, "a", &b"kept"[..], &vector_opts(), &|_| {}).unwrap();
        publish_failing_midway(&mem);
        assert_eq!(mem.list().len(), 2, "only the earlier stream's blobs");
        assert!(mem.contains(&earlier.sd_hash.as_blob()));

        let dir = tempfile::TempDir::new().unwrap();
        let disk = crate::store::DiskStore::open(dir.path(), u64::MAX).unwrap();
        publish_failing_midway(&disk);
        assert_eq!(
            disk.stats(),
            crate::store::StoreStats {
                cap_bytes: u64::MAX,
                ..Default::default()
            }
        );
        let files = std::fs::read_dir(dir.path().join("blobfiles")).unwrap();
        assert_eq!(files.count(), 0);
        let pins = std::fs::read_to_string(dir.path().join("pinned")).unwrap();
        assert_eq!(pins, "", "nothing was pinned");
    }

    #[test]
    fn a_published_stream_is_pinned_whole() {
        let dir = tempfile::TempDir::new().unwrap();
        let data: Vec<u8> = (0..PLAIN_CHUNK + 10).map(|i| i as u8).collect();
        let p = {
            let disk = crate::store::DiskStore::open(dir.path(), 0).unwrap();
            publish_reader(&disk, "b", &data[..], &vector_opts(), &|_| {}).unwrap()
        };
        let disk = crate::store::DiskStore::open(dir.path(), 0).unwrap();
        let st = disk.stats();
        assert_eq!(
            (st.blobs, st.cached_bytes),
            (3, 0),
            "two data blobs and the sd blob, all pinned"
        );
        assert!(disk.contains(&p.sd_hash.as_blob()));
    }
}
