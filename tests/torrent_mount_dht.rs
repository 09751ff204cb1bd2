//! Torrents in the mount with no `--bt-peer`: the mount finds the seed
//! through a mainline DHT of our own nodes on 127.0.0.1 (`--bt-bootstrap`),
//! as it would through the public routers, or is told of the torrent and
//! its peers by `lbrymount add`.

mod common;

use common::cli::Node as LbryNode;
use common::libtorrent::{seed, Seed};
use common::mainline_dht::loopback_dht;
use common::mount::MountNode;
use lbrymount::mainline::Node;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torrent_announced_in_the_dht_reads_with_no_peer_given() {
    let seed = seed().await;
    let (boot, nodes) = loopback_dht(4).await;
    let ih: [u8; 20] = hex::decode(&seed.info_hash).unwrap().try_into().unwrap();
    let (stored, _) = nodes[2].announce(ih, seed.port).await.unwrap();
    assert!(stored > 0, "the seed is announced");
    let node = LbryNode::new();
    let boot = boot.to_string();
    let m = MountNode::start(&node, &["--bt-bootstrap", &boot]);
    let dir = m.mountpoint.join(&seed.info_hash).join("album");
    seed.assert_files(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torrent_nobody_announced_is_enoent_with_the_reason_in_status() {
    let (boot, _nodes) = loopback_dht(4).await;
    let node = LbryNode::new();
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
    let node = LbryNode::new();
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
        let node = LbryNode::new();
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

fn root(m: &MountNode) -> Vec<String> {
    let entries = std::fs::read_dir(&m.mountpoint).unwrap();
    entries
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

fn torrent_path(seed: &Seed) -> &str {
    seed.torrent.to_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_opens_a_torrent_file_or_a_magnet_and_prints_its_path() {
    let seed = seed().await;
    let peer = format!("127.0.0.1:{}", seed.port);
    let node = LbryNode::new();
    let m = MountNode::start(&node, &[]);
    let album = m.mountpoint.join(&seed.info_hash).join("album");
    // A .torrent file with a peer of its own: no --bt-peer, no DHT.
    let out = node.ok(&["add", torrent_path(&seed), "--peer", &peer]);
    assert_eq!(out.trim(), album.to_str().unwrap(), "add prints the path");
    assert!(root(&m).contains(&seed.info_hash), "the root lists it");
    seed.assert_files(&album);
    // A magnet whose only peer is its x.pe, on a fresh mount (the first one
    // gone: libtorrent takes one connection per address).
    drop(m);
    let node = LbryNode::new();
    let m = MountNode::start(&node, &[]);
    let album = m.mountpoint.join(&seed.info_hash).join("album");
    let link = format!("magnet:?xt=urn:btih:{}&x.pe={peer}", seed.info_hash);
    let out = node.ok(&["add", &link]);
    assert_eq!(out.trim(), album.to_str().unwrap());
    seed.assert_files(&album);
    // A magnet nobody serves fails within the read timeout, saying so.
    let nobody = format!("magnet:?xt=urn:btih:{}", "7".repeat(40));
    let err = node.fails(&["add", &nobody], 1);
    assert!(err.contains("did not open"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_with_no_node_keeps_a_torrent_file_for_the_next_mount() {
    let seed = seed().await;
    let node = LbryNode::new();
    let junk = node.path("junk.torrent");
    std::fs::write(&junk, b"d4:infod4:name1:xee").unwrap();
    let err = node.fails(&["add", junk.to_str().unwrap()], 1);
    assert!(err.contains("not a usable torrent"), "{err}");
    let link = format!("magnet:?xt=urn:btih:{}", seed.info_hash);
    let err = node.fails(&["add", &link], 1);
    assert!(err.contains("start the mount first"), "{err}");
    assert!(
        !node.data_dir().join("torrents").exists(),
        "nothing was kept of refused torrents"
    );
    let out = node.ok(&["add", torrent_path(&seed)]);
    assert!(out.contains(&seed.info_hash), "{out}");
    // The next mount lists it by itself, and reads it from its --bt-peer.
    let peer = format!("127.0.0.1:{}", seed.port);
    let m = MountNode::start(&node, &["--bt-peer", &peer]);
    let started = Instant::now();
    while !root(&m).contains(&seed.info_hash) {
        assert!(started.elapsed() < Duration::from_secs(20), "listed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    seed.assert_files(&m.mountpoint.join(&seed.info_hash).join("album"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_asks_a_magnets_udp_tracker_for_peers() {
    let seed = seed().await;
    let tracker = common::tracker::Tracker::start(None);
    let ih: [u8; 20] = hex::decode(&seed.info_hash).unwrap().try_into().unwrap();
    announce_seed(&tracker, ih, seed.port).await;
    let node = LbryNode::new();
    let m = MountNode::start(&node, &[]);
    let link = format!(
        "magnet:?xt=urn:btih:{}&tr=udp://{}/announce&tr=http://tracker.invalid/announce",
        seed.info_hash,
        tracker.arg()
    );
    let out = node.ok(&["add", &link]);
    let album = m.mountpoint.join(&seed.info_hash).join("album");
    assert_eq!(out.trim(), album.to_str().unwrap());
    assert_eq!(tracker.announces(), 2, "the seed's announce and ours");
    seed.assert_files(&album);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_that_moved_is_found_again_in_the_dht() {
    let seed = seed().await;
    let (boot, nodes) = loopback_dht(4).await;
    let ih: [u8; 20] = hex::decode(&seed.info_hash).unwrap().try_into().unwrap();
    nodes[2].announce(ih, seed.port).await.unwrap();
    let node = LbryNode::new();
    let boot = boot.to_string();
    let m = MountNode::start(&node, &["--bt-bootstrap", &boot]);
    let album = m.mountpoint.join(&seed.info_hash).join("album");
    assert_eq!(
        std::fs::read(album.join("c.txt")).unwrap(),
        seed.file("c.txt")
    );
    // The seed goes away and comes back on another port, announced anew:
    // the torrent, open since, finds it without a restart.
    let moved = move_seed(seed).await;
    nodes[1].announce(ih, moved.port).await.unwrap();
    moved.assert_files(&album);
}

/// Asks a DHT node for `ih`'s peers until `port` is among them.
async fn wait_announced(node: &Arc<Node>, ih: [u8; 20], port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = node.get_peers(ih).await;
        if found.peers.iter().any(|p| p.port() == port) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "never announced: {:?}",
            found.peers
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The port after `what` in a mount's log (`… on 127.0.0.1:PORT`).
fn logged_port(m: &MountNode, what: &str) -> u16 {
    let line = m.proc().wait_log(what);
    let addr = line.split_whitespace().find_map(|w| {
        let w = w.trim_start_matches("local=");
        w.parse::<std::net::SocketAddr>().ok()
    });
    addr.unwrap_or_else(|| panic!("no address in {line:?}"))
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mount_announces_what_it_serves_and_another_finds_it_through_its_dht_node() {
    let seed = seed().await;
    let ih: [u8; 20] = hex::decode(&seed.info_hash).unwrap().try_into().unwrap();
    let (boot, nodes) = loopback_dht(4).await;
    let boot = boot.to_string();
    let peer = format!("127.0.0.1:{}", seed.port);
    let first = LbryNode::new();
    let loopback = "127.0.0.1:0";
    let a = MountNode::start(
        &first,
        &[
            "--bt-bootstrap",
            &boot,
            "--bt-peer",
            &peer,
            "--bt-listen",
            loopback,
            "--bt-dht-listen",
            loopback,
        ],
    );
    let bt_port = logged_port(&a, "serving torrent pieces to BitTorrent peers");
    let dht_port = logged_port(&a, "mainline DHT node listening on");
    seed.assert_files(&a.mountpoint.join(&seed.info_hash).join("album"));
    // Opening the torrent announced our --bt-listen port in the DHT.
    wait_announced(&nodes[3], ih, bt_port).await;
    // status says so (once the announce's answers are all in).
    let want = format!(
        "bittorrent: 1 torrents open; pieces 127.0.0.1:{bt_port}; mainline dht 127.0.0.1:{dht_port}, "
    );
    let shows = |status: &str| {
        let line = status.lines().find(|l| l.starts_with("bittorrent:"));
        line.is_some_and(|l| l.starts_with(&want) && l.ends_with(", 1 announced"))
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut status = first.ok(&["status"]);
    while !shows(&status) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        status = first.ok(&["status"]);
    }
    assert!(shows(&status), "{status}");
    seed.kill().await;

    // A second mount joins through the first's DHT node alone, finds the
    // first as the torrent's peer, and reads every file from its cache.
    let second = LbryNode::new();
    let through = format!("127.0.0.1:{dht_port}");
    let b = MountNode::start(&second, &["--bt-bootstrap", &through]);
    let album = b.mountpoint.join(hex::encode(ih)).join("album");
    for (path, size) in common::libtorrent::FILES {
        let got = std::fs::read(album.join(path));
        let got = got.unwrap_or_else(|e| panic!("{e}: {}", second.ok(&["status"])));
        let want = std::fs::read(a.mountpoint.join(hex::encode(ih)).join("album").join(path));
        assert_eq!(got.len() as u64, size, "{path}");
        assert!(got == want.unwrap(), "{path} differs");
    }
}

/// Kills `seed` and starts the same torrent's seed on another port.
async fn move_seed(seed: Seed) -> Seed {
    let (old, ih) = (seed.port, seed.info_hash.clone());
    seed.kill().await;
    let moved = common::libtorrent::seed().await;
    assert_eq!(moved.info_hash, ih, "the same torrent");
    assert_ne!(moved.port, old);
    moved
}

/// Tells `tracker` that a seed of `ih` listens on `port` (as libtorrent
/// would, were it told of the tracker).
async fn announce_seed(tracker: &common::tracker::Tracker, ih: [u8; 20], port: u16) {
    let announcer = lbrymount::tracker::Tracker::new(tracker.arg(), [7; 20]);
    let within = Duration::from_secs(5);
    announcer
        .announce_hash(ih, port, true, within)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_magnets_trackers_are_kept_and_find_a_seed_that_moved_after_a_restart() {
    let seed = seed().await;
    let tracker = common::tracker::Tracker::start(None);
    let ih: [u8; 20] = hex::decode(&seed.info_hash).unwrap().try_into().unwrap();
    announce_seed(&tracker, ih, seed.port).await;
    let node = LbryNode::new();
    let link = format!(
        "magnet:?xt=urn:btih:{}&tr=udp://{}/announce",
        seed.info_hash,
        tracker.arg()
    );
    {
        let m = MountNode::start(&node, &[]);
        node.ok(&["add", &link]);
        let album = m.mountpoint.join(&seed.info_hash).join("album");
        assert_eq!(
            std::fs::read(album.join("c.txt")).unwrap(),
            seed.file("c.txt")
        );
    }
    // The seed moves; only the tracker knows where. The next mount, with
    // no peer given and no DHT, finds it through the tracker it kept.
    let moved = move_seed(seed).await;
    announce_seed(&tracker, ih, moved.port).await;
    let m = MountNode::start(&node, &[]);
    moved.assert_files(&m.mountpoint.join(&moved.info_hash).join("album"));
}
