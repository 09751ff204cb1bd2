//! `--log-file FILE`: the log of a node left running, capped in size.
//!
//! A mount left running for months must not fill its disk with its log:
//! when the file would pass [`LOG_CAP`], it becomes `FILE.1` (replacing the
//! previous one) and a new `FILE` starts, so at most twice the cap is kept.
//! A daemon's standard error follows the current file too, so a panic's
//! message lands next to the log lines before it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// The size at which the log file is rotated.
pub const LOG_CAP: u64 = 10 << 20;

/// An append-only log file, rotated at a cap.
#[derive(Debug)]
pub struct RotatingLog {
    path: PathBuf,
    file: File,
    size: u64,
    cap: u64,
    /// Point standard error at the current file (a daemon's stderr is its log).
    stderr_too: bool,
}

impl RotatingLog {
    /// Opens (creating) `path` for appending; with `stderr_too`, standard
    /// error is redirected to it as well.
    pub fn open(path: &Path, cap: u64, stderr_too: bool) -> std::io::Result<RotatingLog> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = open_append(path)?;
        let size = file.metadata()?.len();
        let log = RotatingLog {
            path: path.to_path_buf(),
            file,
            size,
            cap,
            stderr_too,
        };
        log.redirect_stderr();
        Ok(log)
    }

    /// `FILE` becomes `FILE.1` and a new, empty `FILE` is written from now on.
    fn rotate(&mut self) -> std::io::Result<()> {
        let mut old = self.path.clone().into_os_string();
        old.push(".1");
        std::fs::rename(&self.path, &old)?;
        self.file = open_append(&self.path)?;
        self.size = 0;
        self.redirect_stderr();
        Ok(())
    }

    fn redirect_stderr(&self) {
        if self.stderr_too {
            // SAFETY: dup2 onto descriptor 2 of two descriptors we hold open.
            unsafe { libc::dup2(self.file.as_raw_fd(), 2) };
        }
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl Write for RotatingLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.size > 0 && self.size + buf.len() as u64 > self.cap {
            // A log that cannot rotate (its folder gone read-only) keeps
            // writing where it is rather than losing lines.
            let _ = self.rotate();
        }
        let n = self.file.write(buf)?;
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_rotates_at_its_cap_and_keeps_one_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/node.log");
        let old = dir.path().join("logs/node.log.1");
        let mut log = RotatingLog::open(&path, 100, false).unwrap();
        let line = [b'a'; 39];
        for _ in 0..2 {
            log.write_all(&line).unwrap();
        }
        assert!(!old.exists(), "78 bytes fit under the cap");
        log.write_all(b"third line, over the cap\n").unwrap();
        assert_eq!(std::fs::read(&old).unwrap().len(), 78);
        assert_eq!(std::fs::read(&path).unwrap(), b"third line, over the cap\n");
        for _ in 0..5 {
            log.write_all(&line).unwrap();
        }
        let sizes = [
            std::fs::metadata(&path).unwrap().len(),
            std::fs::metadata(&old).unwrap().len(),
        ];
        assert!(sizes.iter().all(|s| *s <= 100), "{sizes:?}");
        assert_eq!(
            std::fs::read_dir(dir.path().join("logs")).unwrap().count(),
            2
        );
    }

    #[test]
    fn a_reopened_log_counts_what_it_already_holds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.log");
        std::fs::write(&path, [b'x'; 90]).unwrap();
        let mut log = RotatingLog::open(&path, 100, false).unwrap();
        log.write_all(&[b'y'; 20]).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), [b'y'; 20]);
    }
}
