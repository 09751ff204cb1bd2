//! Reflector upload between real processes on 127.0.0.1: `lbrymount
//! reflect` to a `serve --reflector-listen` node, and hostile uploaders
//! speaking lbry-sdk's reflector framing (docs/protocol.md §9).

mod common;

use common::cli::{publisher, Node, ServeNode};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

/// A `serve` node that is a reflector; returns it and its reflector address.
fn reflector(node: &Node, extra: &[&str]) -> (ServeNode, String) {
    let mut args = vec!["--reflector-listen", "127.0.0.1:0", "--no-share"];
    args.extend_from_slice(extra);
    let serve = ServeNode::start_with(node, &args);
    let addr = serve.wait_log("reflector accepting uploads at ");
    (serve, addr)
}

/// `reflect`'s count of blobs sent, from its `<sd>  N blobs sent …` line.
fn blobs_sent(out: &str) -> usize {
    let line = out.lines().next().expect("a result line");
    let rest = line.split_once("  ").expect("`<sd>  …`").1;
    rest.split(' ').next().unwrap().parse().expect("a count")
}

fn get_bytes(node: &Node, sd: &str) -> Vec<u8> {
    let out = node.path("got");
    node.ok(&["get", sd, "-o", out.to_str().unwrap(), "--no-bootstrap"]);
    std::fs::read(out).unwrap()
}

#[test]
fn reflect_transfers_a_stream_and_a_second_run_sends_nothing() {
    let (publ, sd, data) = publisher(5_000_000, 1, "video.mp4");
    let r = Node::new();
    let (serve, addr) = reflector(&r, &[]);
    let out = publ.ok(&["reflect", &sd, "--reflector", &addr]);
    assert_eq!(blobs_sent(&out), 4, "sd blob and 3 data blobs: {out}");
    assert_eq!(get_bytes(&r, &sd), data, "the reflector serves the stream");
    let again = publ.ok(&["reflect", &sd, "--reflector", &addr]);
    assert_eq!(blobs_sent(&again), 0, "nothing sent twice: {again}");
    assert!(
        again.contains("4 of the stream's 4 blobs were already there"),
        "{again}"
    );
    let (_, log) = serve.stop(libc::SIGTERM);
    assert!(log.contains("reflector needs 0 of 3 data blobs"), "{log}");
    assert!(
        log.contains("reflector upload ended: 0 blobs received"),
        "{log}"
    );
}

/// Forwards one connection to `upstream`, the uploader's bytes only up to
/// `limit`; then reports and stalls until told to cut both sides.
fn stalling_proxy(
    upstream: String,
    limit: usize,
) -> (
    SocketAddr,
    std::sync::mpsc::Receiver<()>,
    std::sync::mpsc::Sender<()>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (reached_tx, reached) = std::sync::mpsc::channel();
    let (cut, cut_rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let (mut client, _) = listener.accept().unwrap();
        let mut server = TcpStream::connect(upstream).unwrap();
        let (mut s_read, mut c_write) = (server.try_clone().unwrap(), client.try_clone().unwrap());
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut s_read, &mut c_write);
        });
        let mut buf = vec![0u8; 64 * 1024];
        let mut sent = 0;
        while sent < limit {
            let n = client
                .read(&mut buf[..(limit - sent).min(64 * 1024)])
                .unwrap();
            assert!(n > 0, "the uploader closed early");
            server.write_all(&buf[..n]).unwrap();
            sent += n;
        }
        reached_tx.send(()).unwrap();
        let _ = cut_rx.recv_timeout(Duration::from_secs(60));
        let _ = server.shutdown(std::net::Shutdown::Both);
        let _ = client.shutdown(std::net::Shutdown::Both);
    });
    (addr, reached, cut)
}

#[test]
fn an_interrupted_reflect_resumes_and_completes() {
    let (publ, sd, data) = publisher(6 * common::cli::CHUNK, 2, "big.bin");
    let total = 7; // sd blob, 6 data blobs
    let r = Node::new();
    let (serve, addr) = reflector(&r, &[]);
    let (proxy, reached, cut) = stalling_proxy(addr.clone(), 3 << 20);
    let mut client = publ
        .cmd(&["reflect", &sd, "--reflector", &proxy.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    reached
        .recv_timeout(Duration::from_secs(60))
        .expect("the upload reached 3 MiB");
    // SAFETY: kill(2) on the PID of a child we started and have not reaped.
    unsafe { libc::kill(client.id() as i32, libc::SIGKILL) };
    assert!(!client.wait().unwrap().success());
    cut.send(()).unwrap();
    let first: usize = serve
        .wait_log("reflector upload ended: ")
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        first >= 2 && first < total,
        "part of the stream arrived: {first}"
    );
    let out = publ.ok(&["reflect", &sd, "--reflector", &addr]);
    assert_eq!(
        blobs_sent(&out),
        total - first,
        "only the missing blobs: {out}"
    );
    let needs = serve.wait_log("reflector needs ");
    let missing = format!("{} of 6 data blobs", total - first);
    assert!(
        needs.starts_with(&missing),
        "only what is missing is needed: {needs}"
    );
    assert_eq!(get_bytes(&r, &sd), data);
}

/// Reads one JSON answer (lbry-sdk's server writes each in one piece).
fn answer(s: &mut TcpStream) -> serde_json::Value {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Ok(v) = serde_json::from_slice(&buf) {
            return v;
        }
        let n = s.read(&mut chunk).expect("an answer");
        assert!(
            n > 0,
            "closed before answering; got {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[test]
fn the_reflector_refuses_a_blob_whose_hash_does_not_match() {
    let (publ, sd, _) = publisher(3_000_000, 3, "clip.mp4");
    let blobs = publ.blobs();
    let r = Node::new();
    let (serve, addr) = reflector(&r, &[]);
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(br#"{"version": 1}"#).unwrap();
    assert_eq!(answer(&mut s), serde_json::json!({"version": 1}));
    let sd_bytes = &blobs[&sd.parse().unwrap()];
    let offer = format!(
        r#"{{"sd_blob_hash": "{sd}", "sd_blob_size": {}}}"#,
        sd_bytes.len()
    );
    s.write_all(offer.as_bytes()).unwrap();
    assert_eq!(answer(&mut s), serde_json::json!({"send_sd_blob": true}));
    s.write_all(sd_bytes).unwrap();
    assert_eq!(
        answer(&mut s),
        serde_json::json!({"received_sd_blob": true})
    );
    let (hash, bytes) = blobs
        .iter()
        .find(|(h, b)| h.to_hex() != sd && b.len() == 2_097_152)
        .expect("a full data blob");
    let offer = format!(r#"{{"blob_hash": "{hash}", "blob_size": {}}}"#, bytes.len());
    s.write_all(offer.as_bytes()).unwrap();
    assert_eq!(answer(&mut s), serde_json::json!({"send_blob": true}));
    let mut forged = bytes.clone();
    forged[1000] ^= 1;
    s.write_all(&forged).unwrap();
    assert_eq!(answer(&mut s), serde_json::json!({"received_blob": false}));
    let log = serve.wait_log("reflector refused the upload");
    assert!(log.contains("does not hash to its name"), "{log}");
    assert!(
        !r.blob_dir().join(hash.to_hex()).exists(),
        "the forged blob is not kept"
    );
    let mut rest = Vec::new();
    assert_eq!(
        s.read_to_end(&mut rest).unwrap(),
        0,
        "the connection is closed"
    );
}

#[test]
fn an_upload_over_the_quota_is_refused() {
    let (publ, sd, _) = publisher(3_000_000, 4, "large.bin");
    let r = Node::new();
    let (serve, addr) = reflector(&r, &["--reflector-max-size", "1M"]);
    let err = publ.fails(&["reflect", &sd, "--reflector", &addr], 1);
    assert!(err.contains("refused the stream"), "{err}");
    let log = serve.wait_log("reflector refused the upload");
    assert!(log.contains("over the reflector's quota"), "{log}");
    assert!(
        !r.blob_dir().join(&sd).exists(),
        "nothing of the stream is kept"
    );
}
