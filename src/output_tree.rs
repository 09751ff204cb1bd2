//! Where `get` writes a collection: files inside one directory, never
//! outside it.
//!
//! A collection's paths come from anyone. They are checked when the
//! collection is parsed (relative, no `..`), and here the directory itself
//! is walked one component at a time with `openat(O_NOFOLLOW)` from a
//! descriptor of the target directory, so a symbolic link found inside it
//! (planted, or left by anything) is refused with its path instead of being
//! followed somewhere else. Folders are created as needed. A file is written
//! to a hidden part file beside its final name, checked (size, and SHA-384
//! when the collection gives one), synced and renamed into place, so a
//! failed or interrupted `get` never leaves a truncated file under a final
//! name; only a regular file is ever replaced. Blocking: callers run it on
//! blocking threads.

use crate::output::part_path;
use crate::sha384::Sha384;
use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error("refusing to write through {path}: it is a symbolic link inside the target directory")]
    Symlink { path: PathBuf },
    #[error("refusing to write {path}: it is {kind}, not a regular file")]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("cannot write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: got {got} bytes, the collection says {want}")]
    Size { path: PathBuf, got: u64, want: u64 },
    #[error("{path}: content does not match the collection's SHA-384")]
    Digest { path: PathBuf },
}

/// The target directory, held open: every path is resolved from it.
pub struct TreeRoot {
    fd: OwnedFd,
    path: PathBuf,
}

/// What is under a file's final name now.
pub enum Existing {
    Absent,
    /// A regular file of this size and SHA-384.
    File {
        size: u64,
        sha384: [u8; 48],
    },
}

fn cstr(name: &str) -> io::Result<CString> {
    CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`; `None` if absent.
fn lstat_at(dir: &OwnedFd, name: &CString) -> io::Result<Option<libc::stat>> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `name` is NUL-terminated, `st` is written by the call.
    let r = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            st.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    match check(r) {
        Ok(_) => Ok(Some(unsafe { st.assume_init() })),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn kind_of(mode: libc::mode_t) -> Option<&'static str> {
    match mode & libc::S_IFMT {
        libc::S_IFREG => None,
        libc::S_IFLNK => Some("a symbolic link"),
        libc::S_IFDIR => Some("a directory"),
        libc::S_IFIFO => Some("a FIFO"),
        libc::S_IFSOCK => Some("a socket"),
        _ => Some("a device"),
    }
}

/// `openat(dir, name, flags)` as an owned descriptor.
fn open_at(dir: &OwnedFd, name: &CString, flags: libc::c_int) -> io::Result<OwnedFd> {
    let flags = flags | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: `name` is NUL-terminated; the descriptor returned is ours.
    let fd = check(unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags, 0o644) })?;
    // SAFETY: `fd` was just opened and is owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl TreeRoot {
    /// Opens (creating it and its parents if needed) the directory `dir`.
    /// `dir` itself is what the user named, so a symlink to a directory is
    /// followed there; nothing inside it is.
    pub fn open(dir: &Path) -> Result<Self, TreeError> {
        let io_err = |source| TreeError::Io {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io_err)?;
        let c = CString::new(dir.as_os_str().as_bytes())
            .map_err(|_| io_err(io::Error::from(io::ErrorKind::InvalidInput)))?;
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
        // SAFETY: `c` is NUL-terminated; the descriptor returned is ours.
        let fd = check(unsafe { libc::open(c.as_ptr(), flags) }).map_err(io_err)?;
        Ok(Self {
            // SAFETY: just opened, owned by nothing else.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            path: dir.to_path_buf(),
        })
    }

    /// The on-disk path of `rel` (for messages).
    pub fn display(&self, rel: &str) -> PathBuf {
        self.path.join(rel)
    }

    /// The folder holding `rel` (created as needed), and `rel`'s last name.
    pub fn parent(&self, rel: &str) -> Result<(Dir, String), TreeError> {
        let mut parts: Vec<&str> = rel.split('/').collect();
        let name = parts.pop().unwrap_or_default().to_owned();
        let mut fd = self.fd.try_clone().map_err(|source| TreeError::Io {
            path: self.path.clone(),
            source,
        })?;
        let mut at = self.path.clone();
        for part in parts {
            at.push(part);
            fd = descend(&fd, part, &at)?;
        }
        Ok((Dir { fd, path: at }, name))
    }
}

/// Opens folder `part` of `dir` (whose path is `at`), creating it if absent,
/// never following a symlink.
fn descend(dir: &OwnedFd, part: &str, at: &Path) -> Result<OwnedFd, TreeError> {
    let io_err = |source| TreeError::Io {
        path: at.to_path_buf(),
        source,
    };
    let c = cstr(part).map_err(io_err)?;
    match lstat_at(dir, &c).map_err(io_err)? {
        None => {
            // SAFETY: `c` is NUL-terminated.
            let r = unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), 0o755) };
            match check(r) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_err(e)),
            }
        }
        Some(st) if st.st_mode & libc::S_IFMT == libc::S_IFLNK => {
            return Err(TreeError::Symlink {
                path: at.to_path_buf(),
            })
        }
        Some(_) => {}
    }
    match open_at(dir, &c, libc::O_RDONLY | libc::O_DIRECTORY) {
        Ok(fd) => Ok(fd),
        // A symlink put there since the check above.
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => Err(TreeError::Symlink {
            path: at.to_path_buf(),
        }),
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => Err(TreeError::NotRegular {
            path: at.to_path_buf(),
            kind: "a file where the collection has a folder",
        }),
        Err(e) => Err(io_err(e)),
    }
}

/// A folder inside the target directory, held open.
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

impl Dir {
    /// What is under `name`: absent, or a regular file (hashed); anything
    /// else is refused.
    pub fn existing(&self, name: &str) -> Result<Existing, TreeError> {
        let path = self.path.join(name);
        let io_err = |source| TreeError::Io {
            path: path.clone(),
            source,
        };
        let c = cstr(name).map_err(io_err)?;
        let Some(st) = lstat_at(&self.fd, &c).map_err(io_err)? else {
            return Ok(Existing::Absent);
        };
        check_kind(st.st_mode, &path)?;
        let fd = open_at(&self.fd, &c, libc::O_RDONLY).map_err(io_err)?;
        let mut file = File::from(fd);
        let mut h = Sha384::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut size = 0u64;
        loop {
            let n = file.read(&mut buf).map_err(io_err)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            size += n as u64;
        }
        Ok(Existing::File {
            size,
            sha384: h.finalize(),
        })
    }

    /// Starts writing `name` (through its part file).
    pub fn create(&self, name: &str) -> Result<PartFile, TreeError> {
        let target = self.path.join(name);
        let part = part_path(&target);
        let part_name = part
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let io_err = |source| TreeError::Io {
            path: part.clone(),
            source,
        };
        let c = cstr(&part_name).map_err(io_err)?;
        if let Some(st) = lstat_at(&self.fd, &c).map_err(io_err)? {
            check_kind(st.st_mode, &part)?;
        }
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC;
        let fd = open_at(&self.fd, &c, flags).map_err(io_err)?;
        crate::output::track_part(&part);
        Ok(PartFile {
            dir: self.fd.try_clone().map_err(io_err)?,
            file: File::from(fd),
            part_name: c,
            name: cstr(name).map_err(io_err)?,
            part,
            target,
            hasher: Sha384::new(),
            written: 0,
        })
    }
}

fn check_kind(mode: libc::mode_t, path: &Path) -> Result<(), TreeError> {
    match kind_of(mode) {
        None => Ok(()),
        Some("a symbolic link") => Err(TreeError::Symlink {
            path: path.to_path_buf(),
        }),
        Some(kind) => Err(TreeError::NotRegular {
            path: path.to_path_buf(),
            kind,
        }),
    }
}

/// A file being written; renamed into place by [`PartFile::finish`], removed
/// if dropped before.
pub struct PartFile {
    dir: OwnedFd,
    file: File,
    part_name: CString,
    name: CString,
    part: PathBuf,
    target: PathBuf,
    hasher: Sha384,
    written: u64,
}

impl PartFile {
    pub fn write(&mut self, plain: &[u8]) -> Result<(), TreeError> {
        self.file.write_all(plain).map_err(|source| TreeError::Io {
            path: self.part.clone(),
            source,
        })?;
        self.hasher.update(plain);
        self.written += plain.len() as u64;
        Ok(())
    }

    /// Checks size and digest, syncs, and renames into place (only over a
    /// regular file). Returns the bytes written.
    pub fn finish(self, size: u64, sha384: Option<[u8; 48]>) -> Result<u64, TreeError> {
        if self.written != size {
            return Err(TreeError::Size {
                path: self.target.clone(),
                got: self.written,
                want: size,
            });
        }
        let digest = self.hasher.clone().finalize();
        if sha384.is_some_and(|d| d != digest) {
            return Err(TreeError::Digest {
                path: self.target.clone(),
            });
        }
        let io_err = |source| TreeError::Io {
            path: self.target.clone(),
            source,
        };
        self.file.sync_all().map_err(io_err)?;
        if let Some(st) = lstat_at(&self.dir, &self.name).map_err(io_err)? {
            check_kind(st.st_mode, &self.target)?;
        }
        let (d, from, to) = (self.dir.as_raw_fd(), &self.part_name, &self.name);
        // SAFETY: both names are NUL-terminated and relative to `d`.
        check(unsafe { libc::renameat(d, from.as_ptr(), d, to.as_ptr()) }).map_err(io_err)?;
        crate::output::forget_part(&self.part);
        Ok(self.written)
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        // After a successful rename the part name is gone: ENOENT, ignored.
        // SAFETY: a NUL-terminated name relative to our directory descriptor.
        unsafe { libc::unlinkat(self.dir.as_raw_fd(), self.part_name.as_ptr(), 0) };
        crate::output::forget_part(&self.part);
    }
}

#[cfg(test)]
#[path = "output_tree_tests.rs"]
mod tests;
