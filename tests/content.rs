//! Managing content: `unpublish`, `pin`, `unpin`, `cache ls|drop`, and the
//! JSON of `ls` and `status`, on a data dir no node holds and through a
//! running node; what other peers can then `get` from it.

mod common;

use common::cli::{pseudo_random, publisher, Node, ServeNode};
use serde_json::Value;
use std::time::{Duration, Instant};

/// `ls --json` of `node`, as (sd hash -> row).
fn ls_json(node: &Node) -> std::collections::HashMap<String, Value> {
    let out = node.ok(&["ls", "--json"]);
    let rows: Vec<Value> = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    rows.into_iter()
        .map(|r| (r["sd_hash"].as_str().unwrap().to_string(), r))
        .collect()
}

/// `status --json` of the node running on `node`.
fn status_json(node: &Node) -> Value {
    let out = node.ok(&["status", "--json"]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// The state `ls --json` gives a stream: published, pinned or cached.
fn state(row: &Value) -> &'static str {
    match (row["published"].as_bool(), row["pinned"].as_bool()) {
        (Some(true), _) => "published",
        (_, Some(true)) => "pinned",
        _ => "cached",
    }
}

/// `get SD --peer PEER` on a fresh node: whether `peer` serves the stream.
fn peer_serves(sd: &str, peer: &str) -> bool {
    let c = Node::new();
    let out = c.path("got");
    let args = [
        "get",
        sd,
        "--peer",
        peer,
        "--no-bootstrap",
        "--timeout",
        "5",
        "-o",
        out.to_str().unwrap(),
    ];
    c.cmd(&args).output().expect("run get").status.success()
}

#[test]
fn pin_unpin_cache_drop_and_unpublish_on_a_data_dir_without_a_node() {
    let (a, sd_a, _) = publisher(3_000_000, 1, "a.bin");
    let (b, sd_b, _) = publisher(2_500_000, 2, "b.bin");
    let seed = ServeNode::start(&a);
    let peer = seed.peer_arg();
    // b pins a's stream through the peer: fetched whole, listed as pinned.
    let out = b.ok(&["pin", &sd_a, "--peer", &peer, "--timeout", "10"]);
    assert!(out.contains(&format!("pinned {sd_a}")), "{out}");
    let rows = ls_json(&b);
    assert_eq!(state(&rows[&sd_a]), "pinned", "{rows:?}");
    assert_eq!(rows[&sd_a]["present"], rows[&sd_a]["total"]);
    assert_eq!(state(&rows[&sd_b]), "published");
    let cache = b.ok(&["cache", "ls"]);
    assert!(
        cache.contains(&format!("{sd_a}  3000016  pinned  a.bin")),
        "{cache}"
    );
    // Neither published nor pinned streams are dropped.
    let err = b.fails(&["cache", "drop", &sd_a], 1);
    assert!(err.contains("is pinned") && err.contains("unpin"), "{err}");
    let err = b.fails(&["cache", "drop", &sd_b], 1);
    assert!(
        err.contains("is published here") && err.contains("unpublish"),
        "{err}"
    );
    b.ok(&["cache", "drop", "--all"]);
    assert_eq!(
        ls_json(&b).len(),
        2,
        "--all keeps published and pinned streams"
    );
    // Unpinned, it is cached: now `cache drop` frees it.
    b.ok(&["unpin", &sd_a]);
    assert_eq!(state(&ls_json(&b)[&sd_a]), "cached");
    b.ok(&["cache", "drop", &sd_a]);
    assert!(!ls_json(&b).contains_key(&sd_a));
    // Unpublished: gone from the store, so a node on it serves it no more.
    let err = b.fails(&["unpublish", &sd_a], 1);
    assert!(err.contains("not published here"), "{err}");
    b.ok(&["unpublish", &sd_b]);
    assert!(ls_json(&b).is_empty());
    let serve_b = ServeNode::start(&b);
    assert!(!peer_serves(&sd_b, &serve_b.peer_arg()));
    assert!(peer_serves(&sd_a, &peer), "the seed still serves its own");
}

#[test]
fn through_a_running_node_pins_survive_cache_pressure_and_drops_and_unpublishes_stop_serving() {
    let (a, sd_pin, _) = publisher(3_000_000, 3, "keep.bin");
    let extra = a.path("cached.bin");
    std::fs::write(&extra, pseudo_random(3_000_000, 4)).unwrap();
    let sd_cached = a.publish(&extra);
    let big = a.path("big.bin");
    std::fs::write(&big, pseudo_random(6_000_000, 5)).unwrap();
    let sd_big = a.publish(&big);
    let seed = ServeNode::start(&a);
    let peer = seed.peer_arg();

    let b = Node::new();
    let node_b = ServeNode::start_with(&b, &["--cache-size", "6M"]);
    node_b.wait_log("control socket ready");
    let get = |sd: &str| {
        let out = b.path("out");
        let o = out.to_str().unwrap();
        b.ok(&["get", sd, "--peer", &peer, "--timeout", "10", "-o", o]);
    };
    get(&sd_cached);
    b.ok(&["pin", &sd_pin, "--peer", &peer, "--timeout", "10"]);
    let s = status_json(&b);
    assert_eq!(s["streams_pinned"], 1, "{s}");
    assert_eq!(s["streams_cached"], 1, "{s}");
    // 6 MB through a 6 MiB cache holding 3 MB: the cached stream goes, the pinned one stays.
    get(&sd_big);
    let rows = ls_json(&b);
    let pinned = &rows[&sd_pin];
    assert_eq!(state(pinned), "pinned");
    assert_eq!(pinned["present"], pinned["total"], "{rows:?}");
    assert!(
        rows.get(&sd_cached)
            .is_none_or(|r| r["present"] != r["total"]),
        "the cached stream was evicted: {rows:?}"
    );
    assert!(peer_serves(&sd_pin, &node_b.peer_arg()));

    // Dropped from the cache: the node serves it no more.
    assert!(rows.contains_key(&sd_big));
    let out = b.ok(&["cache", "drop", &sd_big]);
    assert!(out.starts_with(&format!("dropped {sd_big}")), "{out}");
    assert!(!ls_json(&b).contains_key(&sd_big));
    assert!(!peer_serves(&sd_big, &node_b.peer_arg()));

    // Unpinned: cached, then dropped with --all.
    b.ok(&["unpin", &sd_pin]);
    assert_eq!(status_json(&b)["streams_pinned"], 0);
    b.ok(&["cache", "drop", "--all"]);
    assert!(ls_json(&b).is_empty());
    assert!(!peer_serves(&sd_pin, &node_b.peer_arg()));

    // Unpublished on the running seed: no longer listed nor served.
    assert_eq!(status_json(&a)["streams_published"], 3);
    a.ok(&["unpublish", &sd_cached]);
    assert_eq!(status_json(&a)["streams_published"], 2);
    assert!(!ls_json(&a).contains_key(&sd_cached));
    assert!(!peer_serves(&sd_cached, &peer));
    assert!(peer_serves(&sd_pin, &peer));
}

/// Polls `ls --json` until `pred` holds (60 s at most).
fn wait_rows(
    node: &Node,
    what: &str,
    pred: impl Fn(&std::collections::HashMap<String, Value>) -> bool,
) -> std::collections::HashMap<String, Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rows = ls_json(node);
        if pred(&rows) {
            return rows;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {rows:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_unpublished_shared_file_stays_unpublished_until_it_changes() {
    let node = Node::new();
    let share = node.data_dir().join("share");
    let serve = ServeNode::start_with(&node, &[]);
    serve.wait_log("share folder scanned");
    let (one, two) = (share.join("one.bin"), share.join("two.bin"));
    std::fs::write(&one, pseudo_random(300_000, 6)).unwrap();
    std::fs::write(&two, pseudo_random(200_000, 7)).unwrap();
    let rows = wait_rows(&node, "both files", |r| r.len() == 2);
    let sd_of = |name: &str| {
        rows.values()
            .find(|r| r["name"] == name)
            .map(|r| r["sd_hash"].as_str().unwrap().to_string())
            .unwrap()
    };
    let (sd_one, sd_two) = (sd_of("one.bin"), sd_of("two.bin"));
    // By path through the node; the file stays.
    let out = node.ok(&["unpublish", one.to_str().unwrap()]);
    assert!(out.contains(&sd_one), "{out}");
    assert!(one.exists());
    assert!(!peer_serves(&sd_one, &serve.peer_arg()));
    let (status, log) = serve.stop(libc::SIGTERM);
    assert!(status.success(), "{log}");
    // By sd hash without a node.
    node.ok(&["unpublish", &sd_two]);
    assert!(two.exists());
    // A restart rescans: neither file comes back while unchanged.
    let serve = ServeNode::start_with(&node, &[]);
    serve.wait_log("share folder scanned");
    std::thread::sleep(Duration::from_secs(3));
    assert!(ls_json(&node).is_empty(), "{:?}", ls_json(&node));
    assert_eq!(status_json(&node)["shared_files"], 0);
    // Changed, it is new content: published again, under a new sd hash.
    std::fs::write(&one, pseudo_random(300_001, 8)).unwrap();
    let rows = wait_rows(&node, "the changed file", |r| r.len() == 1);
    assert!(!rows.contains_key(&sd_one));
    let (status, log) = serve.stop(libc::SIGTERM);
    assert!(status.success(), "{log}");
}

#[test]
fn status_and_ls_json_have_the_documented_fields() {
    let (a, sd, _) = publisher(1_000_000, 9, "doc.bin");
    let serve = ServeNode::start_with(&a, &["--max-upload-rate", "500K"]);
    serve.wait_log("control socket ready");
    let s = status_json(&a);
    for key in [
        "pid",
        "data_dir",
        "uptime_secs",
        "mountpoint",
        "share_dir",
        "shared_files",
        "listen",
        "dht_listen",
        "dht_contacts",
        "peers_known",
        "connections_served",
        "blobs_served",
        "bytes_served",
        "cache_used",
        "cache_cap",
        "pinned_bytes",
        "streams_published",
        "streams_pinned",
        "streams_cached",
        "max_upload_rate",
        "max_download_rate",
        "recent_errors",
    ] {
        assert!(s.get(key).is_some(), "no {key} in {s}");
    }
    assert_eq!(s["max_upload_rate"], 500 * 1024);
    assert_eq!(s["listen"], serve.peer_arg());
    let row = &ls_json(&a)[&sd];
    for key in [
        "sd_hash",
        "name",
        "size",
        "size_exact",
        "present",
        "total",
        "published",
        "pinned",
        "stored_bytes",
    ] {
        assert!(row.get(key).is_some(), "no {key} in {row}");
    }
    let one = a.ok(&["status", &sd, "--json"]);
    let one: Value = serde_json::from_str(&one).unwrap();
    assert_eq!(one["stream"]["name"], "doc.bin");
    // --watch redraws until interrupted.
    let mut watch = a
        .cmd(&["status", "--watch", "--interval", "1"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = watch.stdout.take().unwrap();
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.matches("pid: ").count() < 2 && Instant::now() < deadline {
        let mut buf = [0u8; 4096];
        let n = std::io::Read::read(&mut stdout, &mut buf).unwrap();
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let _ = watch.kill();
    let _ = watch.wait();
    assert!(seen.matches("\x1b[H\x1b[2Jpid: ").count() >= 2, "{seen:?}");
}

/// The names in the mount's root.
fn listed(mountpoint: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(mountpoint)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn a_pinned_stream_appears_in_the_mount_and_an_unpublished_one_leaves_it() {
    let (a, sd_a, data_a) = publisher(2_500_000, 10, "pinned.bin");
    let seed = ServeNode::start(&a);
    let node = Node::new();
    let m = common::mount::MountNode::start(&node, &[]);
    let mine = node.path("mine.bin");
    std::fs::write(&mine, pseudo_random(1_000_000, 11)).unwrap();
    let sd_mine = node.publish(&mine);
    assert_eq!(listed(&m.mountpoint), vec![sd_mine.clone()]);
    node.ok(&["pin", &sd_a, "--peer", &seed.peer_arg(), "--timeout", "10"]);
    let mut both = vec![sd_a.clone(), sd_mine.clone()];
    both.sort();
    assert_eq!(listed(&m.mountpoint), both);
    common::mount::assert_file_is(&m.file(&sd_a, "pinned.bin"), &data_a);
    node.ok(&["unpublish", &sd_mine]);
    assert_eq!(listed(&m.mountpoint), vec![sd_a.clone()]);
    assert!(mine.exists(), "the user's file stays");
    let stopped = m.stop(libc::SIGTERM);
    assert!(stopped.status.success(), "{}", stopped.log);
}
