//! The FUSE adapter: each kernel request is unpacked, handed to one [`Vfs`]
//! method, and its result mapped to a reply through [`errno`].
//!
//! fuser calls us from one session thread. Anything that may wait (lookups
//! that resolve from the network, reads, file sizes) runs as a task on the
//! tokio runtime and replies from there, so one slow read never blocks
//! another; fuser's replies are `Send`, and a reply dropped by a panicking
//! task answers EIO, so the kernel never hangs on us. Quick answers from
//! memory (readdir, xattrs, release) reply inline.
//!
//! Tuned for immutable content: long entry and attribute TTLs, the page
//! cache kept across opens (`FOPEN_KEEP_CACHE`), 1 MiB reads and read-ahead
//! where the kernel allows.

use crate::vfs::{is_name_ino, Attr, FsError, KernelCache, Kind, Vfs, ROOT};
use fuser::{
    FileAttr, FileType, Filesystem, KernelConfig, ReplyAttr, ReplyData, ReplyDirectory, ReplyEmpty,
    ReplyEntry, ReplyOpen, ReplyStatfs, ReplyXattr, Request,
};
use std::ffi::OsStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Handle;

/// Streams never change: the kernel may keep names and sizes for long.
const TTL: Duration = Duration::from_secs(24 * 3600);
/// The root's listing grows as streams become known.
const ROOT_TTL: Duration = Duration::from_secs(1);
/// What a name points at may change (a channel publishes, a name's claim
/// moves): the kernel asks again after a minute.
const NAME_TTL: Duration = Duration::from_secs(60);
/// Largest read and read-ahead we ask the kernel for.
pub const MAX_IO: u32 = 1 << 20;

/// The one place FsError becomes an errno.
pub fn errno(e: &FsError) -> i32 {
    match e {
        FsError::NotFound => libc::ENOENT,
        FsError::NotDir => libc::ENOTDIR,
        FsError::IsDir => libc::EISDIR,
        FsError::NoAttr => libc::ENODATA,
        FsError::BadHandle => libc::EBADF,
        FsError::NotLink => libc::EINVAL,
        FsError::Io(_) => libc::EIO,
    }
}

pub struct Fuse {
    vfs: Arc<Vfs>,
    rt: Handle,
    uid: u32,
    gid: u32,
}

impl Fuse {
    /// An adapter over `vfs` that runs slow work on `rt`. Files are shown as
    /// owned by the mounting user.
    pub fn new(vfs: Arc<Vfs>, rt: Handle) -> Self {
        // SAFETY: getuid/getgid cannot fail and touch no memory.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        Self { vfs, rt, uid, gid }
    }
}

/// Tells the kernel to forget names, through the session's notifier.
///
/// Each notice is sent from a thread of its own, and waited for a moment
/// only: the kernel takes the directory's lock to drop a name, and a lookup
/// in that directory may hold it while it waits on the network, so the
/// caller must not wait as long as that.
pub struct KernelNotifier(fuser::Notifier);

/// How long a caller waits for the kernel to take a notice.
const NOTICE_WAIT: Duration = Duration::from_secs(1);

impl KernelNotifier {
    pub fn new(n: fuser::Notifier) -> Self {
        Self(n)
    }
}

impl KernelCache for KernelNotifier {
    fn forget_entry(&self, parent: u64, name: &str) {
        let (n, name) = (self.0.clone(), name.to_string());
        let (done, taken) = std::sync::mpsc::channel();
        let sent = std::thread::Builder::new()
            .name("fuse-forget".into())
            .spawn(move || {
                match n.inval_entry(parent, OsStr::new(&name)) {
                    Ok(()) => tracing::debug!(parent, name, "the kernel forgot the name"),
                    Err(e) => tracing::debug!(parent, name, error = %e, "cannot make the kernel forget the name"),
                }
                let _ = done.send(());
            });
        match sent {
            Ok(_) => {
                let _ = taken.recv_timeout(NOTICE_WAIT);
            }
            Err(e) => tracing::warn!(error = %e, "cannot start a thread to invalidate a name"),
        }
    }
}

/// What the kernel is told about an inode; files belong to the mounting user.
fn file_attr(a: &Attr, (uid, gid): (u32, u32)) -> FileAttr {
    FileAttr {
        ino: a.ino,
        size: a.size,
        blocks: a.size.div_ceil(512),
        atime: a.mtime,
        mtime: a.mtime,
        ctime: a.mtime,
        crtime: a.mtime,
        kind: file_type(a.kind),
        perm: a.perm,
        nlink: a.nlink,
        uid,
        gid,
        rdev: 0,
        blksize: MAX_IO,
        flags: 0,
    }
}

fn file_type(k: Kind) -> FileType {
    match k {
        Kind::Dir => FileType::Directory,
        Kind::File => FileType::RegularFile,
        Kind::Symlink => FileType::Symlink,
    }
}

fn ttl(ino: u64) -> Duration {
    if ino == ROOT {
        ROOT_TTL
    } else if is_name_ino(ino) {
        NAME_TTL
    } else {
        TTL
    }
}

/// Offsets are where the kernel resumes: 1 and 2 for the dots, then 2 +
/// the entry's cookie, which stays put as entries come and go.
async fn readdir(vfs: &Vfs, ino: u64, offset: i64, mut reply: ReplyDirectory) {
    let after = u64::try_from(offset).unwrap_or(0);
    let entries = match vfs.readdir(ino, after.saturating_sub(2)).await {
        Ok(e) => e,
        Err(e) => return reply.error(errno(&e)),
    };
    let dots = [
        (1, ino, FileType::Directory, ".".to_string()),
        (2, ROOT, FileType::Directory, "..".to_string()),
    ];
    let all = dots.into_iter().chain(
        entries
            .into_iter()
            .map(|e| (e.cookie.saturating_add(2), e.ino, file_type(e.kind), e.name)),
    );
    for (off, ino, kind, name) in all.filter(|(off, ..)| *off > after) {
        if reply.add(ino, off as i64, kind, name) {
            break;
        }
    }
    reply.ok();
}

/// Replies to an xattr request: the size when asked for it, else the bytes.
fn reply_xattr(reply: ReplyXattr, size: u32, data: Result<Vec<u8>, FsError>) {
    match data {
        Err(e) => reply.error(errno(&e)),
        Ok(d) if size == 0 => reply.size(d.len() as u32),
        Ok(d) if d.len() > size as usize => reply.error(libc::ERANGE),
        Ok(d) => reply.data(&d),
    }
}

impl Filesystem for Fuse {
    fn init(&mut self, _req: &Request<'_>, config: &mut KernelConfig) -> Result<(), i32> {
        // Each setter refuses values the kernel cannot take and says what it
        // can; the kernel's own limit is then the right choice.
        if let Err(max) = config.set_max_readahead(MAX_IO) {
            let _ = config.set_max_readahead(max);
        }
        let _ = config.set_max_background(64);
        Ok(())
    }

    fn lookup(&mut self, _req: &Request<'_>, parent: u64, name: &OsStr, reply: ReplyEntry) {
        let (vfs, name) = (self.vfs.clone(), name.to_owned());
        let owner = (self.uid, self.gid);
        self.rt.spawn(async move {
            match vfs.lookup(parent, &name).await {
                Ok(a) => reply.entry(&ttl(a.ino), &file_attr(&a, owner), 0),
                Err(e) => reply.error(errno(&e)),
            }
        });
    }

    fn getattr(&mut self, _req: &Request<'_>, ino: u64, _fh: Option<u64>, reply: ReplyAttr) {
        let vfs = self.vfs.clone();
        let owner = (self.uid, self.gid);
        self.rt.spawn(async move {
            match vfs.getattr(ino).await {
                Ok(a) => reply.attr(&ttl(a.ino), &file_attr(&a, owner)),
                Err(e) => reply.error(errno(&e)),
            }
        });
    }

    fn readlink(&mut self, _req: &Request<'_>, ino: u64, reply: ReplyData) {
        match self.vfs.readlink(ino) {
            Ok(target) => reply.data(target.as_bytes()),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn open(&mut self, _req: &Request<'_>, ino: u64, flags: i32, reply: ReplyOpen) {
        if flags & libc::O_ACCMODE != libc::O_RDONLY {
            return reply.error(libc::EROFS);
        }
        let vfs = self.vfs.clone();
        self.rt.spawn(async move {
            match vfs.open(ino).await {
                Ok(fh) => reply.opened(fh, fuser::consts::FOPEN_KEEP_CACHE),
                Err(e) => reply.error(errno(&e)),
            }
        });
    }

    fn read(
        &mut self,
        _req: &Request<'_>,
        _ino: u64,
        fh: u64,
        offset: i64,
        size: u32,
        _flags: i32,
        _lock_owner: Option<u64>,
        reply: ReplyData,
    ) {
        let Ok(offset) = u64::try_from(offset) else {
            return reply.error(libc::EINVAL);
        };
        let vfs = self.vfs.clone();
        self.rt.spawn(async move {
            match vfs.read(fh, offset, size).await {
                Ok(data) => reply.data(&data),
                Err(e) => reply.error(errno(&e)),
            }
        });
    }

    fn release(
        &mut self,
        _req: &Request<'_>,
        _ino: u64,
        fh: u64,
        _flags: i32,
        _lock_owner: Option<u64>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.vfs.release(fh);
        reply.ok();
    }

    fn readdir(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _fh: u64,
        offset: i64,
        reply: ReplyDirectory,
    ) {
        let vfs = self.vfs.clone();
        // A channel's listing may read its next page from the network.
        self.rt
            .spawn(async move { readdir(&vfs, ino, offset, reply).await });
    }

    fn getxattr(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        name: &OsStr,
        size: u32,
        reply: ReplyXattr,
    ) {
        reply_xattr(reply, size, self.vfs.getxattr(ino, name));
    }

    fn listxattr(&mut self, _req: &Request<'_>, ino: u64, size: u32, reply: ReplyXattr) {
        reply_xattr(reply, size, self.vfs.listxattr(ino));
    }

    fn statfs(&mut self, _req: &Request<'_>, _ino: u64, reply: ReplyStatfs) {
        let s = self.vfs.cache_stats();
        let block = 4096u64;
        let total = s.cap_bytes.saturating_add(s.pinned_bytes) / block;
        let used = (s.cached_bytes + s.pinned_bytes) / block;
        let free = total.saturating_sub(used);
        reply.statfs(
            total,
            free,
            free,
            s.blobs as u64,
            0,
            block as u32,
            255,
            block as u32,
        );
    }
}
