//! Checksums of the blobs this data dir wrote, so a re-read skips SHA-384.
//!
//! SHA-384 runs at about 700 MB/s a core, slower than a disk cache read: a
//! store that re-hashed every hit would serve a warm cache no faster than
//! the network. So when the store writes a blob (from a [`VerifiedBlob`],
//! whose bytes were hashed) or has hashed one it found, it records the
//! blob's length and XXH3-64 here, and a later read that finds the same
//! length and XXH3 takes the bytes as verified. XXH3 runs at tens of GB/s
//! (SSE2/AVX2), so the check costs next to nothing beside the read.
//!
//! What makes that sound:
//! - a record is only ever made from bytes whose SHA-384 matched the name, so
//!   it holds the checksum of *the* content of that hash, whatever happens to
//!   the file later. A stale record (blob evicted, fetched again, edited,
//!   replaced by lbrynet) is still right about what the bytes must be;
//! - any change to the file (bit rot, a torn write after a power cut, a
//!   truncation, an edit) changes its XXH3 but for a 2^-64 chance; a
//!   mismatch sends the read to the SHA-384 check as if there were no
//!   record, and that check removes the blob and reports it as `Corrupt`.
//!   XXH3 guards against accidents, not against someone forging a file and
//!   its record: whoever can write the data dir can write its records too;
//! - the record log is append-only and never fsynced: a record lost or torn
//!   by a crash, or a line that does not parse, only means "not trusted"
//!   (that blob's next read is hashed with SHA-384, and recorded again).
//!
//! The log `<data_dir>/blobsums` has one line per record,
//! `<96 hex hash> <length> <16 hex xxh3>`, the last line of a hash winning.
//! It is compacted at open (records of blobs no longer present, duplicates
//! and bad lines dropped) and while open whenever it grows past twice the
//! records in use plus [`SLACK_LINES`], so its size stays bounded by the
//! store's. The lbrynet `blobfiles/` folder is not touched.

use super::super::StoreError;
use super::files::{install, io_err};
use crate::blob::VerifiedBlob;
use crate::hash::BlobHash;
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// Name of the log in the data dir.
pub(super) const LOG_NAME: &str = "blobsums";
/// Lines the log may hold beyond twice the records in use before it is
/// compacted (about 135 bytes each).
const SLACK_LINES: usize = 4096;

/// The length and XXH3-64 of a blob's verified bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Sum {
    len: u64,
    xxh3: u64,
}

impl Sum {
    /// The blob's length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn of(data: &[u8]) -> Sum {
        Sum {
            len: data.len() as u64,
            xxh3: xxhash_rust::xxh3::xxh3_64(data),
        }
    }

    fn line(&self, hash: &BlobHash) -> String {
        format!("{} {} {:016x}\n", hash.to_hex(), self.len, self.xxh3)
    }

    /// One log line (without its newline); `None` unless it is exactly
    /// what [`line`](Self::line) writes.
    fn parse(line: &str) -> Option<(BlobHash, Sum)> {
        let mut fields = line.split(' ');
        let (hash, len, xxh3) = (fields.next()?, fields.next()?, fields.next()?);
        if fields.next().is_some() || xxh3.len() != 16 || len.starts_with('+') {
            return None;
        }
        let sum = Sum {
            len: len.parse().ok()?,
            xxh3: u64::from_str_radix(xxh3, 16).ok()?,
        };
        Some((hash.parse().ok()?, sum))
    }
}

/// Proof that the disk store checked bytes against its own record: the only
/// way to call [`VerifiedBlob::from_own_write`], and only this module makes one.
pub struct OwnWrite(());

/// `data`, read from the file of `hash`, as a verified blob if it matches
/// the record `sum`; else `data` back, to be hashed with SHA-384.
pub(super) fn vouch(hash: &BlobHash, data: Vec<u8>, sum: &Sum) -> Result<VerifiedBlob, Vec<u8>> {
    if Sum::of(&data) != *sum {
        return Err(data);
    }
    Ok(VerifiedBlob::from_own_write(*hash, data, OwnWrite(())))
}

/// The open log: appended to by every `put` and every SHA-384 check.
pub(super) struct SumLog {
    dir: PathBuf,
    path: PathBuf,
    file: Mutex<LogFile>,
}

struct LogFile {
    file: File,
    /// Bytes written, so a failed append is cut back to a whole line.
    len: u64,
    lines: usize,
    /// Compact once `lines` passes this.
    limit: usize,
}

impl SumLog {
    /// Reads the records of the log in `data_dir` (none if it is absent or
    /// unreadable), keeps those `keep` accepts, rewrites the log if it held
    /// anything else, and opens it for appending.
    pub fn open(
        data_dir: &Path,
        keep: impl Fn(&BlobHash) -> bool,
    ) -> Result<(SumLog, HashMap<BlobHash, Sum>), StoreError> {
        let path = data_dir.join(LOG_NAME);
        let text = match fs::read(&path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read blob checksums; every blob will be hashed when read");
                String::new()
            }
        };
        let mut sums = HashMap::new();
        let mut lines = 0;
        for line in text.split_inclusive('\n') {
            lines += 1;
            let parsed = line.strip_suffix('\n').and_then(Sum::parse);
            if let Some((hash, sum)) = parsed.filter(|(h, _)| keep(h)) {
                sums.insert(hash, sum);
            }
        }
        let log = SumLog {
            dir: data_dir.to_path_buf(),
            path: path.clone(),
            file: Mutex::new(LogFile {
                file: append_to(&path)?,
                len: text.len() as u64,
                lines,
                limit: 0,
            }),
        };
        let records: Vec<(BlobHash, Sum)> = sums.iter().map(|(h, s)| (*h, *s)).collect();
        let mut f = log.lock();
        if lines != records.len() {
            log.rewrite(&mut f, &records)?;
        }
        f.limit = 2 * records.len() + SLACK_LINES;
        drop(f);
        Ok((log, sums))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogFile> {
        // Every step leaves the file and its counters consistent.
        self.file.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends a record; once the log has grown past its limit, compacts it
    /// to `in_use()` (called with the log locked, so no append is lost).
    /// Failures are logged, not returned: a missing record only costs a
    /// SHA-384 check on the next read.
    pub fn append(&self, hash: &BlobHash, sum: Sum, in_use: impl FnOnce() -> Vec<(BlobHash, Sum)>) {
        let line = sum.line(hash);
        let mut f = self.lock();
        match (&f.file).write_all(line.as_bytes()) {
            Ok(()) => {
                f.len += line.len() as u64;
                f.lines += 1;
            }
            Err(e) => {
                tracing::debug!(path = %self.path.display(), error = %e, "cannot record a blob checksum");
                // Cut a partial line off, so the next record starts a line.
                let _ = f.file.set_len(f.len);
                return;
            }
        }
        if f.lines <= f.limit {
            return;
        }
        let records = in_use();
        if let Err(e) = self.rewrite(&mut f, &records) {
            tracing::warn!(error = %crate::error_chain(&e), "cannot compact the blob checksum log");
        }
        f.limit = 2 * records.len() + SLACK_LINES;
    }

    /// Replaces the log by `records` (temp file + rename) and reopens it.
    fn rewrite(&self, f: &mut LogFile, records: &[(BlobHash, Sum)]) -> Result<(), StoreError> {
        let text: String = records.iter().map(|(h, s)| s.line(h)).collect();
        let dir_handle = File::open(&self.dir).map_err(io_err("open", &self.dir))?;
        let write = |f: &mut File, d: &[u8]| f.write_all(d);
        install(
            &self.dir,
            &dir_handle,
            LOG_NAME,
            text.as_bytes(),
            false,
            write,
        )?;
        f.file = append_to(&self.path)?;
        f.len = text.len() as u64;
        f.lines = records.len();
        Ok(())
    }
}

fn append_to(path: &Path) -> Result<File, StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err("open", path))
}
