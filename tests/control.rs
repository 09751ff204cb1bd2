//! `ls`, `status` and `publish` against a running node, over its control socket.

mod common;

use common::cli::{pseudo_random, Node, ServeNode};
use common::mount::MountNode;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;

/// Sends raw bytes to the node's control socket and returns its reply lines.
fn raw_request(node: &Node, bytes: &[u8]) -> Vec<String> {
    let mut s = UnixStream::connect(node.data_dir().join("control.sock")).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    s.write_all(bytes).unwrap();
    BufReader::new(s).lines().map(|l| l.unwrap()).collect()
}

fn field<'a>(status: &'a str, key: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}: ")))
        .unwrap_or_else(|| panic!("no {key:?} in status:\n{status}"))
}

#[test]
fn status_without_a_node_says_so_and_fails() {
    let node = Node::new();
    let err = node.fails(&["status"], 1);
    assert!(err.contains("no lbrymount node is running"), "{err}");
    assert!(err.contains(node.data_dir().to_str().unwrap()), "{err}");
}

#[test]
fn ls_status_and_publish_reach_a_running_node() {
    let node = Node::new();
    let first = node.path("first.bin");
    std::fs::write(&first, pseudo_random(3_000_000, 1)).unwrap();
    let sd1 = node.publish(&first);
    let serve = ServeNode::start_with(&node, &["--dht-listen", "127.0.0.1:0"]);
    serve.wait_log("control socket ready");
    let sock = node.data_dir().join("control.sock");
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "owner-only socket");

    // The data dir is locked by the node, yet these work through it.
    let second = node.path("second.bin");
    let data = pseudo_random(5_000_000, 2);
    std::fs::write(&second, &data).unwrap();
    let sd2 = node.publish(&second);
    // Published through the node: announced at once (a second round after start's).
    serve.wait_log_nth("announced", 2);
    let ls = node.ok(&["ls"]);
    assert!(
        ls.contains(&format!("{sd1}  3000000  2/2  first.bin")),
        "{ls}"
    );
    assert!(
        ls.contains(&format!("{sd2}  5000000  3/3  second.bin")),
        "{ls}"
    );

    let status = node.ok(&["status"]);
    assert_eq!(field(&status, "pid"), serve.pid().to_string());
    assert_eq!(field(&status, "streams published"), "2");
    assert_eq!(field(&status, "streams cached"), "0");
    assert_eq!(field(&status, "blob server"), serve.addr.to_string());
    assert!(field(&status, "dht node").starts_with("127.0.0.1:"));
    assert_eq!(field(&status, "recent read errors"), "0");
    for key in ["dht contacts", "peers known", "cache", "served", "uptime"] {
        field(&status, key);
    }

    // A file the node cannot read: a clear error, exit 1, the node lives on.
    let err = node.fails(&["publish", node.path("missing").to_str().unwrap()], 1);
    assert!(err.contains("missing"), "{err}");
    // Malformed requests get an error reply; the node keeps answering.
    for bad in [&b"{\"op\":\"rm\"}\n"[..], b"garbage\n", &[b'x'; 70_000][..]] {
        let reply = raw_request(&node, bad);
        assert_eq!(reply.len(), 1, "{reply:?}");
        assert!(reply[0].contains("\"reply\":\"error\""), "{reply:?}");
    }
    assert!(node.ok(&["ls"]).contains(&sd2));

    let (status, log) = serve.stop(libc::SIGTERM);
    assert!(status.success(), "{log}");
    assert!(!sock.exists(), "the socket goes with the node");
    // Without the node, ls reads the store itself and sees the same.
    assert!(node.ok(&["ls"]).contains(&sd2));
}

#[test]
fn a_publish_through_the_node_appears_in_its_mount_at_once() {
    let node = Node::new();
    let m = MountNode::start(&node, &[]);
    let file = node.path("clip.mp4");
    let data = pseudo_random(2_500_000, 3);
    std::fs::write(&file, &data).unwrap();
    let sd = node.publish(&file);
    let listed: Vec<String> = std::fs::read_dir(&m.mountpoint)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(listed, vec![sd.clone()]);
    let got = std::fs::read(m.file(&sd, "clip.mp4")).unwrap();
    assert!(got == data, "bytes differ");
    let status = node.ok(&["status"]);
    assert_eq!(
        field(&status, "mountpoint"),
        std::fs::canonicalize(&m.mountpoint)
            .unwrap()
            .to_str()
            .unwrap()
    );
    let stopped = m.stop(libc::SIGTERM);
    assert!(stopped.status.success(), "{}", stopped.log);
}

#[test]
fn a_command_during_a_nodes_start_waits_for_its_control_socket() {
    // A node takes the data dir's lock before its control socket is up; a
    // command arriving in between must ask the node, not fail "in use".
    use std::os::unix::io::AsRawFd;
    use std::os::unix::net::UnixListener;
    let node = Node::new();
    std::fs::create_dir_all(node.data_dir()).unwrap();
    let lock = std::fs::File::create(node.data_dir().join("lock")).unwrap();
    // SAFETY: flock on a descriptor this test owns, for as long as `lock` lives.
    let rc = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    assert_eq!(rc, 0, "took the lock");
    let sock = node.data_dir().join("control.sock");
    // The "node" opens its socket a moment later and answers one `ls`
    // with the real reply format.
    let starting = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(500));
        let listener = UnixListener::bind(&sock).unwrap();
        let (conn, _) = listener.accept().unwrap();
        let mut line = String::new();
        BufReader::new(&conn).read_line(&mut line).unwrap();
        (&conn)
            .write_all(b"{\"reply\":\"ls\",\"streams\":[]}\n")
            .unwrap();
        line
    });
    let out = node.ok(&["ls"]);
    assert_eq!(out, "", "the node's (empty) listing");
    let asked = starting.join().unwrap();
    assert!(asked.contains("\"op\":\"ls\""), "{asked}");
    drop(lock);
}
