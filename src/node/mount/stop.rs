//! `lbrymount unmount MOUNTPOINT`: stop the node behind a mount, cleanly.
//!
//! Unmounting from outside (`fusermount3 -u`) would leave the node to
//! notice its mount gone and exit with an error, which a service manager
//! takes for a crash. Instead the node is asked to stop through its control
//! socket, as SIGTERM would: it unmounts its own mount, leaves the DHT and
//! exits 0. The mount names its node's socket in the root's
//! `user.lbrymount.control` attribute, so nothing has to be recorded
//! elsewhere, and a path that is not a live lbrymount mount is refused
//! before anything is asked of it. A dead lbrymount mount (its process
//! killed) is cleared, as `fusermount3 -u` would.

use super::mountpoint::{self, MountEntry};
use crate::control::{client, Reply, Request};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long the mount's root has to name its node.
const ASK_DEADLINE: Duration = Duration::from_secs(10);

/// What `unmount` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Stopped {
    /// The node (this process id) stopped and its mount is gone.
    Node { pid: u32 },
    /// The mount was a dead one (its node had died); it was cleared.
    Dead,
}

/// Why a mount could not be stopped.
#[derive(Debug, thiserror::Error)]
pub enum StopError {
    #[error("{0} does not exist")]
    NotFound(PathBuf),
    #[error("cannot use {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a lbrymount mount ({what})")]
    NotLbrymount { path: PathBuf, what: String },
    #[error("the mount at {path} does not name its node ({why}); `fusermount3 -u {path}` unmounts it by force")]
    NoControl { path: PathBuf, why: String },
    #[error("cannot ask the node behind {path} to stop: {why}")]
    Refused { path: PathBuf, why: String },
    #[error("the node behind {path} (pid {pid}) did not exit within {secs} s")]
    Timeout { path: PathBuf, pid: u32, secs: u64 },
    #[error("{0:#}")]
    Other(anyhow::Error),
}

/// Stops the node whose mount is at `mp` and waits up to `deadline` for it
/// to exit and its mount to go.
pub fn stop_mount(mp: &Path, deadline: Duration) -> Result<Stopped, StopError> {
    let io = |source| StopError::Io {
        path: mp.to_path_buf(),
        source,
    };
    match std::fs::metadata(mp) {
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => return clear_dead(mp),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(StopError::NotFound(mp.to_path_buf()))
        }
        Err(e) => return Err(io(e)),
        Ok(_) => {}
    }
    let canon = std::fs::canonicalize(mp).map_err(io)?;
    let mount = lbrymount_at(&canon)?;
    let socket = control_socket(&canon)?;
    let pid = ask_to_stop(&canon, &socket)?;
    let until = Instant::now() + deadline;
    while process_alive(pid) || still_mounted(&canon, mount.id) {
        if Instant::now() > until {
            return Err(StopError::Timeout {
                path: canon,
                pid,
                secs: deadline.as_secs(),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(Stopped::Node { pid })
}

/// The lbrymount mount on top at `path`, or why there is none.
fn lbrymount_at(path: &Path) -> Result<MountEntry, StopError> {
    let entries = mountpoint::mounts().map_err(StopError::Other)?;
    let not = |what: String| StopError::NotLbrymount {
        path: path.to_path_buf(),
        what,
    };
    match mountpoint::top_at(&entries, path) {
        Some(e) if e.is_lbrymount() => Ok(e),
        Some(e) => Err(not(format!("a {} mount of {}", e.fstype, e.source))),
        None => Err(not("not a mount point".into())),
    }
}

fn still_mounted(path: &Path, id: u64) -> bool {
    mountpoint::mounts().is_ok_and(|m| m.iter().any(|e| e.id == id && e.mount_point == path))
}

/// A dead mount answers ENOTCONN: clear it if it is lbrymount's.
fn clear_dead(mp: &Path) -> Result<Stopped, StopError> {
    let canon = mountpoint::canonical_dead(mp).map_err(StopError::Other)?;
    lbrymount_at(&canon)?;
    mountpoint::detach(&canon).map_err(|source| StopError::Io {
        path: canon.clone(),
        source,
    })?;
    tracing::warn!("{} was a dead lbrymount mount; cleared", canon.display());
    Ok(Stopped::Dead)
}

/// Reads the root's `user.lbrymount.control` on a thread of its own, so a
/// hung filesystem costs [`ASK_DEADLINE`], not forever.
fn control_socket(mp: &Path) -> Result<PathBuf, StopError> {
    let no_control = |why: String| StopError::NoControl {
        path: mp.to_path_buf(),
        why,
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let root = mp.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(getxattr(&root, crate::vfs::CONTROL_XATTR));
    });
    match rx.recv_timeout(ASK_DEADLINE) {
        Ok(Ok(v)) => Ok(PathBuf::from(
            <std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(v),
        )),
        Ok(Err(e)) => Err(no_control(e.to_string())),
        Err(_) => Err(no_control(format!(
            "it did not answer within {} s",
            ASK_DEADLINE.as_secs()
        ))),
    }
}

fn getxattr(path: &Path, name: &str) -> std::io::Result<Vec<u8>> {
    let name = std::ffi::CString::new(name).map_err(std::io::Error::other)?;
    let mut buf = vec![0u8; 4096];
    let mut len = 0;
    mountpoint::path_call(path, |p| {
        // SAFETY: valid C strings, and a buffer of the length given.
        let r = unsafe { libc::getxattr(p, name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        len = r.max(0) as usize;
        if r < 0 {
            -1
        } else {
            0
        }
    })?;
    buf.truncate(len);
    Ok(buf)
}

/// Sends `stop` to the node listening on `socket`; returns its process id.
fn ask_to_stop(mp: &Path, socket: &Path) -> Result<u32, StopError> {
    let refused = |why: String| StopError::Refused {
        path: mp.to_path_buf(),
        why,
    };
    let data_dir = socket
        .parent()
        .ok_or_else(|| refused(format!("bad socket path {}", socket.display())))?;
    let mut c = client::connect(data_dir)
        .map_err(|e| refused(format!("{:#}", anyhow::Error::new(e))))?
        .ok_or_else(|| refused(format!("nothing listens on {}", socket.display())))?;
    match c.request(&Request::Stop, |_| {}) {
        Ok(Reply::Stopping { pid }) => Ok(pid),
        Ok(Reply::Error { message }) => Err(refused(message)),
        Ok(other) => Err(refused(format!("unexpected reply {other:?}"))),
        Err(e) => Err(refused(format!("{:#}", anyhow::Error::new(e)))),
    }
}

/// Whether process `pid` still runs (a zombie waiting for its parent does not).
fn process_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, r)| r.trim_start().chars().next());
    !matches!(state, Some('Z' | 'X') | None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_free_pid_is_not() {
        assert!(process_alive(std::process::id()));
        assert!(!process_alive(u32::MAX));
    }

    #[test]
    fn a_plain_directory_is_refused_and_left_alone() {
        let dir = std::env::temp_dir();
        let e = stop_mount(&dir, Duration::from_secs(1)).unwrap_err();
        assert!(matches!(e, StopError::NotLbrymount { .. }), "{e}");
        let gone = dir.join("lbrymount-no-such-dir-for-stop");
        let e = stop_mount(&gone, Duration::from_secs(1)).unwrap_err();
        assert!(matches!(e, StopError::NotFound(_)), "{e}");
    }
}
