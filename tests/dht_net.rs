//! The DHT among real `lbrymount` processes on 127.0.0.1: the network forms
//! by itself, survives the death of its first node, heals after losing every
//! contact, stays bounded against a hostile node, and the commands given
//! explicit addresses contact nothing else.

mod common;

use common::cli::{pseudo_random, publisher, Node, ServeNode};
use common::mount::{assert_file_is, MountNode};
use common::netns::in_private_netns;
use lbrymount::dht::{NodeConfig, DEFAULT_BOOTSTRAP};
use lbrymount::hash::NodeId;
use lbrymount::wire::dht::{
    self as wire, Body, CompactPeer, Datagram, FindValueResult, Request, Response,
};
use std::fs;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The longest any poll below waits for the network to get there.
const DEADLINE: Duration = Duration::from_secs(30);

/// Polls `done` every 50 ms until it holds; panics with `what` after `DEADLINE`.
fn until(what: &str, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + DEADLINE;
    while !done() {
        assert!(Instant::now() < end, "not within {DEADLINE:?}: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `serve` with a DHT node on loopback, joined through `bootstrap` (none:
/// the first node); returns it with its UDP address.
fn dht_serve(node: &Node, udp: &str, bootstrap: Option<&str>) -> (ServeNode, String) {
    let mut args = vec!["--dht-listen", udp];
    if let Some(b) = bootstrap {
        args.extend(["--bootstrap", b]);
    }
    let s = ServeNode::start_with(node, &args);
    let addr = s.wait_log("dht node ready at ");
    (s, addr)
}

/// The `dht contacts: N` figure of a running node's `status`.
fn contacts(node: &Node) -> usize {
    let out = node.ok(&["status"]);
    out.lines()
        .find_map(|l| l.strip_prefix("dht contacts: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no `dht contacts:` in status:\n{out}"))
}

/// `get SD --bootstrap VIA`, by a fresh client; its output on success.
fn get_via(via: &str, sd: &str) -> Option<Vec<u8>> {
    let client = Node::new();
    let out = client.path("out");
    let args = [
        "get",
        sd,
        "--bootstrap",
        via,
        "--timeout",
        "20",
        "-o",
        out.to_str().unwrap(),
    ];
    let run = client.cmd(&args).output().expect("run lbrymount");
    run.status.success().then(|| fs::read(&out).unwrap())
}

#[test]
fn dht_ping_resolves_and_contacts_no_other_host() {
    let (stdout, stderr, ok) = in_private_netns(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let local: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let node = rt
            .block_on(lbrymount::dht::Node::bind(local, NodeConfig::default()))
            .expect("bind a DHT node");
        let target = node.local_addr().to_string();
        let user = Node::new();
        // The node answers on the runtime while the command runs.
        let out = rt.block_on(async {
            let mut cmd = tokio::process::Command::from(user.cmd(&["dht", "ping", &target]));
            cmd.output().await.expect("run lbrymount")
        });
        drop(node);
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            out.status.success(),
        )
    });
    assert!(ok, "the ping succeeds; stderr:\n{stderr}");
    assert!(stdout.trim_end().ends_with("ms"), "{stdout}");
    for spec in DEFAULT_BOOTSTRAP {
        let host = spec.split(':').next().unwrap();
        assert!(
            !stderr.contains(host),
            "`dht ping ADDR` tried the public bootstrap host {host}:\n{stderr}"
        );
    }
}

#[test]
fn the_network_outlives_its_first_node() {
    let n1 = Node::new();
    let (s1, udp1) = dht_serve(&n1, "127.0.0.1:0", None);
    let n2 = Node::new();
    let (s2, udp2) = dht_serve(&n2, "127.0.0.1:0", Some(&udp1));
    let (n3, sd, data) = publisher(100_000, 31, "three.bin");
    let (s3, _) = dht_serve(&n3, "127.0.0.1:0", Some(&udp1));
    // The first node learns who contacted it, and the others meet through it.
    for (name, n) in [("n1", &n1), ("n2", &n2), ("n3", &n3)] {
        until(&format!("{name} knows the two others"), || contacts(n) >= 2);
    }
    s3.wait_log("announced");
    let (_, log1) = s1.stop(libc::SIGKILL);
    assert_eq!(
        get_via(&udp2, &sd).as_deref(),
        Some(&data[..]),
        "n3's stream is found through n2 after n1 died; n1 logged:\n{log1}"
    );
    drop((s2, s3));
}

#[test]
fn five_nodes_keep_finding_each_others_streams_after_the_bootstrap_node_dies() {
    let mut nodes = Vec::new();
    for i in 0..5u64 {
        let (node, sd, data) = publisher(50_000 + i as usize, 40 + i, &format!("n{i}.bin"));
        let boot = nodes
            .first()
            .map(|(_, _, _, _, udp): &(_, _, _, ServeNode, String)| udp.clone());
        let (serve, udp) = dht_serve(&node, "127.0.0.1:0", boot.as_deref());
        nodes.push((node, sd, data, serve, udp));
    }
    for (i, (node, ..)) in nodes.iter().enumerate() {
        until(&format!("n{i} knows three others"), || contacts(node) >= 3);
    }
    for (_, _, _, serve, _) in &nodes {
        serve.wait_log("announced");
    }
    let (_, _, _, first, _) = nodes.remove(0);
    let _ = first.stop(libc::SIGKILL);
    // Every survivor finds the next survivor's stream, and only through the
    // survivors' own tables.
    for i in 0..nodes.len() {
        let via = &nodes[i].4;
        let (_, sd, data, ..) = &nodes[(i + 1) % nodes.len()];
        assert_eq!(
            get_via(via, sd).as_deref(),
            Some(&data[..]),
            "stream of survivor {} through survivor {i}",
            (i + 1) % nodes.len()
        );
    }
}

#[test]
fn a_node_that_lost_its_only_contact_finds_content_again_once_it_is_back() {
    let a_node = Node::new();
    let mut sds = Vec::new();
    for (i, name) in ["one.bin", "two.bin"].iter().enumerate() {
        let data = pseudo_random(60_000 + i, 50 + i as u64);
        let src = a_node.path(name);
        fs::write(&src, &data).unwrap();
        sds.push((a_node.publish(&src), *name, data));
    }
    let (a, a_udp) = dht_serve(&a_node, "127.0.0.1:0", None);
    a.wait_log("announced");
    // L: a mount whose only contact is A.
    let l_node = Node::new();
    let l = MountNode::start(
        &l_node,
        &["--dht-listen", "127.0.0.1:0", "--bootstrap", &a_udp],
    );
    let (sd1, name1, data1) = &sds[0];
    assert_file_is(&l.file(sd1, name1), data1);
    // A dies: L's lookups time out, its only contact fails.
    let _ = a.stop(libc::SIGKILL);
    let (sd2, name2, data2) = &sds[1];
    assert!(
        fs::metadata(l.file(sd2, name2)).is_err(),
        "nobody serves it now"
    );
    // A comes back at the same address (a fresh TCP port).
    let (a, _) = dht_serve(&a_node, &a_udp, None);
    a.wait_log("announced");
    until("L finds A's second stream again", || {
        fs::metadata(l.file(sd2, name2)).is_ok()
    });
    assert_file_is(&l.file(sd2, name2), data2);
    drop(a);
}

/// A DHT node on 127.0.0.1 that speaks the real wire format and answers
/// every findValue with K fresh peers and a claim of endless pages.
struct EndlessPages {
    addr: SocketAddr,
    find_values: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl EndlessPages {
    fn start() -> Self {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let addr = sock.local_addr().unwrap();
        let (find_values, stop) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let (count, done) = (find_values.clone(), stop.clone());
        std::thread::spawn(move || {
            let me = NodeId::digest(b"endless pages");
            let mut buf = [0u8; 2048];
            let mut fresh = 0u32;
            while !done.load(Ordering::SeqCst) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let Ok(raw) = wire::decode(&buf[..n]) else {
                    continue;
                };
                let rpc_id = raw.rpc_id;
                let Ok(Datagram {
                    body: Body::Request(req),
                    ..
                }) = raw.typed(None)
                else {
                    continue;
                };
                let response = match req {
                    Request::Ping => Response::Pong,
                    Request::Store(_) => Response::Ok,
                    Request::FindNode { .. } => Response::Contacts(Vec::new()),
                    Request::FindValue { key, page } => {
                        count.fetch_add(1, Ordering::SeqCst);
                        let peers = (0..8)
                            .map(|_| {
                                fresh += 1;
                                CompactPeer {
                                    ip: [127, 0, 0, 1].into(),
                                    tcp_port: 1024 + (fresh % 60_000) as u16,
                                    node_id: NodeId::digest(&fresh.to_be_bytes()),
                                }
                            })
                            .collect();
                        Response::FindValue(FindValueResult {
                            key,
                            token: [7; 48],
                            contacts: (page == 0).then(Vec::new),
                            peers,
                            pages: u32::MAX,
                        })
                    }
                };
                let d = Datagram {
                    rpc_id,
                    node_id: me,
                    body: Body::Response(response),
                };
                if let Ok(bytes) = wire::encode(&d) {
                    let _ = sock.send_to(&bytes, from);
                }
            }
        });
        Self {
            addr,
            find_values,
            stop,
        }
    }
}

impl Drop for EndlessPages {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

#[test]
fn dht_announce_ends_against_a_node_with_endless_pages() {
    let hostile = EndlessPages::start();
    let user = Node::new();
    let via = hostile.addr.to_string();
    let key = "ab".repeat(48);
    let mut child = user
        .cmd(&[
            "dht",
            "--bootstrap",
            &via,
            "announce",
            &key,
            "--tcp-port",
            "5000",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // A hang guard, not a performance bound: today the command never ends.
    let end = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`dht announce` still running after {} pages",
                hostile.find_values.load(Ordering::SeqCst)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    assert!(status.success(), "{out}");
    assert!(out.starts_with("stored on 1 nodes"), "{out}");
    let pages = hostile.find_values.load(Ordering::SeqCst);
    // The announce's lookup pages at most 16 times; a token refresh adds one.
    assert!(pages <= 32, "{pages} pages");
}

#[test]
fn serve_announces_every_stream_despite_a_node_with_endless_pages() {
    let hostile = EndlessPages::start();
    let (node, _, _) = publisher(10_000, 60, "a.bin");
    let src = node.path("b.bin");
    fs::write(&src, pseudo_random(20_000, 61)).unwrap();
    node.publish(&src);
    let via = hostile.addr.to_string();
    let (serve, _) = dht_serve(&node, "127.0.0.1:0", Some(&via));
    // Two sd blobs, two first blobs and the names' one keyword key (`bin`).
    // A first pass may start before the names' index has read the
    // descriptors (4 keys); the full pass that follows must carry all five.
    serve.wait_log("announced blobs=5");
    drop(serve);
}
