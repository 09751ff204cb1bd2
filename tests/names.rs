//! `lbrymount resolve` and `lbrymount search` against a hub written in the
//! tests (tests/common/hub.rs): real TCP on 127.0.0.1, ujson replies with
//! `\/` escapes and notifications between replies, real transactions and a
//! real secp256k1 channel signature. No test contacts a public hub: every
//! command gets `--hub 127.0.0.1:PORT`. Lies and bounds: tests/names_lies.rs.

mod common;

use common::cli::Node;
use common::hub::{refusing_addr, stream, StreamSpec, TestHub};
use common::names::{bar_hub, fails, ok, run, SD_ONE, SD_TWO};
use std::time::{Duration, Instant};

#[test]
fn resolve_prints_the_sd_hash_then_size_file_name_and_canonical_url() {
    let hub = bar_hub();
    let node = Node::new();
    let out = ok(
        &node,
        &["resolve", "--hub", &hub.arg(), "lbry://@bar/one", "solo"],
    );
    let w = hub.world();
    let one = w.stream("one");
    let expect_one = format!(
        "{SD_ONE}  123  one.bin  lbry://@bar#{}/one#{}",
        &w.channel_id[..1],
        &one.claim_id[..1]
    );
    let solo = w.stream("solo");
    let expect_solo = format!("{SD_TWO}  7  solo.txt  lbry://solo#{}", &solo.claim_id[..1]);
    assert_eq!(out, format!("{expect_one}\n{expect_solo}\n"));
    let calls = &hub.calls()[0];
    assert_eq!(calls[0], "server.version", "lbry-sdk's order: {calls:?}");
    assert!(calls.contains(&"blockchain.claimtrie.resolve".to_string()));
    assert!(calls.contains(&"blockchain.transaction.get_batch".to_string()));
}

#[test]
fn resolve_json_says_what_the_claim_says() {
    let hub = bar_hub();
    let node = Node::new();
    let out = ok(
        &node,
        &["resolve", "--json", "--hub", &hub.arg(), "@bar/one"],
    );
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let w = hub.world();
    assert_eq!(v["url"], "lbry://@bar/one");
    assert_eq!(v["claim_id"], w.stream("one").claim_id);
    assert_eq!(v["title"], "Title of one");
    assert_eq!(v["channel"]["name"], "@bar");
    assert_eq!(v["channel"]["claim_id"], w.channel_id);
    assert_eq!(v["kind"]["type"], "stream");
    assert_eq!(v["kind"]["sd_hash"], SD_ONE);
    assert_eq!(v["kind"]["media_type"], "application/octet-stream");
    assert_eq!(v["kind"]["release_time"], 1_700_000_000);
    assert_eq!(v["kind"]["size"], 123);
}

#[test]
fn search_lists_stream_claims_sd_hash_first_and_a_channel_newest_first() {
    let hub = bar_hub();
    let node = Node::new();
    let out = ok(&node, &["search", "--hub", &hub.arg(), "one"]);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.starts_with(&format!("{SD_ONE}  123  one.bin  hub lbry://@bar#")),
        "{out}"
    );
    let out = ok(
        &node,
        &[
            "search",
            "--hub",
            &hub.arg(),
            "--channel",
            "@bar",
            "--limit",
            "10",
        ],
    );
    let names: Vec<&str> = out.lines().map(|l| l.split("  ").nth(2).unwrap()).collect();
    // Newest first; the forged claim is not the channel's; the claims
    // without an sd hash have no line.
    assert_eq!(names, vec!["two.bin", "one.bin"], "{out}");
    let err = fails(
        &node,
        &["search", "--hub", &hub.arg(), "--channel", "@nobody"],
    );
    assert!(err.contains("Could not find channel"), "{err}");
}

#[test]
fn a_name_leads_to_a_stream_another_node_published_and_serves() {
    let publisher = Node::new();
    let data = common::cli::pseudo_random(3 * common::cli::CHUNK + 17, 13);
    let file = publisher.path("talk.mp4");
    std::fs::write(&file, &data).unwrap();
    let sd = publisher.publish(&file);
    let server = common::cli::ServeNode::start(&publisher);
    let hub = TestHub::start(
        "@talks",
        vec![stream("talk", &sd, "talk.mp4", data.len() as u64)],
    );
    let reader = Node::new();
    let out = ok(
        &reader,
        &["resolve", "--hub", &hub.arg(), "lbry://@talks/talk"],
    );
    let fields: Vec<&str> = out.trim_end().split("  ").collect();
    assert_eq!(
        fields[..3],
        [sd.as_str(), &data.len().to_string(), "talk.mp4"]
    );
    let dest = reader.path("got.mp4");
    let dest_arg = dest.to_str().unwrap();
    let peer = server.peer_arg();
    ok(
        &reader,
        &["get", fields[0], "-o", dest_arg, "--peer", &peer],
    );
    assert!(
        std::fs::read(&dest).unwrap() == data,
        "the named stream's bytes"
    );
}

#[test]
fn search_pages_through_the_hub_fifty_at_a_time() {
    let specs: Vec<StreamSpec> = (0..120)
        .map(|i| stream(&format!("s{i}"), SD_ONE, &format!("f{i}.bin"), i))
        .collect();
    let hub = TestHub::start("@many", specs);
    let node = Node::new();
    let out = ok(
        &node,
        &[
            "search",
            "--hub",
            &hub.arg(),
            "--channel",
            "@many",
            "--limit",
            "110",
        ],
    );
    let files: Vec<&str> = out.lines().map(|l| l.split("  ").nth(2).unwrap()).collect();
    let expect: Vec<String> = (10..120).rev().map(|i| format!("f{i}.bin")).collect();
    assert_eq!(files, expect, "newest first, 110 of 120 over three pages");
    let searches = hub.calls()[0]
        .iter()
        .filter(|m| *m == "blockchain.claimtrie.search")
        .count();
    assert_eq!(searches, 3);
}

#[test]
fn a_name_nobody_claims_exits_1_with_the_hubs_text() {
    let hub = bar_hub();
    let node = Node::new();
    let err = fails(&node, &["resolve", "--hub", &hub.arg(), "lbry://nothing"]);
    assert!(
        err.contains("Could not find claim at \"lbry://nothing\"."),
        "{err}"
    );
    let err = fails(&node, &["resolve", "--hub", &hub.arg(), "lbry://@nope/one"]);
    assert!(
        err.contains("Could not find channel in \"lbry://@nope/one\"."),
        "{err}"
    );
}

#[test]
fn invalid_urls_and_no_hub_are_clear_errors() {
    let hub = bar_hub();
    let node = Node::new();
    let err = fails(&node, &["resolve", "--hub", &hub.arg(), "lbry://a b"]);
    assert!(err.contains("invalid LBRY URL"), "{err}");
    assert!(hub.calls().is_empty(), "an invalid URL asks no hub");
    let err = fails(&node, &["resolve", "--no-hub", "--hub", &hub.arg(), "one"]);
    assert!(err.contains("--no-hub"), "{err}");
}

#[test]
fn the_next_hub_answers_when_the_first_refuses() {
    let hub = bar_hub();
    let node = Node::new();
    let dead = refusing_addr();
    let out = ok(
        &node,
        &["resolve", "--hub", &dead, "--hub", &hub.arg(), "@bar/one"],
    );
    assert!(out.starts_with(SD_ONE), "{out}");
    let err = fails(&Node::new(), &["resolve", "--hub", &dead, "@bar/one"]);
    assert!(
        err.contains(&dead) && err.contains("refused"),
        "says which hub failed and why: {err}"
    );
}

#[test]
fn claims_without_an_sd_hash_are_not_streamable_and_torrents_say_so() {
    let hub = bar_hub();
    let node = Node::new();
    let err = fails(&node, &["resolve", "--hub", &hub.arg(), "bare"]);
    assert!(
        err.contains("not streamable") && err.contains("no sd hash"),
        "{err}"
    );
    let err = fails(&node, &["resolve", "--hub", &hub.arg(), "torrent"]);
    assert!(
        err.contains("BitTorrent") && err.contains(&"ab".repeat(20)),
        "{err}"
    );
    let out = ok(
        &node,
        &["resolve", "--json", "--hub", &hub.arg(), "torrent"],
    );
    assert!(out.contains(&"ab".repeat(20)), "{out}");
}

#[test]
fn a_name_resolves_offline_from_the_last_answer() {
    let mut hub = bar_hub();
    let node = Node::new();
    let first = ok(&node, &["resolve", "--hub", &hub.arg(), "@bar/one"]);
    hub.stop();
    let out = run(&node, &["resolve", "--hub", &hub.arg(), "@bar/one"]);
    common::cli::assert_success(&out, &["resolve", "offline"]);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), first);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no hub answered") && err.contains("saved 0 min ago"),
        "says how old: {err}"
    );
    let err = fails(&node, &["resolve", "--hub", &hub.arg(), "solo"]);
    assert!(err.contains("no hub answered"), "a name never seen: {err}");
}

#[test]
fn a_channel_lists_offline_what_was_last_seen() {
    let mut hub = bar_hub();
    let node = Node::new();
    let args = ["search", "--hub", &hub.arg(), "--channel", "@bar"];
    let first = ok(&node, &args);
    assert_eq!(first.lines().count(), 2, "{first}");
    hub.stop();
    assert_eq!(ok(&node, &args), first);
}

#[test]
fn plain_json_replies_without_notifications_work_too() {
    let hub = bar_hub();
    hub.set(|k| k.notify = false);
    let node = Node::new();
    assert!(ok(&node, &["resolve", "--hub", &hub.arg(), "@bar/one"]).starts_with(SD_ONE));
}

/// Figures for the closing note: `cargo test --release --test names bench -- --ignored --nocapture`.
#[test]
#[ignore]
fn bench_resolve_latency_and_a_1000_claim_channel() {
    use lbrymount::hub::{HubConfig, Resolver};
    let specs: Vec<StreamSpec> = (0..1000)
        .map(|i| stream(&format!("s{i}"), SD_ONE, &format!("f{i}.bin"), i))
        .collect();
    let hub = TestHub::start("@big", specs);
    hub.set(|k| k.notify = false);
    let mut cfg = HubConfig::new(vec![hub.arg()], None);
    cfg.cache_ttl = Duration::ZERO;
    let resolver = Resolver::new(cfg);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        resolver.resolve("@big/s0").await.unwrap();
        let mut times = Vec::new();
        for i in 0..100 {
            let t = Instant::now();
            resolver.resolve(&format!("@big/s{i}")).await.unwrap();
            times.push(t.elapsed());
        }
        times.sort();
        println!("resolve latency, median of 100: {:?}", times[50]);
        let t = Instant::now();
        let mut seen = 0;
        loop {
            let page = resolver.channel_streams("@big", seen, 50).await.unwrap();
            seen += page.items.len() as u32;
            if page.items.is_empty() || seen >= page.total {
                break;
            }
        }
        assert_eq!(seen, 1000);
        println!("1000-claim channel listed in {:?}", t.elapsed());
    });
    // End to end: a new process, connection and version handshake each time.
    let node = Node::new();
    let mut times = Vec::new();
    for i in 0..100 {
        let t = Instant::now();
        let url = format!("@big/s{i}");
        let out = node.cmd(&["resolve", "--hub", &hub.arg(), &url]).output();
        times.push(t.elapsed());
        assert!(out.unwrap().status.success());
    }
    times.sort();
    println!(
        "`lbrymount resolve` command, median of 100: {:?}",
        times[50]
    );
}
