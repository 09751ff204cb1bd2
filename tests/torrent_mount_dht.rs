//! Torrents in the mount with no `--bt-peer`: the mount finds the seed
//! through a mainline DHT of our own nodes on 127.0.0.1 (`--bt-bootstrap`),
//! as it would through the public routers.

mod common;

use common::cli::Node;
use common::libtorrent::seed;
use common::mainline_dht::loopback_dht;
use common::mount::MountNode;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torrent_announced_in_the_dht_reads_with_no_peer_given() {
    let seed = seed().await;
    let (boot, nodes) = loopback_dht(4).await;
    let ih: [u8; 20] = hex::decode(&seed.info_hash).unwrap().try_into().unwrap();
    let (stored, _) = nodes[2].announce(ih, seed.port).await.unwrap();
    assert!(stored > 0, "the seed is announced");
    let node = Node::new();
    let boot = boot.to_string();
    let m = MountNode::start(&node, &["--bt-bootstrap", &boot]);
    let dir = m.mountpoint.join(&seed.info_hash).join("album");
    seed.assert_files(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torrent_nobody_announced_is_enoent_with_the_reason_in_status() {
    let (boot, _nodes) = loopback_dht(4).await;
    let node = Node::new();
    let boot = boot.to_string();
    let m = MountNode::start(&node, &["--bt-bootstrap", &boot, "--read-timeout", "5"]);
    let absent = "5".repeat(40);
    let started = Instant::now();
    let err = std::fs::metadata(m.mountpoint.join(&absent)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "{err}");
    assert!(started.elapsed() < Duration::from_secs(15), "not a hang");
    let status = node.ok(&["status"]);
    let why = status.lines().find(|l| l.contains(&absent));
    assert!(
        why.is_some_and(|l| l.contains("the mainline DHT knows no peer")),
        "the reason is in status:\n{status}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_bt_a_40_hex_name_is_not_a_torrent() {
    let seed = seed().await;
    let node = Node::new();
    let peer = format!("127.0.0.1:{}", seed.port);
    let nowhere = node.path("no-such-dir");
    let nowhere = nowhere.to_str().unwrap();
    let out = node
        .cmd(&[nowhere, "--no-bt", "--bt-peer", &peer])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("cannot be used with"),
        "--no-bt with --bt-peer is refused: {err}"
    );
    // Torrents on, no peer: the name is looked up as a torrent, and fails
    // with its reason. Torrents off: it is not (and, with no hub, it is no
    // claim name either).
    for (flag, resolved) in [("--no-bt-dht", true), ("--no-bt", false)] {
        let node = Node::new();
        let m = MountNode::start(&node, &[flag]);
        let err = std::fs::metadata(m.mountpoint.join(&seed.info_hash)).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "{err}");
        let status = node.ok(&["status"]);
        let why = status.lines().find(|l| l.contains(&seed.info_hash));
        assert_eq!(
            why.is_some_and(|l| l.contains("no peer to ask")),
            resolved,
            "{flag}:\n{status}"
        );
    }
}
