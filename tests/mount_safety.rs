//! What a mount may touch: only the directory it was given, only while it
//! is a plain directory, and only its own filesystem at exit; signals and
//! outside unmounts end it cleanly; what it stores is private to its user.

mod common;

use common::cli::{pseudo_random, Node};
use common::mount::{assert_file_is, is_mounted, mount_args, top_mount_type, MountNode, Tmpfs};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

/// Runs `cmd` and waits 30 s at most for it to exit on its own. A node that
/// mounted instead (and so never exits) is killed by its PID and `None` returned.
fn exit_of(mut cmd: Command) -> Option<std::process::Output> {
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run lbrymount");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Some(child.wait_with_output().expect("output"))
}

/// Lines of a node's log at WARN or ERROR level.
fn complaints(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        .collect()
}

#[test]
fn a_directory_that_is_already_a_mount_point_is_refused() {
    let node = Node::new();
    let mp = node.path("busy");
    let tmpfs = Tmpfs::mount(&mp);
    let out = exit_of(node.cmd(&mount_args(&mp, &[])));
    let _leftover = common::mount::Unmount(mp.clone());
    let out = out.expect("refused at once, not mounted over the tmpfs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("already a mount point"), "{stderr}");
    assert!(tmpfs.intact(), "the tmpfs is untouched");
    drop(tmpfs);

    // A live lbrymount is refused too, and keeps serving.
    let data = pseudo_random(100_000, 1);
    fs::write(node.path("a.bin"), &data).unwrap();
    let sd = node.publish(&node.path("a.bin"));
    let first = MountNode::start(&node, &[]);
    let other = Node::new();
    let out = exit_of(other.cmd(&mount_args(&first.mountpoint, &[])))
        .expect("refused at once, not mounted over the live mount");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("already a mount point"), "{stderr}");
    assert_file_is(&first.file(&sd, "a.bin"), &data);
    let stopped = first.stop(libc::SIGTERM);
    assert!(stopped.status.success(), "{}", stopped.log);
    assert!(!stopped.still_mounted);
}

#[test]
fn at_exit_a_filesystem_mounted_over_the_mount_is_left_alone() {
    let node = Node::new();
    let m = MountNode::start(&node, &[]);
    let mp = m.mountpoint.clone();
    let _ours = common::mount::Unmount(mp.clone());
    let over = Tmpfs::mount(&mp);
    let stopped = m.stop(libc::SIGTERM);
    assert!(
        over.intact(),
        "the tmpfs mounted over the mount survives its exit: {}",
        stopped.log
    );
    assert!(
        stopped.log.contains("mounted over"),
        "the log says why the mount stays: {}",
        stopped.log
    );
}

#[test]
fn a_mount_removed_from_outside_ends_the_node_with_a_failure() {
    let node = Node::new();
    let m = MountNode::start(&node, &[]);
    let umount = Command::new("umount")
        .arg(&m.mountpoint)
        .status()
        .expect("run umount");
    assert!(umount.success());
    let stopped = m.wait_exit();
    assert_eq!(stopped.status.code(), Some(1), "{}", stopped.log);
    assert!(
        stopped.log.contains("unmounted from outside"),
        "{}",
        stopped.log
    );
    assert!(!stopped.still_mounted);
}

#[test]
fn sighup_unmounts_cleanly_and_logs_no_error() {
    let node = Node::new();
    let m = MountNode::start(&node, &[]);
    let stopped = m.stop(libc::SIGHUP);
    assert!(stopped.status.success(), "exit 0: {}", stopped.log);
    assert!(!stopped.still_mounted, "no stale mount left");
    assert!(stopped.log.contains("unmounted"), "{}", stopped.log);
    assert_eq!(complaints(&stopped.log), Vec::<&str>::new());
}

/// Whether a user other than root can mount here: fusermount3 installed and
/// /dev/fuse open to everyone (as distributions ship it).
fn users_can_mount() -> Result<(), String> {
    let dev = fs::metadata("/dev/fuse").map_err(|e| format!("/dev/fuse: {e}"))?;
    if dev.mode() & 0o006 != 0o006 {
        return Err(format!("/dev/fuse is mode {:o}", dev.mode() & 0o777));
    }
    let fm = ["/usr/bin/fusermount3", "/bin/fusermount3"]
        .into_iter()
        .find_map(|p| fs::metadata(p).ok())
        .ok_or("no fusermount3")?;
    if fm.mode() & 0o4000 == 0 || fm.uid() != 0 {
        return Err("fusermount3 is not setuid root".into());
    }
    Ok(())
}

#[test]
fn as_a_user_a_clean_unmount_logs_no_error() {
    // SAFETY: geteuid cannot fail and touches no memory.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("not root: cannot switch to another user, nothing to check");
        return;
    }
    if let Err(why) = users_can_mount() {
        eprintln!("users cannot mount FUSE here ({why}), nothing to check");
        return;
    }
    let nobody = 65534;
    let node = Node::new();
    let mp = node.path("mnt");
    fs::create_dir(&mp).unwrap();
    for p in [node.dir.path(), &mp] {
        std::os::unix::fs::chown(p, Some(nobody), Some(nobody)).unwrap();
    }
    let m = MountNode::start_with(&node, &mp, &[], |cmd| {
        use std::os::unix::process::CommandExt;
        // Also drops the supplementary groups (we are root).
        cmd.uid(nobody).gid(nobody);
    });
    assert!(top_mount_type(&mp).is_some_and(|t| t.starts_with("fuse")));
    let stopped = m.stop(libc::SIGTERM);
    assert!(stopped.status.success(), "exit 0: {}", stopped.log);
    assert!(!stopped.still_mounted, "no stale mount left");
    assert_eq!(complaints(&stopped.log), Vec::<&str>::new());
    assert!(!is_mounted(&mp));
}

/// The permission bits of `p`.
fn mode(p: &Path) -> u32 {
    fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .mode()
        & 0o777
}

#[test]
fn the_data_dir_and_every_blob_are_private_and_the_share_folder_is_not_touched() {
    let node = Node::new();
    let file = node.path("secret.bin");
    fs::write(&file, pseudo_random(3_000_000, 2)).unwrap();
    node.publish(&file);
    assert_eq!(mode(&node.data_dir()), 0o700, "data dir");
    assert_eq!(mode(&node.blob_dir()), 0o700, "blob dir");
    let blobs: Vec<_> = fs::read_dir(node.blob_dir()).unwrap().collect();
    assert_eq!(blobs.len(), 3, "an sd blob and two data blobs");
    for e in blobs {
        assert_eq!(mode(&e.unwrap().path()), 0o600, "blob file");
    }
    for name in ["pinned", "lock"] {
        assert_eq!(mode(&node.data_dir().join(name)), 0o600, "{name}");
    }

    // A data dir left open to others is closed; a share folder keeps its mode.
    let loose = Node::new();
    fs::create_dir(loose.data_dir()).unwrap();
    fs::set_permissions(loose.data_dir(), fs::Permissions::from_mode(0o755)).unwrap();
    let share = loose.path("public");
    fs::create_dir(&share).unwrap();
    fs::set_permissions(&share, fs::Permissions::from_mode(0o755)).unwrap();
    let m = MountNode::start(&loose, &["--share", share.to_str().unwrap()]);
    m.proc().wait_log("share folder scanned");
    assert_eq!(mode(&loose.data_dir()), 0o700, "{}", m.proc().log());
    assert!(
        m.proc().log().contains("0755 to 0700"),
        "the tightening is logged: {}",
        m.proc().log()
    );
    assert_eq!(mode(&share), 0o755, "the share folder is the user's");
}

/// The names the mount's root lists.
fn listed(mp: &Path) -> Vec<String> {
    fs::read_dir(mp)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

/// A node whose share folder holds `names` (small files) when its mount
/// starts; returns once all are published and listed.
fn sharing(names: &[&str]) -> (Node, MountNode) {
    let node = Node::new();
    let share = node.data_dir().join("share");
    fs::create_dir_all(&share).unwrap();
    for (i, name) in names.iter().enumerate() {
        fs::write(share.join(name), pseudo_random(1000 + i, i as u64)).unwrap();
    }
    let m = MountNode::start(&node, &["--read-timeout", "2"]);
    m.proc().wait_log("share folder scanned");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while listed(&m.mountpoint).len() < names.len() {
        assert!(std::time::Instant::now() < deadline, "{}", m.proc().log());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    (node, m)
}

/// Deletes the shared file of stream `sd` and waits for its unpublish.
fn unshare(node: &Node, m: &MountNode, sd: &str, nth: usize) {
    let name = listed(&m.mountpoint.join(sd)).pop().expect("a file");
    fs::remove_file(node.data_dir().join("share").join(name)).unwrap();
    m.proc().wait_log_nth("unpublished sd=", nth);
}

#[test]
fn an_unpublished_stream_vanishes_from_the_mount_at_once() {
    let (node, m) = sharing(&["a.bin"]);
    let sd = listed(&m.mountpoint).pop().unwrap();
    let file = m.file(&sd, "a.bin");
    assert!(
        fs::metadata(&file).is_ok(),
        "the kernel now knows the names"
    );
    unshare(&node, &m, &sd, 1);
    assert_eq!(listed(&m.mountpoint), Vec::<String>::new());
    for p in [m.mountpoint.join(&sd), file] {
        let err = fs::metadata(&p).expect_err("gone from the mount");
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{}", p.display());
    }
}

/// A directory read through `getdents64` with a small buffer (about one
/// stream name per call), so the kernel asks the mount for each next part.
struct SmallDirReader {
    fd: std::os::fd::OwnedFd,
}

impl SmallDirReader {
    fn open(dir: &Path) -> Self {
        use std::os::unix::fs::OpenOptionsExt;
        let f = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(dir)
            .unwrap();
        Self { fd: f.into() }
    }

    /// The names of the next call's entries (empty at the end).
    fn next(&mut self) -> Vec<String> {
        use std::os::fd::AsRawFd;
        let mut buf = [0u8; 200];
        // SAFETY: getdents64 writes at most `buf.len()` bytes into `buf`.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                self.fd.as_raw_fd(),
                buf.as_mut_ptr(),
                buf.len(),
            )
        };
        assert!(n >= 0, "getdents64: {}", std::io::Error::last_os_error());
        let mut names = Vec::new();
        let mut at = 0;
        while at < n as usize {
            let reclen = u16::from_ne_bytes([buf[at + 16], buf[at + 17]]) as usize;
            let name = &buf[at + 19..at + reclen];
            let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            names.push(String::from_utf8_lossy(&name[..end]).into_owned());
            at += reclen;
        }
        names
    }
}

#[test]
fn a_listing_read_in_small_parts_skips_no_stream_while_others_leave() {
    let names = ["a.bin", "b.bin", "c.bin", "d.bin", "e.bin", "f.bin"];
    let (node, m) = sharing(&names);
    let all = listed(&m.mountpoint);
    let mut dir = SmallDirReader::open(&m.mountpoint);
    let mut seen: Vec<String> = Vec::new();
    let mut gone = Vec::new();
    loop {
        let part = dir.next();
        if part.is_empty() {
            break;
        }
        seen.extend(part.into_iter().filter(|n| n.len() == 96));
        // Each stream already read leaves before the next part is asked for.
        if let Some(last) = seen.last().filter(|s| !gone.contains(*s)) {
            if gone.len() < 3 {
                gone.push(last.clone());
                unshare(&node, &m, last, gone.len());
            }
        }
    }
    for sd in all.iter().filter(|s| !gone.contains(s)) {
        assert!(
            seen.contains(sd),
            "{sd} stayed but was not listed: {seen:?}"
        );
    }
    assert_eq!(seen.len(), all.len(), "each listed once: {seen:?}");
}

/// Mounts a FUSE filesystem of another program at `mp` and closes its
/// device at once, as if that program had died: `mp` answers ENOTCONN.
fn dead_fuse_mount_of_another_program(mp: &Path) {
    use std::ffi::CString;
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;
    fs::create_dir_all(mp).unwrap();
    let dev = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .expect("open /dev/fuse");
    let opts = format!("fd={},rootmode=40000,user_id=0,group_id=0", dev.as_raw_fd());
    let c = |s: &[u8]| CString::new(s).unwrap();
    let (src, dir, fstype, data) = (
        c(b"otherfs"),
        c(mp.as_os_str().as_bytes()),
        c(b"fuse.otherfs"),
        c(opts.as_bytes()),
    );
    // SAFETY: valid NUL-terminated strings for the duration of the call.
    let r = unsafe {
        libc::mount(
            src.as_ptr(),
            dir.as_ptr(),
            fstype.as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            data.as_ptr().cast(),
        )
    };
    assert_eq!(r, 0, "mount: {}", std::io::Error::last_os_error());
    drop(dev);
    let err = fs::metadata(mp).expect_err("a dead mount");
    assert_eq!(err.raw_os_error(), Some(libc::ENOTCONN), "{err}");
}

#[test]
fn a_dead_fuse_mount_of_another_program_is_not_cleared() {
    // SAFETY: geteuid cannot fail and touches no memory.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("not root: cannot make a FUSE mount by hand, nothing to check");
        return;
    }
    let node = Node::new();
    let mp = node.path("other");
    dead_fuse_mount_of_another_program(&mp);
    let _guard = common::mount::Unmount(mp.clone());
    let out = exit_of(node.cmd(&mount_args(&mp, &[]))).expect("refused at once");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("another program"), "{stderr}");
    assert_eq!(
        top_mount_type(&mp).as_deref(),
        Some("fuse.otherfs"),
        "its mount is left for its owner: {stderr}"
    );
}
