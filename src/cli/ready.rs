//! Telling whoever started us that the mount is ready: the `--daemon`
//! parent waiting on a pipe, and systemd waiting for `READY=1`.
//!
//! Both are one-shot and process-wide, as the environment that names them
//! is: the parent passes the pipe's write end as an inherited descriptor
//! named in [`DAEMON_FD_ENV`], systemd a datagram socket in `NOTIFY_SOCKET`.
//! The sd_notify protocol is one unix datagram with `KEY=VALUE` lines, so it
//! is written here by hand rather than through a crate (libsystemd bindings
//! would pull in a C library for three lines of code).

use std::fs::File;
use std::io::Write;
use std::os::fd::FromRawFd;
use std::sync::Mutex;

/// The environment variable naming the descriptor a daemon reports on.
pub const DAEMON_FD_ENV: &str = "LBRYMOUNT_DAEMON_FD";
/// The environment variable naming the default log file of a daemon.
pub const DAEMON_LOG_ENV: &str = "LBRYMOUNT_DAEMON_LOG";

/// The pipe to the waiting `--daemon` parent, until it is told.
static PARENT: Mutex<Option<File>> = Mutex::new(None);

/// This process is the daemon a `--daemon` parent (or the fstab helper) started.
#[derive(Debug, Clone)]
pub struct DaemonChild {
    /// Where to log unless `--log-file` says otherwise.
    pub default_log: Option<std::path::PathBuf>,
}

/// Whether this process is a daemon started by `--daemon`. Takes the
/// variables out of the environment so nothing this process starts inherits
/// them. Call first thing in `main`, while the process has one thread.
pub fn take_daemon_env() -> Option<DaemonChild> {
    let fd = std::env::var(DAEMON_FD_ENV).ok()?;
    let log = std::env::var_os(DAEMON_LOG_ENV).map(Into::into);
    std::env::remove_var(DAEMON_FD_ENV);
    std::env::remove_var(DAEMON_LOG_ENV);
    let fd: i32 = fd.parse().ok().filter(|fd| *fd > 2)?;
    // SAFETY: F_GETFD/F_SETFD on a number only probe and flag it; a
    // descriptor that is not open fails the probe and is not taken.
    let open = unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } == 0;
    if open {
        // SAFETY: the parent opened this descriptor for us alone; nothing
        // else in this process knows its number.
        let pipe = unsafe { File::from_raw_fd(fd) };
        *PARENT.lock().unwrap_or_else(|e| e.into_inner()) = Some(pipe);
    }
    Some(DaemonChild { default_log: log })
}

/// The mount is usable: tells the parent (which then exits 0) and systemd.
pub fn mounted() {
    tell_parent("ready\n");
    if let Err(e) = sd_notify("READY=1") {
        tracing::warn!("cannot tell systemd the mount is ready: {e}");
    }
}

/// The process fails before its mount was ready: the parent prints `why`
/// and exits 1. After `mounted`, nothing is sent.
pub fn failed(why: &str) {
    let one_line = why.replace('\n', " ");
    tell_parent(&format!("error: {one_line}\n"));
}

fn tell_parent(line: &str) {
    let pipe = PARENT.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(mut pipe) = pipe {
        // A parent killed meanwhile has nobody to tell: EPIPE is ignored.
        let _ = pipe.write_all(line.as_bytes());
    }
}

/// Sends `state` to the service manager's `NOTIFY_SOCKET`, if one is set:
/// a path, or an abstract socket spelled with a leading `@`.
pub fn sd_notify(state: &str) -> std::io::Result<()> {
    let Some(target) = std::env::var_os("NOTIFY_SOCKET") else {
        return Ok(());
    };
    let sock = std::os::unix::net::UnixDatagram::unbound()?;
    let bytes = target.as_encoded_bytes();
    let addr = match bytes.strip_prefix(b"@") {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            std::os::unix::net::SocketAddr::from_abstract_name(name)?
        }
        None => std::os::unix::net::SocketAddr::from_pathname(&target)?,
    };
    let msg = format!("{state}\nMAINPID={}\n", std::process::id());
    sock.send_to_addr(msg.as_bytes(), &addr)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_reaches_a_path_socket_and_an_abstract_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        let name = format!("lbrymount-test-{}", std::process::id());
        let addr = {
            use std::os::linux::net::SocketAddrExt;
            std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap()
        };
        let abstract_listener = std::os::unix::net::UnixDatagram::bind_addr(&addr).unwrap();
        // Tests share the environment; this one alone sets NOTIFY_SOCKET.
        for (target, l) in [
            (path.into_os_string(), &listener),
            (format!("@{name}").into(), &abstract_listener),
        ] {
            std::env::set_var("NOTIFY_SOCKET", &target);
            sd_notify("READY=1").unwrap();
            let mut buf = [0u8; 256];
            let n = l.recv(&mut buf).unwrap();
            let got = String::from_utf8_lossy(&buf[..n]).into_owned();
            assert!(got.starts_with("READY=1\nMAINPID="), "{got:?}");
        }
        std::env::remove_var("NOTIFY_SOCKET");
    }
}
