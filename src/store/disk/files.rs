//! The file-level pieces of the disk store: the data-dir lock, crash-safe
//! installation of a file (temp + fsync + rename + directory fsync), the
//! folder scan at open, and the append-only pin log.
//!
//! Nothing here touches the index; each function names the file it failed on.

use super::super::StoreError;
use crate::blob::MAX_BLOB_SIZE;
use crate::hash::BlobHash;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

/// Prefix of temporary files. A valid blob name is lowercase hex only, so a
/// temp file can never be mistaken for a blob.
const TEMP_PREFIX: &str = ".tmp-";

/// Maps an `io::Error` to `StoreError::Io` naming the operation and the path.
pub(super) fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError::Io { op, path, source }
}

/// An exclusive `flock` on `<data_dir>/lock`, released when dropped (the
/// kernel releases it too if the process dies, so a stale file never blocks).
pub(super) struct DirLock {
    _file: File,
}

pub(super) fn lock_dir(data_dir: &Path) -> Result<DirLock, StoreError> {
    let path = data_dir.join("lock");
    let mut file = private_file()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io_err("open", &path))?;
    // SAFETY: flock on a descriptor we own, for as long as `file` lives.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
            let mut text = String::new();
            let pid = file
                .read_to_string(&mut text)
                .ok()
                .and_then(|_| text.trim().parse().ok());
            return Err(StoreError::Locked {
                path: data_dir.to_path_buf(),
                pid,
            });
        }
        return Err(io_err("lock", &path)(err));
    }
    file.set_len(0)
        .and_then(|()| file.write_all(format!("{}\n", std::process::id()).as_bytes()))
        .map_err(io_err("write", &path))?;
    Ok(DirLock { _file: file })
}

/// Writes `data` into `dir/name` through a fresh temp file (bytes written
/// through `write`) renamed into place, so no other name ever shows a partial
/// file. With `durable`, the file is fsynced before the rename and the
/// directory (`dir_handle`, kept open so this costs one syscall) after it, so
/// a power cut leaves either nothing or the complete file. Without it (cached
/// blobs, which can be fetched again) a power cut may leave a torn file under
/// the name; it fails its hash when read or first served and is removed.
/// On any error the temp file is removed and the error names the file.
pub(super) fn install<W>(
    dir: &Path,
    dir_handle: &File,
    name: &str,
    data: &[u8],
    durable: bool,
    write: W,
) -> Result<(), StoreError>
where
    W: FnOnce(&mut File, &[u8]) -> io::Result<()>,
{
    let tag = name.get(..8).unwrap_or(name);
    let tmp = dir.join(format!("{TEMP_PREFIX}{tag}-{:016x}", rand::random::<u64>()));
    let dest = dir.join(name);
    let mut file = private_file()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(io_err("create", &tmp))?;
    let written = write(&mut file, data)
        .map_err(io_err("write", &tmp))
        .and_then(|()| match durable {
            true => file.sync_data().map_err(io_err("sync", &tmp)),
            false => Ok(()),
        });
    drop(file);
    if let Err(e) = written.and_then(|()| fs::rename(&tmp, &dest).map_err(io_err("rename", &tmp))) {
        if let Err(rm) = fs::remove_file(&tmp) {
            tracing::warn!(path = %tmp.display(), error = %rm, "cannot remove temporary file");
        }
        return Err(e);
    }
    if !durable {
        return Ok(());
    }
    dir_handle.sync_all().map_err(|e| {
        // The rename may not survive a crash: undo it rather than report a
        // blob stored that is not durably stored.
        let _ = fs::remove_file(&dest);
        io_err("sync directory", dir)(e)
    })
}

/// fsyncs a directory, so entries just created in it survive a power cut.
pub(super) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("sync directory", dir))
}

/// Permission bits of everything the store creates: sd blobs carry the
/// keys that decrypt their streams, so the store is its user's alone.
const PRIVATE_DIR: u32 = 0o700;
const PRIVATE_FILE: u32 = 0o600;

/// Creates `dir` owner-only (its parents as usual). An existing `dir` open
/// to others is closed to them, with a warning, if it is ours; another
/// user's is left as it is, with a warning.
pub(super) fn private_dir(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(io_err("create directory", parent))?;
    }
    match fs::DirBuilder::new().mode(PRIVATE_DIR).create(dir) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        other => return other.map_err(io_err("create directory", dir)),
    }
    let meta = fs::metadata(dir).map_err(io_err("stat", dir))?;
    if !meta.is_dir() {
        let not_dir = io::Error::from_raw_os_error(libc::ENOTDIR);
        return Err(io_err("create directory", dir)(not_dir));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 == 0 {
        return Ok(());
    }
    // SAFETY: geteuid cannot fail and touches no memory.
    if meta.uid() != unsafe { libc::geteuid() } {
        tracing::warn!(
            "{} is open to other users (mode {mode:04o}) and not ours to change; it holds keys to every stream",
            dir.display()
        );
        return Ok(());
    }
    let tight = mode & !0o077;
    fs::set_permissions(dir, fs::Permissions::from_mode(tight)).map_err(io_err("chmod", dir))?;
    tracing::warn!(
        "{} was open to other users; changed its mode from {mode:04o} to {tight:04o} (it holds keys to every stream)",
        dir.display()
    );
    Ok(())
}

/// Opening options for a new owner-only file.
fn private_file() -> OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = OpenOptions::new();
    o.mode(PRIVATE_FILE);
    o
}

/// Whether `path` exists, as a store error naming it.
pub(super) fn exists(path: &Path) -> Result<bool, StoreError> {
    path.try_exists().map_err(io_err("stat", path))
}

/// Removes `.tmp-*` leftovers of a crash from `dir`; returns how many.
pub(super) fn remove_temp_files(dir: &Path) -> Result<usize, StoreError> {
    let mut removed = 0;
    for entry in fs::read_dir(dir).map_err(io_err("list", dir))? {
        let entry = entry.map_err(io_err("list", dir))?;
        if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            let path = entry.path();
            fs::remove_file(&path).map_err(io_err("remove", &path))?;
            tracing::debug!(path = %path.display(), "removed stray temporary file");
            removed += 1;
        }
    }
    Ok(removed)
}

/// A blob file found at open (not hashed: `get` verifies on read).
pub(super) struct Found {
    pub hash: BlobHash,
    pub len: u64,
    pub mtime: SystemTime,
}

/// Lists the blob files in `dir`: regular files named by a valid hash of at
/// most 2 MiB. Anything else is left alone and logged.
pub(super) fn scan_blobs(dir: &Path) -> Result<Vec<Found>, StoreError> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err("list", dir))? {
        let entry = entry.map_err(io_err("list", dir))?;
        let path = entry.path();
        let Some(hash) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            tracing::warn!(path = %path.display(), "ignoring a file that is not named by a blob hash");
            continue;
        };
        let meta = entry.metadata().map_err(io_err("stat", &path))?;
        if !meta.is_file() || meta.len() > MAX_BLOB_SIZE as u64 {
            tracing::warn!(path = %path.display(), len = meta.len(), "ignoring a blob name that is not a regular file of at most 2 MiB");
            continue;
        }
        found.push(Found {
            hash,
            len: meta.len(),
            mtime: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        });
    }
    Ok(found)
}

/// The pin set on disk: one hex hash per line, appended as blobs are pinned,
/// and `-<hash>` when a pinned blob is removed (an unpublished stream), so
/// the log is only ever appended to while the store is open; it is compacted
/// at open. A line for a blob that is gone is harmless.
pub(super) struct PinLog {
    path: PathBuf,
    file: Mutex<File>,
}

impl PinLog {
    /// Reads the pinned hashes (none if the file is absent), applying removals
    /// in order. Lines that are not a hash are skipped and counted as `bad`,
    /// as are removal lines (both make the log worth compacting).
    pub fn load(path: &Path) -> Result<(Vec<BlobHash>, usize), StoreError> {
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
            Err(e) => return Err(io_err("read", path)(e)),
        };
        let mut bad = 0;
        let mut hashes = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            if let Some(Ok(gone)) = line.trim().strip_prefix('-').map(str::parse::<BlobHash>) {
                hashes.retain(|h| *h != gone);
                bad += 1;
                continue;
            }
            match line.trim().parse() {
                Ok(h) => hashes.push(h),
                Err(e) => {
                    tracing::warn!(path = %path.display(), line, error = %e, "ignoring a bad line in the pin file");
                    bad += 1;
                }
            }
        }
        Ok((hashes, bad))
    }

    pub fn open(path: &Path) -> Result<PinLog, StoreError> {
        let file = private_file()
            .append(true)
            .create(true)
            .open(path)
            .map_err(io_err("open", path))?;
        Ok(PinLog {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    /// Appends hashes durably. A failed append is cut back off, so the next
    /// one does not start in the middle of a line.
    pub fn append(&self, hashes: &[BlobHash]) -> Result<(), StoreError> {
        self.append_lines(hashes, "")
    }

    /// Records durably that these blobs are pinned no more.
    pub fn append_removals(&self, hashes: &[BlobHash]) -> Result<(), StoreError> {
        self.append_lines(hashes, "-")
    }

    fn append_lines(&self, hashes: &[BlobHash], prefix: &str) -> Result<(), StoreError> {
        if hashes.is_empty() {
            return Ok(());
        }
        let text: String = hashes
            .iter()
            .map(|h| format!("{prefix}{}\n", h.to_hex()))
            .collect();
        let file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let before = file.metadata().map_err(io_err("stat", &self.path))?.len();
        let result = (&*file)
            .write_all(text.as_bytes())
            .and_then(|()| file.sync_data());
        result.map_err(|e| {
            let _ = file.set_len(before);
            io_err("append to", &self.path)(e)
        })
    }
}

/// Marks a blob file recently used, so LRU order survives a restart.
pub(super) fn refresh_mtime(file: &File, hash: &BlobHash) {
    if let Err(e) = file.set_modified(SystemTime::now()) {
        tracing::debug!(blob = %hash.short(), error = %e, "cannot update mtime");
    }
}

pub(super) fn remove_file_logged(path: &Path) {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot delete blob file"),
    }
}
