//! Blob sources beyond the DHT: lbry-sdk's fixed peers, asked when the
//! network gives no usable peer within 2 s, and HTTP blob sources as
//! Odysee's blob storage serves them. Real `lbrymount` processes, a real
//! FUSE mount, real sockets on loopback; the HTTP sources speak real HTTP/1.1.

mod common;

use common::cli::{publisher, Node, ServeNode, CHUNK};
use common::http::{Http, HttpSource};
use common::mount::{assert_file_is, MountNode};
use std::io::Read;
use std::time::{Duration, Instant};

/// lbry-sdk's `fixed_peer_delay`.
const FIXED_PEER_DELAY: Duration = Duration::from_secs(2);

#[test]
fn a_stream_only_a_fixed_peer_holds_is_read_through_the_mount() {
    let (a_node, sd, data) = publisher(3 * CHUNK + 11, 31, "clip.bin");
    // The seeder runs no DHT and no tracker: it announces nothing.
    let seeder = ServeNode::start(&a_node);
    // The mount's only network source is a tracker that never answers, so
    // its lookups run to their 8 s deadline: the fixed peer must not wait for that.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let tracker = silent.local_addr().unwrap().to_string();
    let b_node = Node::new();
    let fixed = seeder.peer_arg();
    let b = MountNode::start(&b_node, &["--tracker", &tracker, "--fixed-peer", &fixed]);

    let started = Instant::now();
    let mut file = std::fs::File::open(b.file(&sd, "clip.bin")).expect("open through the mount");
    let mut first = [0u8; 1];
    file.read_exact(&mut first).expect("first byte");
    let first_byte = started.elapsed();
    // The tracker lookup (8 s) has not ended: the fixed peer did not wait for it.
    let status = b_node.ok(&["status"]);
    let tracker_line = format!("tracker {tracker}: last success never\n");
    assert!(status.contains(&tracker_line), "{status}");
    let mut rest = Vec::new();
    file.read_to_end(&mut rest).expect("the rest");
    let whole = started.elapsed();
    assert_eq!(first[0], data[0]);
    assert!(rest == data[1..], "the stream read back differs");
    eprintln!(
        "fixed-peer fallback: first byte after {} ms, all {} bytes after {} ms",
        first_byte.as_millis(),
        data.len(),
        whole.as_millis()
    );
    // The network sources had their 2 s before the fixed peer was asked.
    assert!(first_byte >= FIXED_PEER_DELAY, "{first_byte:?}");

    let status = b_node.ok(&["status"]);
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("fixed peer {fixed}: ")))
        .unwrap_or_else(|| panic!("no fixed peer line:\n{status}"));
    assert!(
        line.contains("last success ") && !line.contains("never"),
        "{line}"
    );
    assert!(!line.contains("last error"), "{line}");
}

#[test]
fn a_one_shot_get_with_no_network_asks_the_fixed_peer_at_once() {
    let (a_node, sd, data) = publisher(CHUNK + 3, 35, "one.bin");
    let seeder = ServeNode::start(&a_node);
    let b = Node::new();
    let out = b.path("out.bin");
    let out_arg = out.to_str().unwrap();
    let args = [
        "get",
        &sd,
        "--no-bootstrap",
        "--fixed-peer",
        &seeder.peer_arg(),
        "-o",
        out_arg,
    ];
    b.ok(&args);
    assert!(std::fs::read(&out).unwrap() == data);
}

#[test]
fn an_http_source_serves_a_stream_to_get_and_to_the_mount() {
    let (a_node, sd, data) = publisher(2 * CHUNK + 5, 32, "film.bin");
    let http = HttpSource::start(a_node.blobs(), Http::Good);
    let b = Node::new();
    let out = b.path("out.bin");
    let out_arg = out.to_str().unwrap();
    b.ok(&[
        "get",
        &sd,
        "--no-bootstrap",
        "--blob-http",
        &http.url,
        "-o",
        out_arg,
    ]);
    assert!(
        std::fs::read(&out).unwrap() == data,
        "get read back differs"
    );

    let c = Node::new();
    let m = MountNode::start(&c, &["--blob-http", &format!("{}/", http.url)]);
    assert_file_is(&m.file(&sd, "film.bin"), &data);
    let status = c.ok(&["status"]);
    let line = format!("HTTP source {}: last success ", http.url);
    assert!(status.contains(&line), "{status}");
}

#[test]
fn corrupt_http_answers_are_caught_with_an_error_naming_the_source() {
    let (a_node, sd, _) = publisher(1000, 33, "small.bin");
    let cases = [
        (Http::WrongBytes, "data does not match the blob hash"),
        (Http::CutShort, "connection closed after"),
        (Http::NotFound, "peer does not have the blob"),
        (Http::OverCap, "over the 2 MiB blob maximum"),
        (Http::Stalls, "timed out"),
    ];
    for (mode, why) in cases {
        let http = HttpSource::start(a_node.blobs(), mode);
        let b = Node::new();
        let out = b.path("out.bin");
        let args = [
            "get",
            &sd,
            "--no-bootstrap",
            "--blob-http",
            &http.url,
            "--timeout",
            "3",
            "-o",
            out.to_str().unwrap(),
        ];
        let err = b.fails(&args, 1);
        let named = err
            .lines()
            .any(|l| l.contains(&http.url) && l.contains(why));
        assert!(
            named,
            "{mode:?}: no line naming {} and {why:?}:\n{err}",
            http.url
        );
        assert!(!out.exists(), "{mode:?}: a file was written");
        assert!(http.requests() >= 1, "{mode:?}: the source was never asked");
    }
}

#[test]
fn a_read_succeeds_from_a_good_source_when_another_lies() {
    let (a_node, sd, data) = publisher(2 * CHUNK + 7, 34, "two.bin");
    let liar = HttpSource::start(a_node.blobs(), Http::WrongBytes);
    let good = HttpSource::start(a_node.blobs(), Http::Good);
    let sources = ["--blob-http", &liar.url, "--blob-http", &good.url];
    let b = Node::new();
    let out = b.path("out.bin");
    let mut args = vec!["get", &sd, "--no-bootstrap", "-o", out.to_str().unwrap()];
    args.extend(sources);
    b.ok(&args);
    assert!(
        std::fs::read(&out).unwrap() == data,
        "get read back differs"
    );
    assert!(liar.requests() >= 1, "the lying source was never asked");

    let c = Node::new();
    let m = MountNode::start(&c, &sources);
    assert_file_is(&m.file(&sd, "two.bin"), &data);
}
