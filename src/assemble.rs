//! Stream → file: decrypt verified blobs in order and write the original bytes.
//!
//! The output is written to a hidden part file beside the target and renamed
//! into place only when every byte is there, so a failed or interrupted `get`
//! never leaves a truncated file under the final name. Blobs reach this module
//! already verified (`VerifiedBlob`); it checks them against the descriptor
//! (length) and decrypts them. Where blobs come from (local store or peers) is
//! the caller's business.

use crate::blob::{self, BlobError, VerifiedBlob};
use crate::hash::{BlobHash, SdHash};
use crate::layout::{Layout, Size};
use crate::pipeline::ordered_map;
use crate::sd::{BlobInfo, SdError, StreamDescriptor};
use crate::store::{BlobStore, StoreError};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

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
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Reads and checks a stream descriptor from the store (a use of its blob).
pub fn load_descriptor(store: &dyn BlobStore, sd: &SdHash) -> Result<StreamDescriptor, GetError> {
    parse_descriptor(sd, store.get(&sd.as_blob())?)
}

/// [`load_descriptor`] for looking around (`ls`): not a use, so the cache
/// order stays as it was.
pub fn load_descriptor_quiet(
    store: &dyn BlobStore,
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

/// Written bytes after which the kernel is asked to start writing them back.
/// Without it a file smaller than the dirty-page limits (gigabytes on a
/// large machine) stays in memory until the final fsync, which then waits
/// for all of it at once; with it the writeback overlaps the download and
/// the final fsync waits only for the tail.
const WRITEBACK_EVERY: u64 = 8 << 20;

/// An output file that appears under its final name only when complete.
pub struct Output {
    part: PathBuf,
    target: PathBuf,
    file: BufWriter<File>,
    written: u64,
    /// Bytes before this offset have had their writeback started.
    writeback_from: u64,
    done: bool,
    /// Whether an existing file under the target name may be replaced.
    replace: bool,
}

impl Output {
    /// A part file beside `target`. With `replace` false, `finish` fails
    /// rather than overwrite a file that exists under the target name.
    pub fn create(target: &Path, replace: bool) -> Result<Self, GetError> {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let part = target.with_file_name(format!(".{name}.lbrymount-part"));
        let file = File::create(&part).map_err(|source| GetError::Write {
            path: part.clone(),
            source,
        })?;
        Ok(Self {
            part,
            target: target.to_path_buf(),
            file: BufWriter::with_capacity(1 << 20, file),
            written: 0,
            writeback_from: 0,
            done: false,
            replace,
        })
    }

    pub fn write(&mut self, plain: &[u8]) -> Result<(), GetError> {
        self.file
            .write_all(plain)
            .map_err(|source| GetError::Write {
                path: self.part.clone(),
                source,
            })?;
        self.written += plain.len() as u64;
        self.start_writeback();
        Ok(())
    }

    /// Starts (does not wait for) the writeback of what reached the file
    /// since the last call, once that is `WRITEBACK_EVERY` bytes. Only a
    /// hint: errors show up in the final fsync, which is what counts.
    fn start_writeback(&mut self) {
        let in_file = self.written - self.file.buffer().len() as u64;
        let len = in_file - self.writeback_from;
        if len < WRITEBACK_EVERY {
            return;
        }
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            if let (Ok(from), Ok(n)) = (i64::try_from(self.writeback_from), i64::try_from(len)) {
                // SAFETY: a plain syscall on a descriptor `self.file` keeps open.
                unsafe {
                    libc::sync_file_range(
                        self.file.get_ref().as_raw_fd(),
                        from,
                        n,
                        libc::SYNC_FILE_RANGE_WRITE,
                    );
                }
            }
        }
        self.writeback_from = in_file;
    }

    /// Flushes, syncs and renames into place; returns the bytes written.
    pub fn finish(mut self) -> Result<u64, GetError> {
        let part_err = |source| GetError::Write {
            path: self.part.clone(),
            source,
        };
        self.file.flush().map_err(part_err)?;
        self.file.get_ref().sync_all().map_err(part_err)?;
        let target_err = |source| GetError::Write {
            path: self.target.clone(),
            source,
        };
        if self.replace {
            std::fs::rename(&self.part, &self.target).map_err(target_err)?;
        } else {
            // A hard link fails if the name exists, so nothing is ever overwritten,
            // even by a file that appeared while the stream was downloading.
            std::fs::hard_link(&self.part, &self.target).map_err(target_err)?;
            let _ = std::fs::remove_file(&self.part);
        }
        self.done = true;
        Ok(self.written)
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.part);
        }
    }
}

/// Reassembles a stream from the local store only (`get --offline`); the
/// caller has loaded and checked its descriptor.
pub fn get_offline(
    store: &dyn BlobStore,
    desc: &StreamDescriptor,
    target: &Path,
    replace: bool,
    workers: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<u64, GetError> {
    // Fail before writing anything if a blob is missing.
    if let Some(b) = desc.blobs().iter().find(|b| !store.contains(&b.hash)) {
        return Err(GetError::MissingBlob {
            num: b.blob_num,
            hash: b.hash,
        });
    }
    let mut out = Output::create(target, replace)?;
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
    out.finish()
}

/// The stream's plaintext size and whether it is exact. Exact once the last
/// blob is in the store (decrypting it reveals its padding) and every earlier
/// blob follows LBRY's layout; otherwise the layout's best estimate. Reading
/// the last blob is not a use of it (this serves `ls`).
pub fn stream_size(store: &dyn BlobStore, desc: &StreamDescriptor) -> (u64, bool) {
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
pub fn local_streams(store: &dyn BlobStore) -> Vec<(SdHash, StreamDescriptor)> {
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
