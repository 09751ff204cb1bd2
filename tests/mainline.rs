//! BitTorrent's mainline DHT on 127.0.0.1: our nodes (in this process, the
//! library's `mainline::Node`), the `lbrymount dht --mainline` commands as a
//! user runs them, and Debian's libtorrent as the other implementation.

mod common;

use common::cli::bin;
use lbrymount::mainline::{Node, NodeConfig};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

async fn our_node(seed: Option<SocketAddr>) -> Arc<Node> {
    let cfg = NodeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        timeout: Duration::from_millis(500),
        ..NodeConfig::default()
    };
    let node = Node::start(cfg).await.unwrap();
    if let Some(SocketAddr::V4(s)) = seed {
        node.join(&[s]).await;
    }
    node
}

/// `n` of our nodes, each joined through the first.
async fn network(n: usize) -> Vec<Arc<Node>> {
    let first = our_node(None).await;
    let boot = first.local_addr();
    let mut nodes = vec![first];
    for _ in 1..n {
        nodes.push(our_node(boot).await);
    }
    nodes
}

fn addr(node: &Node) -> String {
    node.local_addr().unwrap().to_string()
}

/// Runs `lbrymount dht --mainline ARGS`; stdout, and stderr on failure.
async fn cli(args: &[&str]) -> Result<String, String> {
    let out = Command::new(bin())
        .args(["dht", "--mainline"])
        .args(args)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .expect("the command finished within 60 s")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crawl_finds_every_node_of_a_fifty_node_dht() {
    let nodes = network(50).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("crawl.jsonl");
    let boot = addr(&nodes[0]);
    let args = ["--bootstrap", &boot, "crawl", "--max-nodes", "1000", "-o"];
    cli(&[&args[..], &[out.to_str().unwrap()]].concat())
        .await
        .unwrap();
    let lines = std::fs::read_to_string(&out).unwrap();
    let mut seen: HashMap<String, serde_json::Value> = HashMap::new();
    for line in lines.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
        seen.insert(v["addr"].as_str().unwrap().to_string(), v);
    }
    let mut missing = Vec::new();
    for n in &nodes {
        match seen.get(&addr(n)) {
            Some(v) => {
                assert_eq!(v["id"].as_str(), Some(hex::encode(n.id()).as_str()));
                assert_eq!(v["answered"], true);
                assert!(v["rtt_ms"].as_f64().is_some());
                assert!(v["first_seen_ms"].as_u64() <= v["last_seen_ms"].as_u64());
            }
            None => missing.push(addr(n)),
        }
    }
    assert!(
        missing.is_empty(),
        "the crawl missed {} of 50 nodes: {missing:?}",
        missing.len()
    );
    assert_eq!(seen.len(), 50, "only the 50 nodes are on this DHT");
}

/// The libtorrent helper: `(child, lines)`.
fn libtorrent(
    boot: &str,
    announce: &str,
    wanted: &str,
    save: &std::path::Path,
) -> tokio::process::Child {
    Command::new(common::libtorrent::python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/bt/lt_dht.py"))
        .args([boot, announce, wanted])
        .arg(save)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 with libtorrent (Debian's python3-libtorrent)")
}

async fn json_line(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
) -> serde_json::Value {
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line()).await;
    let line = line
        .expect("libtorrent said something within 60 s")
        .unwrap()
        .expect("a line");
    serde_json::from_str(&line).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_nodes_and_libtorrent_find_each_others_torrents() {
    let nodes = network(5).await;
    let boot = addr(&nodes[0]);
    let ours = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    let theirs = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let stored = cli(&["--bootstrap", &boot, "announce", ours, "--tcp-port", "6000"])
        .await
        .unwrap();
    assert!(stored.starts_with("stored on 5 nodes"), "{stored}");

    let save = tempfile::tempdir().unwrap();
    let mut lt = libtorrent(&boot, theirs, ours, save.path());
    let mut lines = BufReader::new(lt.stdout.take().unwrap()).lines();
    let joined = json_line(&mut lines).await;
    assert!(
        joined["dht_nodes"].as_u64().unwrap() > 0,
        "libtorrent joined through our node: {joined}"
    );
    let lt_port = joined["listen_port"].as_u64().unwrap();
    let found = json_line(&mut lines).await;
    assert_eq!(
        found["found"],
        serde_json::json!(["127.0.0.1:6000"]),
        "libtorrent found our announce"
    );

    // libtorrent announces its torrent on its own schedule: ask until it is there.
    let want = format!("127.0.0.1:{lt_port}");
    let started = Instant::now();
    loop {
        let out = cli(&["--bootstrap", &boot, "get-peers", theirs])
            .await
            .unwrap();
        if out.lines().any(|l| l == want) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no node gave libtorrent's peer {want}:\n{out}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    lt.stdin.take().unwrap().shutdown().await.ok();
    let _ = lt.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_and_sample_infohashes_show_what_a_node_holds() {
    let nodes = network(3).await;
    let target = addr(&nodes[1]);
    let ping = cli(&["ping", &target]).await.unwrap();
    assert!(
        ping.starts_with(&format!("{}  {target}  ", hex::encode(nodes[1].id()))),
        "{ping}"
    );

    let boot = addr(&nodes[0]);
    let ih = "0123456789abcdef0123456789abcdef01234567";
    cli(&["--bootstrap", &boot, "announce", ih, "--tcp-port", "7000"])
        .await
        .unwrap();
    let sampled = cli(&["sample-infohashes", &target]).await.unwrap();
    assert!(sampled.lines().any(|l| l == ih), "{sampled}");
    assert!(sampled.contains("num=1"), "{sampled}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_before_anything_is_sent() {
    // Nothing listens on the bootstrap port: a refusal that waited on the
    // network would fail with "no node answered" instead.
    let boot = "127.0.0.1:9";
    let err = cli(&["--bootstrap", boot, "get-peers", "abc"])
        .await
        .unwrap_err();
    assert!(err.contains("not hex") || err.contains("40 hex"), "{err}");
    let err = cli(&["--bootstrap", boot, "find-node", &"ab".repeat(21)])
        .await
        .unwrap_err();
    assert!(err.contains("40 hex"), "{err}");
    let out = Command::new(bin())
        .args(["dht", "--bootstrap", boot, "crawl"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--mainline"));
    let err = cli(&["--bootstrap", boot, "find-node", &"ab".repeat(20)])
        .await
        .unwrap_err();
    assert!(err.contains("no mainline DHT node answered"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_joins_answers_and_stops_on_sigterm() {
    let nodes = network(2).await;
    let boot = addr(&nodes[0]);
    let mut serve = Command::new(bin())
        .args([
            "dht",
            "--mainline",
            "--bootstrap",
            &boot,
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(serve.stdout.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().unwrap();
    let listen = first.split_whitespace().nth(2).unwrap().to_string();
    let joined = lines.next_line().await.unwrap().unwrap();
    assert!(joined.starts_with("# joined with "), "{joined}");
    assert!(
        nodes[0]
            .contacts()
            .iter()
            .any(|(_, a)| a.to_string() == listen),
        "the served node is in the bootstrap node's table"
    );
    let ping = cli(&["ping", &listen]).await.unwrap();
    assert!(ping.contains(&listen));
    let pid = serve.id().unwrap() as i32;
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let status = tokio::time::timeout(Duration::from_secs(10), serve.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
}
