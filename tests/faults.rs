//! Serving stays fair and errors stay honest: whole nodes (real processes,
//! real FUSE mounts, real sockets on loopback) against clients and peers that
//! misbehave on purpose, each speaking the real blob-exchange protocol.

mod common;

use common::cli::{pseudo_random, publisher, Node, ServeNode, CHUNK};
use common::fakepeer::{FakePeer, Mode};
use common::mount::{assert_file_is, MountNode, Unmount};
use lbrymount::hash::NodeId;
use lbrymount::hash::{BlobHash, SdHash};
use lbrymount::sd::StreamDescriptor;
use lbrymount::wire::dht::{self as wire, Body, Datagram, FindValueResult, Request, Response};
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

/// The descriptor of stream `sd` as `node` stores it.
fn descriptor(node: &Node, sd: &str) -> StreamDescriptor {
    let bytes = fs::read(node.blob_dir().join(sd)).unwrap();
    StreamDescriptor::parse(&bytes).unwrap()
}

/// Copies only the sd blob of `sd` from `from` to `to`: `to` knows the
/// stream but holds none of its data.
fn copy_sd_blob(from: &Node, to: &Node, sd: &str) {
    fs::create_dir_all(to.blob_dir()).unwrap();
    fs::copy(from.blob_dir().join(sd), to.blob_dir().join(sd)).unwrap();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A connection to `server` from 127.0.0.2 with a tiny receive buffer, so
/// a blob sent to it and never read stays stuck in the server's send path.
async fn connect_from_other_address(server: std::net::SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    socket
        .connect(server)
        .await
        .expect("connect from 127.0.0.2")
}

/// 150 connections that never send anything, then 150 that ask for `blob`
/// and never read the answer, all from 127.0.0.2. Returns once the server
/// has answered or closed every asking one (so it has accepted them all).
async fn flood(server: std::net::SocketAddr, blob: BlobHash) -> Vec<TcpStream> {
    let mut conns = Vec::new();
    for _ in 0..150 {
        conns.push(connect_from_other_address(server).await);
    }
    let request = format!(
        r#"{{"requested_blobs": ["{blob}"], "lbrycrd_address": true, "blob_data_payment_rate": 0.0, "requested_blob": "{blob}"}}"#
    );
    for _ in 0..150 {
        let mut s = connect_from_other_address(server).await;
        // A connection closed on accept may refuse the write; that is an answer too.
        let _ = s.write_all(request.as_bytes()).await;
        conns.push(s);
    }
    for s in &conns[150..] {
        tokio::time::timeout(Duration::from_secs(30), s.readable())
            .await
            .expect("the server answers or closes every asking connection")
            .unwrap();
    }
    conns
}

#[test]
fn a_flood_of_connections_from_one_address_does_not_shut_out_a_real_get() {
    let (a_node, sd, data) = publisher(3 * CHUNK + 5, 21, "film.bin");
    let a = ServeNode::start(&a_node);
    let big = descriptor(&a_node, &sd).blobs()[0].hash;
    let rt = runtime();
    let flood = rt.block_on(flood(a.addr, big));

    // A real `get` from 127.0.0.1 while the flood holds its connections.
    let b = Node::new();
    let out = b.path("out.bin");
    let peer = a.peer_arg();
    let args = ["get", &sd, "--peer", &peer, "--timeout", "20", "-o"];
    let mut args = args.to_vec();
    args.push(out.to_str().unwrap());
    b.ok(&args);
    assert!(fs::read(&out).unwrap() == data, "the file arrived intact");
    drop(flood);
}

/// Writes a descriptor of stream `sd` into `node`'s store that says blob 0
/// is 16 bytes shorter than it is; returns the new (lying) sd hash.
fn lying_descriptor(node: &Node, sd: &str, name: &str) -> String {
    let honest = descriptor(node, sd);
    let mut blobs = honest.blobs().to_vec();
    blobs[0].length -= 16;
    let lie = StreamDescriptor::new(name, honest.key().clone(), blobs, honest.terminator_iv());
    let bytes = lie.to_bytes();
    let hash = SdHash::digest(&bytes).to_string();
    fs::write(node.blob_dir().join(&hash), bytes).unwrap();
    hash
}

#[test]
fn a_descriptor_that_lies_about_a_length_does_not_get_the_honest_peer_banned() {
    let (a_node, honest_sd, honest_data) = publisher(2 * CHUNK + 9, 22, "honest.bin");
    let liar_file = a_node.path("liar.bin");
    fs::write(&liar_file, pseudo_random(CHUNK + 100, 23)).unwrap();
    let liar_base = a_node.publish(&liar_file);
    let liar_sd = lying_descriptor(&a_node, &liar_base, "liar.bin");
    let a = ServeNode::start(&a_node);

    let b_node = Node::new();
    let b = MountNode::start(&b_node, &["--peer", &a.peer_arg(), "--read-timeout", "20"]);
    let err = fs::read(b.file(&liar_sd, "liar.bin")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EIO), "{err}");
    b.proc().wait_log(" failed: ");
    let log = b.proc().log();
    assert!(
        log.contains("descriptor"),
        "the error blames the descriptor: {log}"
    );
    // The peer sent the right bytes: its other streams still read, at once.
    assert_file_is(&b.file(&honest_sd, "honest.bin"), &honest_data);
}

/// `cat PATH`: (succeeded, stderr, how long it took).
fn cat(path: &Path) -> (bool, String, Duration) {
    let started = Instant::now();
    let out = std::process::Command::new("cat")
        .arg(path)
        .stdout(std::process::Stdio::null())
        .output()
        .expect("run cat");
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.success(), stderr, took)
}

#[test]
fn a_failed_read_fails_the_kernels_retry_at_once() {
    let (a_node, sd, _) = publisher(3 * CHUNK, 24, "slow.bin");
    // The only peer takes every request and never answers.
    let rt = runtime();
    let staller = rt.block_on(FakePeer::start(Mode::Stall, a_node.blobs()));
    // B holds the descriptor and the last blob (so the size is known), not the start.
    let b_node = Node::new();
    copy_sd_blob(&a_node, &b_node, &sd);
    let last = descriptor(&a_node, &sd)
        .blobs()
        .last()
        .unwrap()
        .hash
        .to_string();
    fs::copy(a_node.blob_dir().join(&last), b_node.blob_dir().join(&last)).unwrap();
    let n = 2;
    let b = MountNode::start(
        &b_node,
        &[
            "--peer",
            &staller.addr().to_string(),
            "--read-timeout",
            &n.to_string(),
        ],
    );
    let (ok, stderr, took) = cat(&b.file(&sd, "slow.bin"));
    assert!(!ok, "cat fails");
    assert!(stderr.contains("Input/output error"), "{stderr}");
    // The kernel retries a failed read; the retry must not wait N again.
    // A correctness bound, not a speed check: 2N is what a second wait takes.
    let bound = Duration::from_secs_f64(1.6 * n as f64);
    assert!(took < bound, "cat took {took:?}, more than {bound:?}");
}

#[test]
fn a_peer_that_cuts_off_its_first_answer_is_asked_again() {
    let (a_node, sd, data) = publisher(2 * CHUNK + 77, 25, "cut.bin");
    let rt = runtime();
    let flaky = rt.block_on(FakePeer::start(Mode::TruncateFirst, a_node.blobs()));
    let b_node = Node::new();
    let b = MountNode::start(
        &b_node,
        &["--peer", &flaky.addr().to_string(), "--read-timeout", "20"],
    );
    assert_file_is(&b.file(&sd, "cut.bin"), &data);
    // sd blob and three data blobs, each cut off once and asked again.
    assert!(flaky.requests() >= 8, "asked {} times", flaky.requests());
}

/// `lbrymount status` of a running node.
fn status(node: &Node) -> String {
    node.ok(&["status"])
}

#[test]
fn a_full_disk_is_named_as_the_cause() {
    let (a_node, sd, data) = publisher(3 * CHUNK + 1, 26, "big.bin");
    let a = ServeNode::start(&a_node);
    // B's data dir is a 3 MiB tmpfs: the second data blob cannot be stored.
    let b_node = Node::new();
    let dir = b_node.data_dir();
    fs::create_dir_all(&dir).unwrap();
    let tmpfs = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=3m", "tmpfs"])
        .arg(&dir)
        .status()
        .unwrap();
    assert!(tmpfs.success(), "mount a tmpfs (tests run as root)");
    let _tmpfs = Unmount(dir.clone());
    let b = MountNode::start_at(
        &b_node,
        &b_node.path("mnt"),
        &["--peer", &a.peer_arg(), "--read-timeout", "20"],
    );
    // Reads may still succeed (a blob is handed over before it is stored);
    // what must not happen is a store failure without its cause.
    let _ = fs::read(b.file(&sd, "big.bin")).map(|got| assert!(got == data));
    b.proc().wait_log("No space left on device");
    let s = status(&b_node);
    for line in s.lines().filter(|l| l.contains("blob store failed")) {
        assert!(line.contains("No space left on device"), "{s}");
    }
    let log = b.proc().log();
    for line in log.lines().filter(|l| l.contains("not stored")) {
        assert!(line.contains("No space left on device"), "{log}");
    }
    drop(b);
}

/// A DHT node on 127.0.0.1 speaking the real wire format, which answers
/// until told to fall silent, and counts what it answered after that.
struct FallsSilent {
    addr: std::net::SocketAddr,
    silent: Arc<AtomicBool>,
    answered_when_silent: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl FallsSilent {
    fn start() -> Self {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let addr = sock.local_addr().unwrap();
        let (silent, stop) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let answered_when_silent = Arc::new(AtomicUsize::new(0));
        let (quiet, done, late) = (silent.clone(), stop.clone(), answered_when_silent.clone());
        std::thread::spawn(move || {
            let me = NodeId::digest(b"falls silent");
            let mut buf = [0u8; 2048];
            while !done.load(Ordering::SeqCst) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                if quiet.load(Ordering::SeqCst) {
                    continue;
                }
                let Some(bytes) = answer(me, &buf[..n]) else {
                    continue;
                };
                let _ = sock.send_to(&bytes, from);
                if quiet.load(Ordering::SeqCst) {
                    late.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        Self {
            addr,
            silent,
            answered_when_silent,
            stop,
        }
    }
}

impl Drop for FallsSilent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// An honest answer (no contacts, no peers) to one request datagram.
fn answer(me: NodeId, datagram: &[u8]) -> Option<Vec<u8>> {
    let raw = wire::decode(datagram).ok()?;
    let rpc_id = raw.rpc_id;
    let Datagram {
        body: Body::Request(req),
        ..
    } = raw.typed(None).ok()?
    else {
        return None;
    };
    let response = match req {
        Request::Ping => Response::Pong,
        Request::Store(_) => Response::Ok,
        Request::FindNode { .. } => Response::Contacts(Vec::new()),
        Request::FindValue { key, .. } => Response::FindValue(FindValueResult {
            key,
            token: [7; 48],
            contacts: Some(Vec::new()),
            peers: Vec::new(),
            pages: 0,
        }),
    };
    let d = Datagram {
        rpc_id,
        node_id: me,
        body: Body::Response(response),
    };
    wire::encode(&d).ok()
}

#[test]
fn a_dht_that_does_not_answer_is_named_as_the_cause() {
    // C: the only DHT node B knows; it stops answering once B has joined.
    let c = FallsSilent::start();
    let c_dht = c.addr.to_string();
    let b_node = Node::new();
    let b = MountNode::start(
        &b_node,
        &[
            "--dht-listen",
            "127.0.0.1:0",
            "--bootstrap",
            &c_dht,
            "--read-timeout",
            "25",
        ],
    );
    b.proc().wait_log("joined the DHT");
    c.silent.store(true, Ordering::SeqCst);
    let unknown = "cd".repeat(48);
    let err = fs::metadata(b.mountpoint.join(&unknown)).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{err}");
    let s = status(&b_node);
    let line = s
        .lines()
        .find(|l| l.contains(&unknown))
        .unwrap_or_else(|| panic!("status names the failed lookup:\n{s}"));
    assert_eq!(c.answered_when_silent.load(Ordering::SeqCst), 0);
    assert!(
        line.contains("no DHT node answered"),
        "the cause is the DHT timing out, not a lack of peers: {line}\nB's log:\n{}",
        b.proc().log(),
    );

    // Without a DHT and without peers, the cause says exactly that.
    let d_node = Node::new();
    let d = MountNode::start(&d_node, &["--read-timeout", "5"]);
    let err = fs::metadata(d.mountpoint.join(&unknown)).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{err}");
    let s = status(&d_node);
    assert!(
        s.contains("no --peer given and no DHT"),
        "the cause names the missing peer sources:\n{s}"
    );
}

#[test]
fn get_says_when_the_dht_gave_it_nobody_to_ask() {
    // A bootstrap address that takes datagrams and never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let bootstrap = silent.local_addr().unwrap().to_string();
    let node = Node::new();
    let sd = "ef".repeat(48);
    let out = node.path("out");
    let stderr = node.fails(
        &[
            "get",
            &sd,
            "--bootstrap",
            &bootstrap,
            // Long enough for the join and one rejoin through the silent
            // node (5 s each), so the search ends before the fetch does.
            "--timeout",
            "20",
            "-o",
            out.to_str().unwrap(),
        ],
        1,
    );
    let error = stderr
        .lines()
        .find(|l| l.starts_with("lbrymount: error"))
        .unwrap_or_else(|| panic!("an error line:\n{stderr}"));
    assert!(
        error.contains("no peers known") && error.contains("no DHT node answered"),
        "the error says what the DHT search ran into: {error}"
    );
}
