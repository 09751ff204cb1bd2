//! `serve` and `get` over real sockets on 127.0.0.1: several real nodes, and
//! misbehaving peers that speak the real protocol.

mod common;

use common::cli::{copy_blobs, descriptor_named, pseudo_random, Node, ServeNode, CHUNK};
use common::fakepeer::{FakePeer, Mode};
use lbrymount::hash::BlobHash;
use std::fs;
use std::time::{Duration, Instant};

/// A publisher node holding one stream of `blobs` data blobs; returns (node, sd hash, content).
fn published(blobs: usize, seed: u64) -> (Node, String, Vec<u8>) {
    let node = Node::new();
    let data = pseudo_random(blobs * CHUNK - 1000, seed);
    let src = node.path("movie.bin");
    fs::write(&src, &data).unwrap();
    let sd = node.publish(&src);
    (node, sd, data)
}

/// A node whose store is a copy of `from`'s, serving it.
fn seeder(from: &Node) -> (Node, ServeNode) {
    let n = Node::new();
    copy_blobs(from, &n);
    let s = ServeNode::start(&n);
    (n, s)
}

fn get_args<'a>(sd: &'a str, out: &'a str, peers: &'a [String]) -> Vec<&'a str> {
    let mut args = vec!["get", sd, "-o", out];
    for p in peers {
        args.extend(["--peer", p.as_str()]);
    }
    args
}

#[test]
fn get_pulls_from_three_serve_nodes_and_each_serves_some() {
    let (publisher, sd, data) = published(12, 1);
    let nodes: Vec<_> = (0..3).map(|_| seeder(&publisher)).collect();
    let peers: Vec<String> = nodes.iter().map(|(_, s)| s.peer_arg()).collect();
    let leecher = Node::new();
    let out = leecher.path("movie.out");
    leecher.ok(&get_args(&sd, out.to_str().unwrap(), &peers));
    assert_eq!(
        fs::read(&out).unwrap(),
        data,
        "byte-identical to the published file"
    );

    let mut total = 0;
    for (i, (_, server)) in nodes.into_iter().enumerate() {
        // SIGTERM for two, SIGINT for one: both are clean shutdowns.
        let sig = if i == 0 { libc::SIGINT } else { libc::SIGTERM };
        let (status, log) = server.stop(sig);
        assert!(
            status.success(),
            "serve exits 0 on signal {sig}: {status:?}\n{log}"
        );
        let served = ServeNode::served_blobs(&log);
        assert!(served > 0, "node {i} served nothing:\n{log}");
        total += served;
    }
    assert_eq!(
        total, 13,
        "12 data blobs and the sd blob, each fetched once"
    );
}

#[test]
fn an_interrupted_get_resumes_without_fetching_blobs_again() {
    let (publisher, sd, data) = published(6, 2);
    let (_n1, s1) = seeder(&publisher);
    let leecher = Node::new();
    let out = leecher.path("first.out");
    leecher.ok(&get_args(&sd, out.to_str().unwrap(), &[s1.peer_arg()]));
    drop(s1);
    // Lose three data blobs, as if the first get had been stopped partway.
    let sd_text = fs::read_to_string(leecher.blob_dir().join(&sd)).unwrap();
    let lost: Vec<&str> = sd_text
        .match_indices("\"blob_hash\": \"")
        .take(3)
        .map(|(i, _)| &sd_text[i + 14..i + 110])
        .collect();
    for h in &lost {
        fs::remove_file(leecher.blob_dir().join(h)).unwrap();
    }
    let (_n2, s2) = seeder(&publisher);
    let out2 = leecher.path("second.out");
    leecher.ok(&get_args(&sd, out2.to_str().unwrap(), &[s2.peer_arg()]));
    assert_eq!(fs::read(&out2).unwrap(), data);
    let (_, log) = s2.stop(libc::SIGTERM);
    assert_eq!(
        ServeNode::served_blobs(&log),
        3,
        "only the missing blobs were fetched"
    );
    // With everything local, no peer is needed at all.
    let out3 = leecher.path("third.out");
    leecher.ok(&["get", &sd, "-o", out3.to_str().unwrap()]);
    assert_eq!(fs::read(&out3).unwrap(), data);
}

const BAD_MODES: [Mode; 7] = [
    Mode::Corrupt,
    Mode::Stall,
    Mode::StallMidBlob,
    Mode::DisconnectMidBlob,
    Mode::WrongLength,
    Mode::Garbage,
    Mode::Refuse,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_good_peer_among_liars_is_enough() {
    let (publisher, sd, data) = published(5, 3);
    let blobs = publisher.blobs();
    let mut fakes = Vec::new();
    for mode in BAD_MODES {
        fakes.push(FakePeer::start(mode, blobs.clone()).await);
    }
    let (_seed_node, good) = seeder(&publisher);
    let mut peers: Vec<String> = fakes.iter().map(|f| f.addr().to_string()).collect();
    peers.insert(3, good.peer_arg());
    let leecher = Node::new();
    let out = leecher.path("out");
    let args: Vec<String> = get_args(&sd, out.to_str().unwrap(), &peers)
        .into_iter()
        .map(String::from)
        .collect();
    let leecher_cmd = leecher
        .cmd(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .output();
    let result = tokio::task::spawn_blocking(move || leecher_cmd)
        .await
        .unwrap()
        .unwrap();
    common::cli::assert_success(&result, &["get"]);
    assert_eq!(fs::read(&out).unwrap(), data);
    // Whatever the liars sent, only verified blobs reached the store.
    for (name, bytes) in leecher.blobs() {
        assert_eq!(BlobHash::digest(&bytes), name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_good_peer_get_fails_with_a_report_per_peer() {
    let (publisher, sd, _) = published(2, 4);
    let blobs = publisher.blobs();
    let mut fakes = Vec::new();
    for mode in BAD_MODES {
        fakes.push(FakePeer::start(mode, blobs.clone()).await);
    }
    // And a port where nobody listens.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut peers: Vec<String> = fakes.iter().map(|f| f.addr().to_string()).collect();
    peers.push(closed.to_string());
    let leecher = Node::new();
    let out = leecher.path("out");
    let mut args = get_args(&sd, out.to_str().unwrap(), &peers);
    args.extend(["--timeout", "10"]);
    let mut cmd = leecher.cmd(&args);
    let started = Instant::now();
    let result = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(1), "{stderr}");
    // A hang guard, not a speed check: the 10 s deadline must end the wait.
    assert!(took < Duration::from_secs(60), "get took {took:?}");
    for p in &peers {
        assert!(
            stderr.contains(p.as_str()),
            "report names peer {p}:\n{stderr}"
        );
    }
    for reason in [
        "does not match the blob hash",
        "timed out",
        "connection failed",
        "does not have the blob",
    ] {
        assert!(
            stderr.contains(reason),
            "report gives reason {reason:?}:\n{stderr}"
        );
    }
    assert!(!out.exists());
}

#[test]
fn get_without_peers_or_local_blobs_is_a_clear_error() {
    let node = Node::new();
    let sd = "ab".repeat(48);
    let out = node.path("o");
    let err = node.fails(
        &["get", &sd, "--no-bootstrap", "-o", out.to_str().unwrap()],
        1,
    );
    assert!(err.contains(&sd) && err.contains("--peer"), "{err}");
}

#[test]
fn serve_refuses_a_busy_address_clearly() {
    let node = Node::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let err = node.fails(&["serve", "--listen", &addr, "--no-dht"], 1);
    assert!(err.contains(&addr) && err.contains("in use"), "{err}");
}

#[test]
fn a_hostile_file_name_never_leaves_the_current_directory() {
    let seed = Node::new();
    fs::create_dir_all(seed.blob_dir()).unwrap();
    let sd_bytes = descriptor_named(b"../../escaped.txt");
    let sd = BlobHash::digest(&sd_bytes).to_string();
    fs::write(seed.blob_dir().join(&sd), &sd_bytes).unwrap();
    let server = ServeNode::start(&seed);

    let leecher = Node::new();
    let cwd = leecher.path("a/b");
    fs::create_dir_all(&cwd).unwrap();
    let out = leecher
        .cmd(&["get", &sd, "--peer", &server.peer_arg()])
        .current_dir(&cwd)
        .output()
        .unwrap();
    common::cli::assert_success(&out, &["get"]);
    let written: Vec<String> = fs::read_dir(&cwd)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(written.len(), 1, "{written:?}");
    assert!(
        !written[0].contains('/') && written[0].ends_with("escaped.txt"),
        "{written:?}"
    );
    assert!(!leecher.path("escaped.txt").exists() && !leecher.path("a/escaped.txt").exists());
}

#[test]
fn get_finds_a_stream_through_the_dht_given_only_a_bootstrap_node() {
    let (publisher, sd, data) = published(3, 7);
    // Node A serves its store and runs a DHT node (the first one: nothing to join).
    let a = ServeNode::start_with(&publisher, &["--dht-listen", "127.0.0.1:0"]);
    let dht_addr = a.wait_log("dht node ready at ");
    a.wait_log("announced");
    // Node B knows only A's DHT address: no --peer.
    let leecher = Node::new();
    let out = leecher.path("via-dht.out");
    leecher.ok(&[
        "get",
        &sd,
        "--bootstrap",
        &dht_addr,
        "--timeout",
        "20",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        fs::read(&out).unwrap(),
        data,
        "byte-identical through a peer found in the DHT"
    );
    let (_, log) = a.stop(libc::SIGTERM);
    assert_eq!(
        ServeNode::served_blobs(&log),
        4,
        "the sd blob and three data blobs came from A"
    );
}

#[test]
fn the_dht_commands_reach_a_serving_node() {
    let (publisher, sd, _) = published(1, 8);
    let a = ServeNode::start_with(&publisher, &["--dht-listen", "127.0.0.1:0"]);
    let udp = a.wait_log("dht node ready at ");
    a.wait_log("announced");
    let user = Node::new();
    // Given an address, `dht ping` contacts that node and nothing else: no
    // bootstrap list is resolved (that would leave the machine).
    let out = user.cmd(&["dht", "ping", &udp]).output().unwrap();
    let (ping, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("bootstrap"), "{stderr}");
    assert!(
        ping.contains(&udp) && ping.trim_end().ends_with("ms"),
        "{ping}"
    );
    let peers = user.ok(&["dht", "--bootstrap", &udp, "find-peers", &sd]);
    assert!(
        peers.lines().any(|l| l == a.peer_arg()),
        "the serving node is found:\n{peers}"
    );
    let table = user.ok(&["dht", "--bootstrap", &udp, "table"]);
    assert!(table.lines().any(|l| l.ends_with(&udp)), "{table}");
    let key = "cd".repeat(48);
    let announced = user.ok(&[
        "dht",
        "--bootstrap",
        &udp,
        "announce",
        &key,
        "--tcp-port",
        "5000",
    ]);
    assert!(announced.starts_with("stored on 1 nodes"), "{announced}");
    let found = user.ok(&["dht", "--bootstrap", &udp, "find-peers", &key]);
    assert!(
        found.lines().any(|l| l.ends_with(":5000")),
        "the announcement is found again:\n{found}"
    );
    drop(a);
}
