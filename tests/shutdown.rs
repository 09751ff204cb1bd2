//! A signal stops the node promptly and cleanly: SIGTERM during a big publish
//! (one-shot, or of a share folder in a running node) and during a cold read
//! through the mount ends the process within a deadline, with no partial
//! blob in the store and no mount left behind. Real processes, real FUSE
//! mounts, a real (stalling) peer on loopback.

mod common;

use common::cli::{pseudo_random, Node, ServeNode};
use common::fakepeer::{FakePeer, Mode};
use common::mount::MountNode;
use lbrymount::hash::BlobHash;
use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const CHUNK: usize = 2_097_151;

/// How long a signalled process may take to exit: a correctness bound on
/// shutdown (a deadline), not a speed figure.
const EXIT_DEADLINE: Duration = Duration::from_secs(2);

/// A 1 GiB file of zeros that takes no disk space; publishing it encrypts
/// and stores 513 blobs, far longer than the moment the test signals.
fn big_sparse_file(path: &Path) {
    let f = fs::File::create(path).unwrap();
    f.set_len(1 << 30).unwrap();
}

/// Blob files in `dir` (hash-named), waiting up to 30 s (a hang guard) for
/// at least one to appear.
fn wait_first_blob(dir: &Path, proc_alive: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let any = fs::read_dir(dir).ok().is_some_and(|entries| {
            entries
                .filter_map(Result::ok)
                .any(|e| e.file_name().to_string_lossy().len() == 96)
        });
        if any {
            return;
        }
        assert!(proc_alive(), "the process ended before storing a blob");
        assert!(Instant::now() < deadline, "no blob appeared in 30 s");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Every file in the blob folder is a complete blob under its own hash: no
/// temporary file, nothing whose bytes do not hash to its name.
fn assert_no_partial_blob(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().into_owned();
        let hash: BlobHash = name
            .parse()
            .unwrap_or_else(|_| panic!("a file that is not a blob was left behind: {name}"));
        let bytes = fs::read(e.path()).unwrap();
        assert_eq!(BlobHash::digest(&bytes), hash, "{name} fails its hash");
    }
}

/// Sends `sig` to `pid` (a process this test started).
fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) on the PID of a child we started and have not reaped.
    unsafe { libc::kill(pid as i32, sig) };
}

/// Waits for `child` to exit within `EXIT_DEADLINE` of `since`; kills it
/// (by its PID) and fails the test if it does not.
fn exit_within_deadline(child: &mut Child, since: Instant) -> ExitStatus {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if since.elapsed() > EXIT_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running {EXIT_DEADLINE:?} after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn sigterm_during_a_one_shot_publish_stops_it_at_once_and_leaves_no_partial_blob() {
    let node = Node::new();
    let big = node.path("big.bin");
    big_sparse_file(&big);
    let mut child = node
        .cmd(&["publish", big.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    wait_first_blob(&node.blob_dir(), || {
        fs::metadata(format!("/proc/{pid}")).is_ok()
    });
    let sent = Instant::now();
    signal(pid, libc::SIGTERM);
    let status = exit_within_deadline(&mut child, sent);
    assert!(!status.success(), "an interrupted publish does not succeed");
    assert_no_partial_blob(&node.blob_dir());
    // Nothing was published: no stream is listed.
    assert_eq!(node.ok(&["ls"]).trim(), "", "no stream is listed");
}

#[test]
fn sigterm_during_a_share_folder_publish_stops_the_node_at_once() {
    let node = Node::new();
    let share = node.path("share");
    fs::create_dir_all(&share).unwrap();
    let share_arg = share.to_str().unwrap().to_string();
    let serve = ServeNode::start_with(&node, &["--share", &share_arg]);
    // Written elsewhere and moved in whole, so the folder sees one finished file.
    let big = node.path("big.bin");
    big_sparse_file(&big);
    fs::rename(&big, share.join("big.bin")).unwrap();
    let pid = serve.pid();
    wait_first_blob(&node.blob_dir(), || {
        fs::metadata(format!("/proc/{pid}")).is_ok()
    });
    let sent = Instant::now();
    let (status, log) = serve.stop(libc::SIGTERM);
    let took = sent.elapsed();
    assert!(
        took < EXIT_DEADLINE,
        "exit took {took:?} after SIGTERM:\n{log}"
    );
    assert!(
        status.success(),
        "a signalled node exits 0: {status:?}\n{log}"
    );
    assert_no_partial_blob(&node.blob_dir());
}

#[test]
fn sigterm_during_a_cold_read_unmounts_at_once_and_leaves_no_partial_blob() {
    // A stream whose data only a peer has, and that peer stalls mid-blob.
    let a_node = Node::new();
    let data = pseudo_random(3 * CHUNK, 31);
    let path = a_node.path("cold.bin");
    fs::write(&path, &data).unwrap();
    let sd = a_node.publish(&path);
    let blobs: HashMap<BlobHash, Vec<u8>> = a_node.blobs();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let staller = rt.block_on(FakePeer::start(Mode::StallMidBlob, blobs));
    let b_node = Node::new();
    fs::create_dir_all(b_node.blob_dir()).unwrap();
    fs::copy(a_node.blob_dir().join(&sd), b_node.blob_dir().join(&sd)).unwrap();
    let b = MountNode::start(
        &b_node,
        &[
            "--peer",
            &staller.addr().to_string(),
            "--read-timeout",
            "60",
        ],
    );
    let file = b.file(&sd, "cold.bin");
    let mut reader = Command::new("cat")
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while staller.requests() == 0 {
        assert!(Instant::now() < deadline, "the read never reached the peer");
        std::thread::sleep(Duration::from_millis(5));
    }
    let sent = Instant::now();
    let stopped = b.stop(libc::SIGTERM);
    let took = sent.elapsed();
    assert!(
        took < EXIT_DEADLINE,
        "exit took {took:?} after SIGTERM:\n{}",
        stopped.log
    );
    assert!(
        stopped.status.success(),
        "a signalled mount exits 0:\n{}",
        stopped.log
    );
    assert!(!stopped.still_mounted, "the mount is gone");
    let _ = reader.wait();
    assert_no_partial_blob(&b_node.blob_dir());
}
