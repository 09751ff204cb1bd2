//! `--daemon`: the mount goes to the background once it is usable.
//!
//! A process running tokio's threads cannot safely fork, so the parent
//! starts itself again (`/proc/self/exe`, the same arguments) in a session
//! of its own, with its standard input and output on /dev/null, its
//! standard error on the log file, and the write end of a pipe named in
//! [`ready::DAEMON_FD_ENV`]. The child mounts and reports `ready` or its
//! error on the pipe (`cli::ready`); the parent waits for that line, with a
//! deadline, and exits 0 only when the mount is usable, 1 with the reason
//! otherwise. The child ignores `--daemon`: it is the daemon.

use super::ready;
use anyhow::{bail, Context};
use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long the parent waits for the mount (opening a big store, starting
/// the servers); a daemon still not ready then is stopped.
pub const READY_DEADLINE: Duration = Duration::from_secs(120);

/// Starts the daemon with `argv` and waits until its mount is ready.
/// `log` is its log file (also its standard error).
pub fn start(argv: &[OsString], log: &Path) -> anyhow::Result<u32> {
    if let Some(dir) = log.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the log's folder {}", dir.display()))?;
    }
    let err_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("cannot open the log file {}", log.display()))?;
    let (read, write) = pipe().context("cannot create a pipe for the daemon")?;
    let write_fd = write.as_raw_fd();
    let mut cmd = Command::new("/proc/self/exe");
    if let Some(name) = argv.first() {
        cmd.arg0(name);
    }
    cmd.args(argv.iter().skip(1))
        .env(ready::DAEMON_FD_ENV, write_fd.to_string())
        .env(ready::DAEMON_LOG_ENV, log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err_file);
    // SAFETY: between fork and exec only async-signal-safe calls: setsid
    // and fcntl on a descriptor we own.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0 || libc::fcntl(write_fd, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().context("cannot start the daemon")?;
    // Only the child holds the write end now: its exit closes the pipe.
    drop(write);
    let pid = child.id();
    match wait_line(read, READY_DEADLINE) {
        Ok(line) if line == "ready" => Ok(pid),
        Ok(line) if line.starts_with("error: ") => {
            let _ = child.wait();
            bail!("{} (log: {})", &line[7..], log.display())
        }
        Ok(_) => {
            let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
            bail!(
                "the daemon exited ({status}) before its mount was ready; see {}",
                log.display()
            )
        }
        Err(e) => {
            // SAFETY: kill(2) on the child we started and have not reaped.
            unsafe { libc::kill(pid as i32, libc::SIGTERM) };
            let _ = child.wait();
            Err(e).with_context(|| format!("stopped the daemon; see {}", log.display()))
        }
    }
}

fn pipe() -> std::io::Result<(File, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the two-element array on success.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors are new and owned by nothing else.
    Ok(unsafe { (File::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The first line on `pipe` (empty at end of file), within `deadline`.
fn wait_line(mut pipe: File, deadline: Duration) -> anyhow::Result<String> {
    let until = Instant::now() + deadline;
    let mut got = Vec::new();
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!("the mount was not ready within {} s", deadline.as_secs());
        }
        let mut pfd = libc::pollfd {
            fd: pipe.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one pollfd, valid for the call.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e.into());
        }
        if r == 0 {
            continue;
        }
        let mut buf = [0u8; 4096];
        let n = pipe.read(&mut buf)?;
        got.extend_from_slice(&buf[..n]);
        if n == 0 || got.contains(&b'\n') || got.len() > 64 * 1024 {
            let text = String::from_utf8_lossy(&got);
            return Ok(text.lines().next().unwrap_or_default().to_string());
        }
    }
}
