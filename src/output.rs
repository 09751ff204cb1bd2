//! Where `get` writes a stream: a file that appears whole or not at all, or
//! standard output.
//!
//! A file is written to a hidden part file beside the target and renamed
//! into place only when every byte is there, so a failed or interrupted `get`
//! never leaves a truncated file under the final name. Only a regular file is
//! ever replaced: a symlink, a device node, a FIFO or a directory under the
//! target name is refused (checked before the download and again just before
//! the rename), so `-o /dev/null` or `-o /dev/stdout` cannot replace a system
//! file. The part file is opened without following symlinks and locked, so
//! two `get`s of the same target never write into each other's part file.
//!
//! Part files in progress are listed process-wide so that a signal handler
//! can remove them ([`remove_live_parts`]) before the process dies.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Longest file name most filesystems accept, in bytes.
const NAME_MAX: usize = 255;
/// The part file's name is `.` + target name + this.
const PART_SUFFIX: &str = ".lbrymount-part";

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("refusing to replace {path}: it is {kind}, not a regular file (use `-o -` to write to standard output)")]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("{path} is being written by another lbrymount get")]
    Busy { path: PathBuf },
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Part files being written now, removed by [`remove_live_parts`].
static LIVE_PARTS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Removes every part file this process is writing (on SIGINT/SIGTERM, just
/// before it exits). Blobs already fetched stay in the store.
pub fn remove_live_parts() {
    let live = LIVE_PARTS.lock().unwrap_or_else(|e| e.into_inner());
    for p in live.iter() {
        let _ = std::fs::remove_file(p);
    }
}

/// Lists a part file for [`remove_live_parts`].
pub(crate) fn track_part(part: &Path) {
    let mut live = LIVE_PARTS.lock().unwrap_or_else(|e| e.into_inner());
    live.push(part.to_path_buf());
}

pub(crate) fn forget_part(part: &Path) {
    let mut live = LIVE_PARTS.lock().unwrap_or_else(|e| e.into_inner());
    live.retain(|p| p != part);
}

/// What kind of thing `meta` describes, for an error message; `None` for a regular file.
fn not_regular(meta: &std::fs::Metadata) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    match () {
        _ if t.is_file() => None,
        _ if t.is_symlink() => Some("a symbolic link"),
        _ if t.is_dir() => Some("a directory"),
        _ if t.is_char_device() => Some("a character device"),
        _ if t.is_block_device() => Some("a block device"),
        _ if t.is_fifo() => Some("a FIFO"),
        _ if t.is_socket() => Some("a socket"),
        _ => Some("not a regular file"),
    }
}

/// Ok if `path` does not exist or is a regular file (never following a symlink).
pub fn check_replaceable(path: &Path) -> Result<(), OutputError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) => match not_regular(&meta) {
            None => Ok(()),
            Some(kind) => Err(OutputError::NotRegular {
                path: path.to_path_buf(),
                kind,
            }),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(OutputError::Write {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The part file of `target`: hidden, beside it, and within `NAME_MAX`
/// however long the target's name is.
pub fn part_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut end = name.len().min(NAME_MAX - 1 - PART_SUFFIX.len());
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    target.with_file_name(format!(".{}{PART_SUFFIX}", &name[..end]))
}

/// Where the bytes go.
enum Sink {
    File(FileSink),
    Stdout(BufWriter<io::Stdout>),
}

struct FileSink {
    part: PathBuf,
    target: PathBuf,
    file: BufWriter<File>,
    /// Bytes before this offset have had their writeback started.
    writeback_from: u64,
    /// Whether an existing regular file under the target name may be replaced.
    replace: bool,
    done: bool,
}

/// Written bytes after which the kernel is asked to start writing them back.
/// Without it a file smaller than the dirty-page limits (gigabytes on a
/// large machine) stays in memory until the final fsync, which then waits
/// for all of it at once; with it the writeback overlaps the download and
/// the final fsync waits only for the tail.
const WRITEBACK_EVERY: u64 = 8 << 20;

/// An output: a file that appears under its final name only when complete,
/// or standard output.
pub struct Output {
    sink: Sink,
    written: u64,
}

impl Output {
    /// A part file beside `target`. With `replace` false, `finish` fails
    /// rather than overwrite anything under the target name; with it true,
    /// only a regular file is ever replaced.
    pub fn create(target: &Path, replace: bool) -> Result<Self, OutputError> {
        check_replaceable(target)?;
        let part = part_path(target);
        let file = open_part(&part)?;
        LIVE_PARTS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(part.clone());
        Ok(Self {
            sink: Sink::File(FileSink {
                part,
                target: target.to_path_buf(),
                file: BufWriter::with_capacity(1 << 20, file),
                writeback_from: 0,
                replace,
                done: false,
            }),
            written: 0,
        })
    }

    /// Standard output, written in order as the bytes come.
    pub fn stdout() -> Self {
        Self {
            sink: Sink::Stdout(BufWriter::with_capacity(1 << 20, io::stdout())),
            written: 0,
        }
    }

    /// Where the bytes end up, for messages.
    pub fn describe(&self) -> String {
        match &self.sink {
            Sink::File(f) => f.target.display().to_string(),
            Sink::Stdout(_) => "standard output".to_string(),
        }
    }

    pub fn write(&mut self, plain: &[u8]) -> Result<(), OutputError> {
        match &mut self.sink {
            Sink::File(f) => {
                f.file
                    .write_all(plain)
                    .map_err(|source| OutputError::Write {
                        path: f.part.clone(),
                        source,
                    })?;
                self.written += plain.len() as u64;
                f.start_writeback(self.written);
            }
            Sink::Stdout(out) => {
                out.write_all(plain).map_err(stdout_err)?;
                self.written += plain.len() as u64;
            }
        }
        Ok(())
    }

    /// Flushes; a file is synced and renamed into place. Returns the bytes written.
    pub fn finish(mut self) -> Result<u64, OutputError> {
        match &mut self.sink {
            Sink::File(f) => f.finish()?,
            Sink::Stdout(out) => out.flush().map_err(stdout_err)?,
        }
        Ok(self.written)
    }
}

fn stdout_err(source: io::Error) -> OutputError {
    OutputError::Write {
        path: PathBuf::from("standard output"),
        source,
    }
}

/// Opens (creating) the part file without following a symlink, requires a
/// regular file, and locks it; a stale part file of an earlier run is reused.
fn open_part(part: &Path) -> Result<File, OutputError> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| OutputError::Write {
        path: part.to_path_buf(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(part)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => OutputError::NotRegular {
                path: part.to_path_buf(),
                kind: "a symbolic link",
            },
            _ => err(e),
        })?;
    let meta = file.metadata().map_err(err)?;
    if let Some(kind) = not_regular(&meta) {
        return Err(OutputError::NotRegular {
            path: part.to_path_buf(),
            kind,
        });
    }
    // SAFETY: flock(2) on a descriptor `file` keeps open.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(OutputError::Busy {
            path: part.to_path_buf(),
        });
    }
    file.set_len(0).map_err(err)?;
    Ok(file)
}

impl FileSink {
    /// Starts (does not wait for) the writeback of what reached the file
    /// since the last call, once that is `WRITEBACK_EVERY` bytes. Only a
    /// hint: errors show up in the final fsync, which is what counts.
    fn start_writeback(&mut self, written: u64) {
        let in_file = written - self.file.buffer().len() as u64;
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

    fn finish(&mut self) -> Result<(), OutputError> {
        let part_err = |source| OutputError::Write {
            path: self.part.clone(),
            source,
        };
        self.file.flush().map_err(part_err)?;
        self.file.get_ref().sync_all().map_err(part_err)?;
        let target_err = |source| OutputError::Write {
            path: self.target.clone(),
            source,
        };
        if self.replace {
            // Something other than a file may have appeared meanwhile.
            check_replaceable(&self.target)?;
            std::fs::rename(&self.part, &self.target).map_err(target_err)?;
        } else {
            // A hard link fails if the name exists, so nothing is ever overwritten,
            // even by a file that appeared while the stream was downloading.
            std::fs::hard_link(&self.part, &self.target).map_err(target_err)?;
            let _ = std::fs::remove_file(&self.part);
        }
        self.done = true;
        forget_part(&self.part);
        Ok(())
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.part);
            forget_part(&self.part);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_names_fit_name_max() {
        let dir = Path::new("/d");
        for len in [1, 200, 239, 240, 254, 255] {
            let target = dir.join("é".repeat(len / 2) + &"x".repeat(len % 2));
            let part = part_path(&target);
            let name = part.file_name().unwrap().to_str().unwrap();
            assert!(name.len() <= NAME_MAX, "{len}: {}", name.len());
            assert!(name.starts_with('.') && name.ends_with(PART_SUFFIX));
        }
    }

    #[test]
    fn only_regular_files_are_replaceable() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, "x").unwrap();
        assert!(check_replaceable(&f).is_ok());
        assert!(check_replaceable(&dir.path().join("absent")).is_ok());
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        assert!(matches!(
            check_replaceable(&link),
            Err(OutputError::NotRegular { .. })
        ));
        assert!(matches!(
            check_replaceable(dir.path()),
            Err(OutputError::NotRegular { .. })
        ));
    }
}
