//! LAN discovery end to end, on a LAN of network namespaces the test makes
//! (`common::lan`): nodes started with no bootstrap node find each other,
//! join the DHT through each other and read each other's streams; hostile
//! datagrams are ignored, counted and bounded.

mod common;

use common::cli::{pseudo_random, Node, ServeNode};
use common::lan::NetLan;
use common::mount::{assert_file_is, MountNode};
use std::time::{Duration, Instant};

/// Flags of a node on the test LAN: every interface, no bootstrap node,
/// LAN discovery on.
const ON_LAN: [&str; 7] = [
    "--listen",
    "0.0.0.0:0",
    "--dht-listen",
    "0.0.0.0:0",
    "--no-bootstrap",
    "--lan",
    "-v",
];

/// `serve` on `node`, in namespace `i` of `lan`.
fn serve(lan: &NetLan, i: usize, node: &Node, extra: &[&str]) -> ServeNode {
    let mut args = vec!["serve"];
    args.extend(ON_LAN);
    args.extend(extra);
    let mut cmd = node.cmd(&args);
    lan.enter(&mut cmd, i);
    ServeNode::spawn_command(cmd)
}

/// Polls `status` until `pred` holds (30 s at most: a hang guard).
fn wait_status(node: &Node, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // Until the node's control socket is up, `status` says none runs.
        let out = node.cmd(&["status"]).output().expect("run lbrymount");
        let status = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() && pred(&status) {
            return status;
        }
        assert!(Instant::now() < deadline, "no {what}; status:\n{status}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn lists(status: &str, ip: &str) -> bool {
    status.contains(&format!("lan peer {ip}: blob port "))
}

/// The `lan:` line's counts: peers, then datagrams ignored as malformed,
/// over the rate limit, with our node id, refused by a full table.
fn lan_counts(status: &str) -> [u64; 5] {
    let line = status
        .lines()
        .find(|l| l.starts_with("lan: "))
        .unwrap_or_else(|| panic!("no lan line in\n{status}"));
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    numbers
        .try_into()
        .unwrap_or_else(|_| panic!("not five counts: {line}"))
}

/// A status line's number after `key` (`dht contacts: 3` -> 3).
fn number(status: &str, key: &str) -> u64 {
    let at = status
        .find(key)
        .unwrap_or_else(|| panic!("no {key:?} in\n{status}"));
    status[at + key.len()..]
        .trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after {key:?} in\n{status}"))
}

#[test]
fn nodes_started_with_no_bootstrap_find_each_other_and_join_the_dht() {
    let lan = NetLan::new(3);
    let nodes: Vec<Node> = (0..3).map(|_| Node::new()).collect();
    let _a = serve(&lan, 0, &nodes[0], &["--no-share"]);
    let _b = serve(&lan, 1, &nodes[1], &["--no-share"]);
    let _c = serve(&lan, 2, &nodes[2], &["--no-share"]);
    for (i, node) in nodes.iter().enumerate() {
        let others: Vec<String> = (0..3).filter(|j| *j != i).map(|j| lan.ip(j)).collect();
        let status = wait_status(node, "both other nodes listed", |s| {
            others.iter().all(|ip| lists(s, ip)) && number(s, "dht contacts:") >= 2
        });
        assert!(status.contains("lan: 2 peers"), "{status}");
        assert!(!lists(&status, &lan.ip(i)), "not itself:\n{status}");
    }
}

/// The time from a new node's start until a node already running lists
/// it; printed for each of five runs, and their median
/// (`cargo test --test lan discovery_time -- --nocapture`).
#[test]
fn discovery_time_of_a_new_node() {
    let mut times = Vec::new();
    for _ in 0..5 {
        let lan = NetLan::new(2);
        let (a_node, b_node) = (Node::new(), Node::new());
        let a = serve(&lan, 0, &a_node, &["--no-share"]);
        let started = Instant::now();
        let _b = serve(&lan, 1, &b_node, &["--no-share"]);
        a.wait_log(&format!("found a LAN peer peer={}:", lan.ip(1)));
        let took = started.elapsed();
        wait_status(&b_node, "the running node listed", |s| lists(s, &lan.ip(0)));
        eprintln!("new node listed after {} ms", took.as_millis());
        times.push(took);
    }
    times.sort();
    eprintln!("discovery time, median of 5: {} ms", times[2].as_millis());
}

#[test]
fn a_file_shared_on_one_node_is_read_through_the_mount_of_another_with_no_bootstrap() {
    let lan = NetLan::new(2);
    let a_node = Node::new();
    let share = a_node.path("shared");
    std::fs::create_dir_all(&share).unwrap();
    let data = pseudo_random(3 * 2_097_151 + 1000, 15);
    std::fs::write(share.join("notes.bin"), &data).unwrap();
    // A runs no DHT node: nothing is announced anywhere, so B can only
    // have A's blobs by asking the node it heard on the LAN.
    let mut cmd = a_node.cmd(&[
        "serve",
        "--listen",
        "0.0.0.0:0",
        "--no-dht",
        "--lan",
        "--share",
        share.to_str().unwrap(),
    ]);
    lan.enter(&mut cmd, 0);
    let _a = ServeNode::spawn_command(cmd);
    wait_status(&a_node, "the shared file", |s| {
        s.contains("(1 files shared)")
    });
    let row = a_node.ok(&["ls"]);
    let sd = row
        .lines()
        .find(|l| l.ends_with("  notes.bin"))
        .map(|l| l[..96].to_string())
        .unwrap_or_else(|| panic!("not in ls:\n{row}"));

    let b_node = Node::new();
    let mp = b_node.path("mnt");
    let mut extra = ON_LAN.to_vec();
    extra.push("--no-share");
    let b = MountNode::start_with(&b_node, &mp, &extra, |c| lan.enter(c, 1));
    let status = wait_status(&b_node, "the sharing node listed", |s| lists(s, &lan.ip(0)));
    assert!(status.contains(", no dht, "), "{status}");
    assert_file_is(&b.file(&sd, "notes.bin"), &data);
}

/// A hello datagram (docs/protocol.md §10) from node `id`.
fn hello(id: &[u8; 48], tcp_port: u16) -> Vec<u8> {
    let mut d = b"LBMD\x01\x01\x00\x00".to_vec();
    d.extend(id);
    d.extend(tcp_port.to_be_bytes());
    d.extend(0u16.to_be_bytes());
    d
}

/// A's node id, from its DHT state file.
fn node_id(node: &Node) -> [u8; 48] {
    let state = std::fs::read_to_string(node.data_dir().join("dht.json")).expect("dht.json");
    let v: serde_json::Value = serde_json::from_str(&state).unwrap();
    let hex = v["node_id"].as_str().expect("node_id");
    let mut id = [0u8; 48];
    for (i, b) in id.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    id
}

const GROUP: &str = "239.255.76.77:4446";

#[test]
fn hostile_datagrams_are_ignored_counted_and_bounded() {
    let lan = NetLan::new(3);
    let (a_node, b_node) = (Node::new(), Node::new());
    let a = serve(&lan, 0, &a_node, &["--no-share"]);
    let _b = serve(&lan, 1, &b_node, &["--no-share"]);
    wait_status(&a_node, "the honest node", |s| lists(s, &lan.ip(1)));
    let own = node_id(&a_node);

    // From the third namespace: an oversized datagram, two malformed ones,
    // our own id, then a flood of hellos from one address with new ids.
    let evil = lan.ip(2);
    lan.run_in(2, move || {
        let s = std::net::UdpSocket::bind((evil.as_str(), 0)).unwrap();
        let mut big = hello(&[1; 48], 4444);
        big.resize(600, 0);
        s.send_to(&big, GROUP).unwrap();
        s.send_to(b"hello", GROUP).unwrap();
        s.send_to(&[0xee; 60], GROUP).unwrap();
        s.send_to(&hello(&own, 4444), GROUP).unwrap();
        for n in 0..5000u32 {
            let mut id = [9u8; 48];
            id[..4].copy_from_slice(&n.to_be_bytes());
            let _ = s.send_to(&hello(&id, 4444), GROUP);
        }
    });
    let status = wait_status(&a_node, "the hostile datagrams counted", |s| {
        let [_, malformed, limited, own, _] = lan_counts(s);
        malformed >= 3 && limited > 0 && own > 0
    });
    let [peers, malformed, limited, own, full] = lan_counts(&status);
    eprintln!("{status}");
    assert_eq!((malformed, own), (3, 1), "{status}");
    // The rest of the flood: over the limit, or lost in a full socket buffer.
    assert!(limited > 0, "{status}");
    // At most four peers from one address: the honest node and four.
    assert_eq!(peers, 5, "{status}");
    assert!(full > 0, "{status}");
    assert!(lists(&status, &lan.ip(1)), "{status}");

    // Many sources at once: the table stays at its 64 peers.
    let sources: Vec<String> = (1..=80).map(|n| format!("10.77.1.{n}")).collect();
    lan.add_addrs(2, &sources);
    lan.run_in(2, move || {
        for (n, src) in sources.iter().enumerate() {
            let s = std::net::UdpSocket::bind((src.as_str(), 0)).unwrap();
            let mut id = [7u8; 48];
            id[0] = n as u8;
            s.send_to(&hello(&id, 4444), GROUP).unwrap();
        }
    });
    let status = wait_status(&a_node, "a full table", |s| lan_counts(s)[0] == 64);
    eprintln!("{status}");
    assert_eq!(status.matches("lan peer ").count(), 64, "{status}");
    assert!(
        lists(&status, &lan.ip(1)),
        "the honest node stays:\n{status}"
    );
    assert!(lan_counts(&status)[4] > full, "{status}");
    assert!(a.log().contains("found a LAN peer"), "{}", a.log());
}
