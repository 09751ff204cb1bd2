//! Fixtures of the names tests: a hub with the streams every test uses, and
//! running the binary under a hang guard.

use super::cli::Node;
use super::hub::{stream, StreamSpec, TestHub};
use std::process::{Output, Stdio};
use std::time::Duration;

pub const SD_ONE: &str = "1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a";
pub const SD_TWO: &str = "2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b";

pub fn forged() -> StreamSpec {
    StreamSpec {
        forged: true,
        ..stream("forged", SD_TWO, "forged.bin", 9)
    }
}

/// Channel `@bar` with `one` and `two` (signed), `solo` (no channel),
/// `forged` (claims `@bar`, signed by another key), `torrent` (a BitTorrent
/// source) and `bare` (no sd hash).
pub fn bar_hub() -> TestHub {
    let solo = StreamSpec {
        in_channel: false,
        ..stream("solo", SD_TWO, "solo.txt", 7)
    };
    let torrent = StreamSpec {
        sd_hash: None,
        bt_infohash: Some([0xab; 20]),
        ..stream("torrent", SD_ONE, "t.iso", 1)
    };
    let bare = StreamSpec {
        sd_hash: None,
        ..stream("bare", SD_ONE, "b.bin", 1)
    };
    TestHub::start(
        "@bar",
        vec![
            stream("one", SD_ONE, "one.bin", 123),
            solo,
            forged(),
            torrent,
            bare,
            stream("two", SD_TWO, "two.bin", 5),
        ],
    )
}

/// Runs `lbrymount ARGS` and kills it (by its PID) if it has not ended
/// within 60 s: a hang is a failure, not a stuck test run.
pub fn run(node: &Node, args: &[&str]) -> Output {
    let child = node
        .cmd(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run lbrymount");
    let pid = child.id() as libc::pid_t;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(out) => out.expect("wait for lbrymount"),
        Err(_) => {
            // SAFETY: kill(2) on the PID of our own child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("lbrymount {args:?} hung");
        }
    }
}

pub fn ok(node: &Node, args: &[&str]) -> String {
    let out = run(node, args);
    super::cli::assert_success(&out, args);
    String::from_utf8(out.stdout).unwrap()
}

/// Runs, requires exit 1, returns stderr.
pub fn fails(node: &Node, args: &[&str]) -> String {
    let out = run(node, args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{args:?} should exit 1; stderr: {err}"
    );
    assert!(out.stdout.is_empty(), "nothing on stdout");
    err
}
