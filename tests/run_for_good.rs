//! A node left running: `--daemon`, systemd's `READY=1`, `unmount`/`stop`,
//! fstab lines through mount(8) and `mount.fuse3`, and shell completions.
//! Real processes and real FUSE mounts (we are root in tests).

mod common;

use common::cli::{assert_success, bin, publisher, Node, ServeNode, CHUNK};
use common::mount::{
    assert_file_is, is_mounted, mount_args, top_mount_type, MountNode, Tmpfs, Unmount,
};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A node running in the background on a data dir (a daemon, or behind an
/// fstab mount): killed by its pid on drop if it still runs.
struct Background(Option<u32>);

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(pid) = self.0.filter(|p| alive(*p)) {
            // SAFETY: kill(2) on the pid of the node this test started.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    }
}

/// The pid the node running on `node`'s data dir reports.
fn node_pid(node: &Node) -> u32 {
    let status = node.ok(&["status"]);
    status
        .lines()
        .find_map(|l| l.strip_prefix("pid: "))
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no pid in status:\n{status}"))
}

/// Whether `pid` runs (a zombie waiting for its parent does not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, r)| r.trim_start().to_string()))
        .is_some_and(|r| !r.starts_with('Z') && !r.starts_with('X'))
}

/// Waits (30 s at most) for `pid` to exit.
fn wait_gone(pid: u32) {
    let until = Instant::now() + Duration::from_secs(30);
    while alive(pid) {
        assert!(Instant::now() < until, "pid {pid} still runs after 30 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The log of a node that stopped cleanly: no error logged, none at exit.
fn assert_clean(log: &str) {
    assert!(log.contains("unmounted, node stopped"), "{log}");
    assert!(
        !log.contains("ERROR") && !log.contains("lbrymount: error"),
        "{log}"
    );
}

fn log_of(node: &Node) -> String {
    std::fs::read_to_string(node.data_dir().join("lbrymount.log")).unwrap_or_default()
}

#[test]
fn daemon_returns_once_the_mount_serves_and_outlives_its_parent() {
    let (node, sd, data) = publisher(2 * CHUNK + 5, 61, "talk.mp4");
    let mnt = node.path("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let _unmount = Unmount(mnt.clone());
    let mut daemon = Background(None);
    let args = mount_args(&mnt, &["--daemon"]);
    let out = node.cmd(&args).output().expect("run lbrymount --daemon");
    assert_success(&out, &args);
    // Usable the moment the parent has exited: read at once, no waiting.
    assert_file_is(&mnt.join(&sd).join("talk.mp4"), &data);
    let pid = node_pid(&node);
    daemon.0 = Some(pid);
    assert!(alive(pid), "the daemon outlives its parent");
    assert!(log_of(&node).contains("mounted at"), "{}", log_of(&node));
    let mp = mnt.to_str().unwrap();
    node.ok(&["unmount", mp]);
    assert!(!is_mounted(&mnt), "unmount waits for the mount to go");
    assert!(!alive(pid), "unmount waits for the node to exit");
    assert_clean(&log_of(&node));
}

#[test]
fn a_daemon_that_cannot_mount_makes_its_parent_fail_with_the_reason() {
    let node = Node::new();
    let not_a_dir = node.path("file");
    std::fs::write(&not_a_dir, b"x").unwrap();
    let log = node.path("logs/mount.log");
    let (file, log_arg) = (not_a_dir.to_str().unwrap(), log.to_str().unwrap());
    let mut args = mount_args(&not_a_dir, &["--daemon", "--log-file", log_arg]);
    args[0] = file;
    let err = node.fails(&args, 1);
    assert!(err.contains("is not a directory"), "{err}");
    assert!(err.contains(log_arg), "the parent names the log: {err}");
    let written = std::fs::read_to_string(&log).unwrap();
    assert!(written.contains("is not a directory"), "{written}");
    assert!(
        std::fs::metadata(node.data_dir().join("control.sock")).is_err(),
        "no node is left running"
    );
}

#[test]
fn unmount_and_stop_end_a_mount_cleanly() {
    for verb in ["unmount", "stop"] {
        let (node, _sd, _data) = publisher(10, 62, "a.txt");
        let mount = MountNode::start(&node, &[]);
        let mp = mount.mountpoint.to_str().unwrap().to_string();
        node.ok(&[verb, &mp]);
        let s = mount.wait_exit();
        assert!(s.status.success(), "{verb}: {:?}\n{}", s.status, s.log);
        assert!(!s.still_mounted, "{verb}");
        assert!(s.log.contains("stop requested"), "{}", s.log);
    }
}

#[test]
fn unmount_refuses_what_is_not_a_lbrymount_mount() {
    let node = Node::new();
    let plain = node.path("plain");
    std::fs::create_dir(&plain).unwrap();
    let err = node.fails(&["unmount", plain.to_str().unwrap()], 1);
    assert!(
        err.contains("is not a lbrymount mount (not a mount point)"),
        "{err}"
    );
    let tmpfs = Tmpfs::mount(&node.path("tmp"));
    let err = node.fails(&["unmount", tmpfs.0.to_str().unwrap()], 1);
    assert!(
        err.contains("is not a lbrymount mount (a tmpfs mount"),
        "{err}"
    );
    assert!(tmpfs.intact());
    let err = node.fails(&["unmount", node.path("gone").to_str().unwrap()], 1);
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn unmount_clears_the_dead_mount_of_a_killed_node() {
    let (node, _sd, _data) = publisher(10, 66, "e.txt");
    let mount = MountNode::start(&node, &[]);
    let mp = mount.mountpoint.clone();
    let _stale = mount.crash();
    let args = ["unmount", mp.to_str().unwrap()];
    let out = node.cmd(&args).output().unwrap();
    assert_success(&out, &args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("was a dead mount"), "{err}");
    assert!(!is_mounted(&mp), "the dead mount is gone");
    assert!(
        std::fs::read_dir(&mp).is_ok(),
        "the directory is usable again"
    );
}

#[test]
fn systemd_hears_ready_only_once_the_mount_answers() {
    let (node, sd, data) = publisher(CHUNK + 1, 63, "b.bin");
    let socket_path = node.path("notify");
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mnt = node.path("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let _unmount = Unmount(mnt.clone());
    let mut cmd = node.cmd(&mount_args(&mnt, &[]));
    cmd.env("NOTIFY_SOCKET", &socket_path);
    let proc = ServeNode::spawn_command(cmd);
    let mut buf = [0u8; 512];
    let n = socket.recv(&mut buf).expect("READY=1 within 30 s");
    // At the moment READY arrives, the mount is there and answers.
    assert_eq!(
        top_mount_type(&mnt)
            .as_deref()
            .map(|t| t.starts_with("fuse")),
        Some(true)
    );
    assert_file_is(&mnt.join(&sd).join("b.bin"), &data);
    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert_eq!(msg, format!("READY=1\nMAINPID={}\n", proc.pid()));
    assert!(proc.log().contains("mounted at"));
    let (status, log) = proc.stop(libc::SIGTERM);
    assert!(status.success(), "{log}");
}

/// Runs `script` with `sh -e` in a mount namespace of its own, where
/// `/usr/local/bin` holds only `lbrymount` (mount(8) runs helpers with a
/// fixed PATH, so that is where `mount.fuse3` finds it, as after an install).
fn in_mount_namespace(node: &Node, script: &str, env: &[(&str, &Path)]) -> std::process::Output {
    let bin_dir = node.path("bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    std::os::unix::fs::symlink(bin(), bin_dir.join("lbrymount")).unwrap();
    let mut cmd = std::process::Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "sh", "-ec"]);
    cmd.arg(format!(
        "mount --bind \"$BIN_DIR\" /usr/local/bin\n{script}"
    ));
    cmd.env("BIN_DIR", &bin_dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run unshare")
}

/// The mount options of a private node on `node`'s data dir, as an fstab line has them.
fn fstab_options(node: &Node) -> String {
    format!(
        "ro,nosuid,nodev,_netdev,noauto,x-systemd.automount,allow_other,data_dir={},cache_size=64M,listen=127.0.0.1:0,no_dht,no_hub,no_trackers,read_timeout=5",
        node.data_dir().display()
    )
}

#[test]
fn an_fstab_line_mounts_with_mount_and_umount_stops_it() {
    let (node, sd, data) = publisher(CHUNK + 9, 64, "c.bin");
    let mnt = node.path("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let file = mnt.join(&sd).join("c.bin");
    let (copy, pid_file) = (node.path("copy"), node.path("pid"));
    let script = r#"
        mount -t fuse.lbrymount lbrymount "$MNT" -o "$OPTS"
        cat "$FILE" > "$COPY"
        lbrymount --data-dir "$DATA" status | sed -n 's/^pid: //p' > "$PID"
        grep -F " $MNT " /proc/self/mountinfo
        umount "$MNT"
    "#;
    let opts = PathBuf::from(fstab_options(&node));
    let data_dir = node.data_dir();
    let env = [
        ("MNT", mnt.as_path()),
        ("OPTS", opts.as_path()),
        ("FILE", file.as_path()),
        ("COPY", copy.as_path()),
        ("PID", pid_file.as_path()),
        ("DATA", data_dir.as_path()),
    ];
    let out = in_mount_namespace(&node, script, &env);
    let pid: Option<u32> = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|p| p.trim().parse().ok());
    let _daemon = Background(pid);
    assert_success(&out, &["mount -t fuse.lbrymount (in a mount namespace)"]);
    let mountinfo = String::from_utf8_lossy(&out.stdout);
    assert!(
        mountinfo.contains(" lbrymount ") && mountinfo.contains("allow_other"),
        "{mountinfo}"
    );
    assert_file_is(&copy, &data);
    wait_gone(pid.expect("the node's pid"));
    assert_clean(&log_of(&node));
}

/// Mounts `mnt` as the line for it in an fstab file says (`mount -T FILE
/// DIR`, util-linux's way to read another fstab), as `mount DIR` would.
fn mount_from_fstab(node: &Node, mnt: &Path, source: &str, options: &str) -> std::process::Output {
    let fstab = node.path("fstab");
    let line = format!(
        "# lbrymount\n{source}  {}  fuse  {options}  0  0\n",
        mnt.display()
    );
    std::fs::write(&fstab, line).unwrap();
    std::process::Command::new("mount")
        .arg("-T")
        .arg(&fstab)
        .arg(mnt)
        .output()
        .expect("run mount")
}

#[test]
fn an_fstab_file_line_naming_the_binary_mounts_and_bad_options_fail_the_mount() {
    let (node, sd, data) = publisher(100, 65, "d.txt");
    let mnt = node.path("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let _unmount = Unmount(mnt.clone());
    // The older form: type `fuse`, the program before the source's `#`.
    let source = format!("{}#lbrymount", bin().display());
    let bad = mount_from_fstab(
        &node,
        &mnt,
        &source,
        &format!("{},cache_sise=1G", fstab_options(&node)),
    );
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("unknown mount option \"cache_sise\""), "{err}");
    assert!(!is_mounted(&mnt));
    let good = mount_from_fstab(&node, &mnt, &source, &fstab_options(&node));
    assert_success(&good, &["mount -T FSTAB DIR"]);
    let pid = node_pid(&node);
    let _daemon = Background(Some(pid));
    assert_file_is(&mnt.join(&sd).join("d.txt"), &data);
    let umount = std::process::Command::new("umount")
        .arg(&mnt)
        .output()
        .unwrap();
    assert_success(&umount, &["umount"]);
    wait_gone(pid);
    assert!(!is_mounted(&mnt));
    assert_clean(&log_of(&node));
}

#[test]
fn completions_come_from_the_command_line_definition() {
    let node = Node::new();
    for shell in ["bash", "zsh", "fish"] {
        let script = node.ok(&["completions", shell]);
        for word in [
            // fish spells long flags without their dashes (`-l log-file`).
            "unmount",
            "completions",
            "daemon",
            "log-file",
            "cache-size",
        ] {
            assert!(script.contains(word), "{shell} completions lack {word}");
        }
    }
    let bash = node.path("lbrymount.bash");
    std::fs::write(&bash, node.ok(&["completions", "bash"])).unwrap();
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&bash)
        .output()
        .unwrap();
    assert_success(&check, &["bash -n on the bash completions"]);
    let err = node.fails(&["completions", "tcsh"], 2);
    assert!(err.contains("tcsh"), "{err}");
}
