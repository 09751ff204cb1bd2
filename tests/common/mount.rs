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
        Self::start_with(node, mountpoint, extra, |_| {})
    }

    /// Like [`MountNode::start_at`], with the command adjusted by `prepare`
    /// (to run it as another user, say).
    pub fn start_with(
        node: &Node,
        mountpoint: &Path,
        extra: &[&str],
        prepare: impl FnOnce(&mut std::process::Command),
    ) -> MountNode {
        std::fs::create_dir_all(mountpoint).ok();
        let mut cmd = node.cmd(&mount_args(mountpoint, extra));
        prepare(&mut cmd);
        let proc = ServeNode::spawn_command(cmd);
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

    /// Waits (30 s at most) for the process to exit on its own, as after its
    /// mount was removed from outside. Panics if it does not.
    pub fn wait_exit(mut self) -> Stopped {
        let proc = self.proc.take().expect("running");
        let (status, log) = proc
            .wait_exit()
            .expect("the node exits within 30 s (it was killed)");
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

/// The arguments that mount `node` at `mountpoint` on loopback only.
pub fn mount_args<'a>(mountpoint: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        mountpoint.to_str().expect("utf-8 path"),
        "--listen",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(loopback_only(extra));
    // And BitTorrent's public routers, asked when a torrent is opened.
    if !["--bt-bootstrap", "--no-bt"]
        .iter()
        .any(|f| extra.contains(f))
    {
        args.push("--no-bt-dht");
    }
    args
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

/// Detaches a FUSE mount on drop if it is (still) mounted on top at its
/// path; another filesystem there is left to its own guard.
pub struct Unmount(pub PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let fuse = top_mount_type(&self.0).is_some_and(|t| t.starts_with("fuse"));
        if !self.0.as_os_str().is_empty() && fuse {
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

/// The type of the filesystem mounted last (on top) at `path`, if any.
pub fn top_mount_type(path: &Path) -> Option<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let want = path.to_string_lossy();
    info.lines()
        .filter(|l| l.split(' ').nth(4) == Some(&*want))
        .filter_map(|l| l.split(" - ").nth(1)?.split(' ').next())
        .next_back()
        .map(str::to_string)
}

/// A tmpfs mounted at a directory (with a file `marker` in it), unmounted on drop.
pub struct Tmpfs(pub PathBuf);

impl Tmpfs {
    pub fn mount(path: &Path) -> Tmpfs {
        std::fs::create_dir_all(path).expect("mountpoint");
        let c = |s: &[u8]| std::ffi::CString::new(s).expect("no NUL");
        let (src, dir, fstype) = (c(b"tmpfs"), c(path.as_os_str().as_bytes()), c(b"tmpfs"));
        // SAFETY: valid NUL-terminated strings for the duration of the call.
        let r = unsafe {
            libc::mount(
                src.as_ptr(),
                dir.as_ptr(),
                fstype.as_ptr(),
                0,
                std::ptr::null(),
            )
        };
        assert_eq!(r, 0, "mount tmpfs: {}", std::io::Error::last_os_error());
        let guard = Tmpfs(path.to_path_buf());
        std::fs::write(path.join("marker"), b"still here").expect("write the marker");
        guard
    }

    /// Whether this tmpfs is still mounted on top at its path with its marker.
    pub fn intact(&self) -> bool {
        top_mount_type(&self.0).as_deref() == Some("tmpfs")
            && std::fs::read(self.0.join("marker")).is_ok_and(|m| m == b"still here")
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        if top_mount_type(&self.0).as_deref() == Some("tmpfs") {
            detach(&self.0);
        }
    }
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
