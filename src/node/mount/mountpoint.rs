//! The mount point's life around a mount: what may be mounted on, and what
//! may be unmounted at exit.
//!
//! lbrymount mounts only on a plain directory: a directory that is already a
//! mount point (a disk, a tmpfs, another live lbrymount) is refused, so it
//! never hides or later detaches someone else's filesystem. The one mount it
//! clears is a dead one of its own kind (`fuse.lbrymount` answering
//! ENOTCONN, left by a killed process). At exit it unmounts the mount it
//! made, identified by its mount id in `/proc/self/mountinfo`, and nothing
//! else: a mount removed from outside, or covered by another filesystem, is
//! left alone.

use anyhow::{bail, Context};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The filesystem name our mounts show as their source; mounted through
/// `fusermount3` their type is also `fuse.lbrymount` (as root, `fuse`).
pub const FSNAME: &str = "lbrymount";

/// One line of `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    pub id: u64,
    pub parent: u64,
    /// The filesystem's device, `MAJOR:MINOR`.
    pub dev: String,
    pub mount_point: PathBuf,
    pub fstype: String,
    pub source: String,
}

impl MountEntry {
    /// Whether this is a lbrymount mount (ours or another lbrymount's).
    pub fn is_lbrymount(&self) -> bool {
        let fuse = self.fstype == "fuse" || self.fstype.starts_with("fuse.");
        fuse && (self.source == FSNAME || self.fstype == format!("fuse.{FSNAME}"))
    }
}

/// Parses mountinfo text; lines it cannot read are skipped.
pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<MountEntry> {
    let (mount, fs) = line.split_once(" - ")?;
    let mut m = mount.split(' ');
    let id = m.next()?.parse().ok()?;
    let parent = m.next()?.parse().ok()?;
    let dev = m.next()?.to_string();
    let mount_point = unescape(m.nth(1)?);
    let mut f = fs.split(' ');
    let fstype = f.next()?.to_string();
    let source = f.next().unwrap_or_default().to_string();
    Some(MountEntry {
        id,
        parent,
        dev,
        mount_point,
        fstype,
        source,
    })
}

/// Undoes mountinfo's octal escapes (`\040` for a space, and so on).
fn unescape(s: &str) -> PathBuf {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) if b[i] == b'\\' => {
                let v = d.iter().fold(0u32, |v, c| v * 8 + u32::from(c - b'0'));
                out.push(v as u8);
                i += 4;
            }
            _ => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    PathBuf::from(<std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(out))
}

/// The mounts of this process's namespace, in mountinfo order.
pub(super) fn mounts() -> anyhow::Result<Vec<MountEntry>> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")
        .context("cannot read /proc/self/mountinfo")?;
    Ok(parse_mountinfo(&text))
}

/// The mount on top at `path` (the one a path walk sees), if `path` is a mount point.
pub fn top_at(entries: &[MountEntry], path: &Path) -> Option<MountEntry> {
    let at: Vec<_> = entries.iter().filter(|e| e.mount_point == path).collect();
    // A mount over another at the same place has the covered one as parent.
    let top = at.iter().find(|e| !at.iter().any(|o| o.parent == e.id));
    top.or(at.last()).map(|e| (*e).clone())
}

/// Checks that `mp` is a plain directory to mount on, clearing a dead
/// lbrymount mount there; returns its canonical path.
pub fn prepare(mp: &Path) -> anyhow::Result<PathBuf> {
    match std::fs::metadata(mp) {
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => clear_stale(mp)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("mountpoint {} does not exist", mp.display())
        }
        Err(e) => return Err(e).with_context(|| format!("cannot use mountpoint {}", mp.display())),
        Ok(m) if !m.is_dir() => bail!("mountpoint {} is not a directory", mp.display()),
        Ok(_) => {}
    }
    let canon = std::fs::canonicalize(mp)
        .with_context(|| format!("cannot use mountpoint {}", mp.display()))?;
    if let Some(e) = top_at(&mounts()?, &canon) {
        bail!(
            "{} is already a mount point ({} from {}); mount on an empty directory, \
             or unmount it first",
            canon.display(),
            e.fstype,
            e.source
        );
    }
    Ok(canon)
}

/// `mp` answers ENOTCONN: a FUSE mount whose process died. Clears it only if
/// it is one of ours.
fn clear_stale(mp: &Path) -> anyhow::Result<()> {
    let canon = canonical_dead(mp)?;
    let top = top_at(&mounts()?, &canon);
    match top {
        Some(e) if e.is_lbrymount() => {
            tracing::warn!(
                "{} is a stale mount left by a lbrymount that died; clearing it",
                canon.display()
            );
            detach(&canon)
                .with_context(|| format!("cannot clear the stale mount at {}", canon.display()))
        }
        Some(e) => bail!(
            "{} is a dead {} mount of another program; unmount it first (fusermount3 -u {})",
            canon.display(),
            e.fstype,
            canon.display()
        ),
        None => bail!(
            "cannot use mountpoint {}: transport endpoint is not connected",
            mp.display()
        ),
    }
}

/// The canonical path of a dead mount point (which cannot itself be resolved).
pub(super) fn canonical_dead(mp: &Path) -> anyhow::Result<PathBuf> {
    let abs = std::path::absolute(mp).with_context(|| format!("bad path {}", mp.display()))?;
    match (abs.parent(), abs.file_name()) {
        (Some(parent), Some(name)) => Ok(std::fs::canonicalize(parent)
            .with_context(|| format!("cannot use mountpoint {}", mp.display()))?
            .join(name)),
        _ => Ok(abs),
    }
}

/// The mount this process made, recorded right after mounting.
#[derive(Debug, Clone)]
pub struct OurMount {
    pub path: PathBuf,
    id: Option<u64>,
}

/// What became of our mount at exit.
#[derive(Debug, PartialEq, Eq)]
pub enum Unmounted {
    /// We unmounted it.
    Done,
    /// We detached it while files under it were still open.
    Detached,
    /// It was already gone (unmounted from outside).
    AlreadyGone,
    /// Another filesystem is mounted over or inside it; it was left in place.
    Covered,
}

impl OurMount {
    /// Records the mount now on top at `path` (just mounted by us).
    pub fn record(path: &Path) -> OurMount {
        let top = mounts().ok().and_then(|m| top_at(&m, path));
        let id = top.filter(MountEntry::is_lbrymount).map(|e| e.id);
        if id.is_none() {
            tracing::warn!(
                "cannot find the new mount at {} in /proc/self/mountinfo",
                path.display()
            );
        }
        OurMount {
            path: path.to_path_buf(),
            id,
        }
    }

    /// Unmounts our mount, and only ours: lazily if files are still open,
    /// not at all if it is already gone or something is mounted on it.
    pub fn unmount(&self) -> std::io::Result<Unmounted> {
        let entries = mounts().map_err(std::io::Error::other)?;
        // Not found at mount time (should not happen): a lbrymount on top
        // at our path is taken for ours.
        let top = || top_at(&entries, &self.path).filter(MountEntry::is_lbrymount);
        let Some(id) = self.id.or_else(|| top().map(|e| e.id)) else {
            return Ok(Unmounted::AlreadyGone);
        };
        if !entries.iter().any(|e| e.id == id) {
            return Ok(Unmounted::AlreadyGone);
        }
        let on_top = top_at(&entries, &self.path).is_some_and(|e| e.id == id);
        if !on_top || entries.iter().any(|e| e.parent == id) {
            return Ok(Unmounted::Covered);
        }
        match umount2(&self.path, 0) {
            Ok(()) => Ok(Unmounted::Done),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                umount2(&self.path, libc::MNT_DETACH).map(|()| Unmounted::Detached)
            }
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => self.unmount_as_user(),
            Err(e) => Err(e),
        }
    }

    /// Without root, through the setuid `fusermount3`, which unmounts only
    /// a FUSE mount of this user.
    fn unmount_as_user(&self) -> std::io::Result<Unmounted> {
        if fusermount(&self.path, "-uq").is_ok() {
            return Ok(Unmounted::Done);
        }
        fusermount(&self.path, "-uqz").map(|()| Unmounted::Detached)
    }
}

/// A lazy unmount: as root directly, otherwise through `fusermount3 -uz`.
pub(super) fn detach(mp: &Path) -> std::io::Result<()> {
    match umount2(mp, libc::MNT_DETACH) {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => fusermount(mp, "-uqz"),
        other => other,
    }
}

fn fusermount(mp: &Path, flags: &str) -> std::io::Result<()> {
    for bin in ["fusermount3", "fusermount"] {
        let status = std::process::Command::new(bin)
            .arg(flags)
            .arg("--")
            .arg(mp)
            .stderr(std::process::Stdio::null())
            .status();
        match status {
            Ok(s) if s.success() => return Ok(()),
            Ok(s) => return Err(std::io::Error::other(format!("{bin} {flags} failed: {s}"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other(
        "unmounting needs root or fusermount3 (package fuse3)",
    ))
}

fn umount2(mp: &Path, flags: i32) -> std::io::Result<()> {
    // SAFETY: the path is NUL-terminated and outlives the call.
    path_call(mp, |c| unsafe { libc::umount2(c, flags) })
}

/// Calls a libc function taking a path, mapping -1 to the OS error.
pub(super) fn path_call(
    path: &Path,
    call: impl FnOnce(*const libc::c_char) -> libc::c_int,
) -> std::io::Result<()> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    if call(c.as_ptr()) == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "\
22 1 0:21 / /proc rw,nosuid - proc proc rw
30 22 0:40 / /tmp/a\\040b rw - tmpfs tmpfs rw
31 30 0:41 / /tmp/a\\040b rw,nosuid,nodev shared:9 - fuse.lbrymount lbrymount rw,user_id=0
40 1 0:42 / /srv rw - ext4 /dev/sda1 rw
41 1 0:43 / /mnt/x ro,nosuid - fuse lbrymount ro,user_id=0
42 1 0:44 / /mnt/y ro,nosuid - fuse sshfs ro,user_id=0
";

    #[test]
    fn unescapes_octal_and_leaves_the_rest() {
        assert_eq!(unescape(r"a\040b\011c\134d"), Path::new("a b\tc\\d"));
        assert_eq!(unescape(r"trailing\04"), Path::new(r"trailing\04"));
        assert_eq!(unescape(r"\999"), Path::new(r"\999"));
    }

    #[test]
    fn mountinfo_lines_are_read_with_their_escapes() {
        let e = parse_mountinfo(INFO);
        assert_eq!(e.len(), 6);
        assert!(e[4].is_lbrymount() && !e[5].is_lbrymount());
        assert_eq!(e[1].mount_point, Path::new("/tmp/a b"));
        assert_eq!((e[2].id, e[2].parent), (31, 30));
        assert!(e[2].is_lbrymount() && !e[1].is_lbrymount());
        assert_eq!(e[3].source, "/dev/sda1");
        assert!(parse_mountinfo("garbage\n1 2\n").is_empty());
    }

    #[test]
    fn the_top_mount_is_the_one_no_other_covers() {
        let e = parse_mountinfo(INFO);
        assert_eq!(top_at(&e, Path::new("/tmp/a b")).unwrap().id, 31);
        // Listed in another order, the cover still decides.
        let rev: Vec<_> = e.iter().rev().cloned().collect();
        assert_eq!(top_at(&rev, Path::new("/tmp/a b")).unwrap().id, 31);
        assert_eq!(top_at(&e, Path::new("/srv")).unwrap().fstype, "ext4");
        assert!(top_at(&e, Path::new("/tmp")).is_none());
    }
}
