//! `--max-upload-rate`, `--max-download-rate` and `lbrymount rate`: a limited
//! transfer on loopback moves at the limit (measured over ~10 s, with
//! generous bounds), and a limit changed at runtime applies to what follows.

mod common;

use common::cli::{pseudo_random, Node, ServeNode};
use std::time::Instant;

const MIB: f64 = 1_048_576.0;

/// Bytes per second over a transfer of `bytes` that took from `start` to now.
fn rate_since(start: Instant, bytes: usize) -> f64 {
    bytes as f64 / start.elapsed().as_secs_f64()
}

fn assert_near(rate: f64, limit: f64, what: &str) {
    assert!(
        (0.7 * limit..=1.1 * limit).contains(&rate),
        "{what}: {:.0} bytes/s against a limit of {limit:.0}",
        rate
    );
}

/// A fresh node `get`s `sd` from `peer`; returns the bytes per second.
fn timed_get(sd: &str, peer: &str, len: usize) -> f64 {
    let c = Node::new();
    let out = c.path("got");
    let start = Instant::now();
    c.ok(&[
        "get",
        sd,
        "--peer",
        peer,
        "--no-bootstrap",
        "--timeout",
        "30",
        "-o",
        out.to_str().unwrap(),
    ]);
    let rate = rate_since(start, len);
    assert_eq!(std::fs::metadata(&out).unwrap().len(), len as u64);
    rate
}

#[test]
fn upload_and_download_limits_hold_and_change_at_runtime() {
    let a = Node::new();
    let (small, large) = (10 << 20, 20 << 20);
    let (f1, f2) = (a.path("ten.bin"), a.path("twenty.bin"));
    std::fs::write(&f1, pseudo_random(small, 1)).unwrap();
    std::fs::write(&f2, pseudo_random(large, 2)).unwrap();
    let (sd1, sd2) = (a.publish(&f1), a.publish(&f2));
    let seed = ServeNode::start_with(&a, &["--max-upload-rate", "1M"]);
    let peer = seed.peer_arg();

    // 10 MiB at 1 MiB/s: about ten seconds.
    assert_near(timed_get(&sd1, &peer, small), MIB, "upload at 1M");
    // Raised while running: 20 MiB at 2 MiB/s, again about ten seconds.
    let out = a.ok(&["rate", "--upload", "2M"]);
    assert!(out.contains("upload: 2097152 bytes/s"), "{out}");
    assert_near(timed_get(&sd2, &peer, large), 2.0 * MIB, "upload at 2M");

    // The download side: a node limited to 1 MiB/s pins 10 MiB from the
    // seed, whose upload is now unlimited.
    a.ok(&["rate", "--upload", "0"]);
    let b = Node::new();
    let node_b = ServeNode::start_with(&b, &["--max-download-rate", "1M"]);
    node_b.wait_log("control socket ready");
    let start = Instant::now();
    b.ok(&["pin", &sd1, "--peer", &peer, "--timeout", "30"]);
    assert_near(rate_since(start, small), MIB, "download at 1M");
    let status = b.ok(&["status"]);
    assert!(
        status.contains("download limit: 1048576 bytes/s"),
        "{status}"
    );
}
