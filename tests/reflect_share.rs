//! `--reflect`: a node reflects every stream its share folder publishes to
//! a reflector in the background, and keeps trying while the reflector is
//! down. Real processes on 127.0.0.1: the reflector is another node
//! started with `serve --reflector-listen`.

mod common;

use common::cli::{pseudo_random, Node, ServeNode};
use std::time::{Duration, Instant};

/// A `serve` node that is a reflector on `listen`; returns it and its address.
fn reflector(node: &Node, listen: &str) -> (ServeNode, String) {
    let serve = ServeNode::start_with(node, &["--reflector-listen", listen, "--no-share"]);
    let addr = serve.wait_log("reflector accepting uploads at ");
    (serve, addr)
}

/// A `serve` node with a share folder, reflecting to `reflector`.
fn sharer(node: &Node, reflector: &str) -> (ServeNode, std::path::PathBuf) {
    let share = node.path("share");
    std::fs::create_dir_all(&share).unwrap();
    let args = [
        "--share",
        share.to_str().unwrap(),
        "--reflect",
        "--reflector",
        reflector,
    ];
    (ServeNode::start_with(node, &args), share)
}

/// Polls `node`'s `ls` (60 s at most, a hang guard) until a line satisfies `ok`.
fn wait_ls(node: &Node, ok: impl Fn(&str) -> bool) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let out = node.cmd(&["ls"]).output().unwrap();
        let ls = String::from_utf8_lossy(&out.stdout).into_owned();
        if let Some(l) = ls.lines().find(|l| ok(l)) {
            return Some(l.to_string());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

/// The sd hash the share folder published for `name`.
fn published_sd(node: &Node, name: &str) -> String {
    let line = wait_ls(node, |l| l.ends_with(name)).expect("the file is published");
    line.split_whitespace().next().unwrap().to_string()
}

/// Waits until the reflector holds every blob of `sd` (`present/total` equal).
fn assert_reflected(reflector: &Node, sd: &str) {
    let complete = |l: &str| {
        l.starts_with(sd)
            && l.split_whitespace()
                .find_map(|w| w.split_once('/'))
                .is_some_and(|(a, b)| a == b && a != "0")
    };
    let ls = wait_ls(reflector, complete);
    assert!(
        ls.is_some(),
        "the reflector holds the whole stream {sd}: {:?}",
        reflector
            .cmd(&["ls"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    );
}

/// Fetches `sd` from `peer` alone into a third node and returns the bytes.
fn get_from(peer: &ServeNode, sd: &str) -> Vec<u8> {
    let reader = Node::new();
    let out = reader.path("got");
    let peer = peer.addr.to_string();
    reader.ok(&[
        "get",
        sd,
        "-o",
        out.to_str().unwrap(),
        "--peer",
        &peer,
        "--timeout",
        "20",
    ]);
    std::fs::read(out).unwrap()
}

#[test]
fn a_shared_file_is_reflected_and_served_by_the_reflector_once_the_publisher_stops() {
    let r = Node::new();
    let (refl, addr) = reflector(&r, "127.0.0.1:0");
    let a = Node::new();
    let (serve, share) = sharer(&a, &addr);
    let data = pseudo_random(5_000_000, 11);
    std::fs::write(share.join("talk.mp4"), &data).unwrap();
    let sd = published_sd(&a, "talk.mp4");
    assert_reflected(&r, &sd);
    let status = a.ok(&["status"]);
    assert!(
        status.contains(&format!(
            "reflect to {addr}: 1 streams reflected, 0 pending"
        )),
        "{status}"
    );
    let (_, log) = serve.stop(libc::SIGTERM);
    assert!(log.contains("reflected"), "{log}");
    assert_eq!(
        get_from(&refl, &sd),
        data,
        "the reflector serves the stream"
    );
}

#[test]
fn a_reflector_that_is_down_at_first_gets_the_stream_once_it_is_up() {
    // A port nothing listens on yet (the OS just handed it out).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let a = Node::new();
    let (_serve, share) = sharer(&a, &addr);
    std::fs::write(share.join("notes.txt"), pseudo_random(300_000, 12)).unwrap();
    let sd = published_sd(&a, "notes.txt");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        let s = a.ok(&["status"]);
        if s.contains("reflect last error") || Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        status.contains(&format!(
            "reflect to {addr}: 0 streams reflected, 1 pending"
        )),
        "the upload failed and waits for a retry: {status}"
    );
    assert!(status.contains("reflect last error"), "{status}");
    let r = Node::new();
    let (_refl, _) = reflector(&r, &addr);
    assert_reflected(&r, &sd);
}
