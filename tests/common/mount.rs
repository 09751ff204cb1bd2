//! A real FUSE mount of a `lbrymount` node, unmounted on drop.

use super::cli::{loopback_only, Node, ServeNode};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A running `lbrymount MOUNTPOINT` with its own data dir. On drop the
/// process is killed (by its PID) and the mount detached if it is still there.
pub struct MountNode {
    proc: Option<ServeNode>,
    pub mountpoint: PathBuf,
}

impl MountNode {
    /// Mounts `node`'s data dir at `node.path("mnt")`, on loopback only.
    pub fn start(node: &Node, extra: &[&str]) -> MountNode {
        Self::start_at(node, &node.path("mnt"), extra)
    }

    pub fn start_at(node: &Node, mountpoint: &Path, extra: &[&str]) -> MountNode {
        std::fs::create_dir_all(mountpoint).ok();
        let mp = mountpoint.to_str().expect("utf-8 path").to_string();
        let mut args = vec![mp.as_str(), "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        args.extend_from_slice(loopback_only(extra));
        let proc = ServeNode::spawn(node, &args);
        proc.wait_log("mounted at ");
        MountNode {
            proc: Some(proc),
            mountpoint: mountpoint.to_path_buf(),
        }
    }

    pub fn proc(&self) -> &ServeNode {
        self.proc.as_ref().expect("running")
    }

    /// The file of stream `sd` named `name` in the mount.
    pub fn file(&self, sd: &str, name: &str) -> PathBuf {
        self.mountpoint.join(sd).join(name)
    }

    /// Sends `signal` and waits for the exit; reports whether the mount was
    /// still there afterwards (then detaches it, so no test leaves one).
    pub fn stop(mut self, signal: i32) -> Stopped {
        let (status, log) = self.proc.take().expect("running").stop(signal);
        Stopped {
            status,
            log,
            still_mounted: is_mounted(&self.mountpoint),
        }
    }

    /// Kills the process as a crash would (SIGKILL), leaving its mount
    /// behind; the returned guard detaches it if nothing else does.
    pub fn crash(mut self) -> Unmount {
        if let Some(p) = self.proc.take() {
            let _ = p.stop(libc::SIGKILL);
        }
        Unmount(std::mem::take(&mut self.mountpoint))
    }
}

/// How a mount process ended.
pub struct Stopped {
    pub status: std::process::ExitStatus,
    pub log: String,
    pub still_mounted: bool,
}

impl Drop for MountNode {
    fn drop(&mut self) {
        if let Some(p) = self.proc.take() {
            let _ = p.stop(libc::SIGKILL);
        }
        drop(Unmount(std::mem::take(&mut self.mountpoint)));
    }
}

/// Detaches a mount point on drop if it is (still) mounted.
pub struct Unmount(pub PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        if !self.0.as_os_str().is_empty() && is_mounted(&self.0) {
            detach(&self.0);
        }
    }
}

/// Whether `path` is a mount point (per /proc/self/mountinfo).
pub fn is_mounted(path: &Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = path.to_string_lossy();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|mp| mp == want)
}

/// Lazily unmounts `path` (we are root in tests).
pub fn detach(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).expect("no NUL in path");
    // SAFETY: a valid NUL-terminated path for the duration of the call.
    unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
}

/// `getxattr(path, name)` as a string.
pub fn xattr(path: &Path, name: &str) -> std::io::Result<String> {
    let p = std::ffi::CString::new(path.as_os_str().as_bytes()).expect("no NUL in path");
    let n = std::ffi::CString::new(name).expect("no NUL in name");
    let mut buf = vec![0u8; 4096];
    // SAFETY: valid C strings and a buffer of the length given.
    let r = unsafe { libc::getxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    buf.truncate(r as usize);
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Reads the whole file and compares it with `want` (no 50 MB assert dumps).
pub fn assert_file_is(path: &Path, want: &[u8]) {
    let got = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert_eq!(got.len(), want.len(), "size of {}", path.display());
    assert!(got == want, "content of {} differs", path.display());
}
