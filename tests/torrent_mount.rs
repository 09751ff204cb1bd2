//! Torrents in the mount: `<mnt>/<infohash>/` reads a multi-file torrent
//! that Debian's libtorrent seeds on 127.0.0.1, on demand, through a real
//! FUSE mount of the `lbrymount` binary.

mod common;

use common::btfake::{faulty_peer, Fault};
use common::cli::Node;
use common::libtorrent::{seed, seed_on, Seed, FILES};
use common::mount::{xattr, MountNode};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// libtorrent's piece size for the test torrent.
const PIECE: u64 = 65536;

fn mount(node: &Node, peers: &[String], extra: &[&str]) -> MountNode {
    let mut args: Vec<&str> = Vec::new();
    for p in peers {
        args.extend(["--bt-peer", p.as_str()]);
    }
    args.extend_from_slice(extra);
    MountNode::start(node, &args)
}

fn peer(seed: &Seed) -> String {
    format!("127.0.0.1:{}", seed.port)
}

fn album(m: &MountNode, seed: &Seed) -> PathBuf {
    m.mountpoint.join(&seed.info_hash).join("album")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_file_reads_byte_identical_and_random_preads_match() {
    let seed = seed().await;
    let node = Node::new();
    let m = mount(&node, &[peer(&seed)], &[]);
    let dir = album(&m, &seed);
    let mut top: Vec<String> = std::fs::read_dir(m.mountpoint.join(&seed.info_hash))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    top.sort();
    assert_eq!(top, ["album"], "the torrent's folder, by its name");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["a.bin", "c.txt", "sub"], "no padding file shows");
    for (path, size) in FILES {
        assert_eq!(
            std::fs::metadata(dir.join(path)).unwrap().len(),
            size,
            "{path}"
        );
    }
    // 200 reads at scattered offsets, before any whole-file read.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for (path, size) in [FILES[0], FILES[2]] {
        let want = seed.file(path);
        let f = std::fs::File::open(dir.join(path)).unwrap();
        for _ in 0..100 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let at = (x >> 11) % size;
            let len = (((x >> 3) % 9000) as usize + 1).min((size - at) as usize);
            let mut buf = vec![0u8; len];
            f.read_exact_at(&mut buf, at).unwrap();
            assert!(
                buf == want[at as usize..at as usize + len],
                "{path} at {at}+{len}"
            );
        }
    }
    seed.assert_files(&dir);
    // The root lists the torrent; `btih:HASH` names the same folder.
    let root: Vec<String> = std::fs::read_dir(&m.mountpoint)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(root.contains(&seed.info_hash), "{root:?}");
    let alias = m
        .mountpoint
        .join(format!("btih:{}", seed.info_hash))
        .join("album/c.txt");
    assert_eq!(std::fs::read(alias).unwrap(), seed.file("c.txt"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_pieces_read_are_fetched() {
    let mut seed = seed().await;
    let node = Node::new();
    let m = mount(&node, &[peer(&seed)], &[]);
    let dir = album(&m, &seed);
    // A 4 KiB pread in the middle of b.bin: its piece, and the file's first
    // and last piece (fetched on open), nothing else of a 22-piece torrent.
    let f = std::fs::File::open(dir.join("sub/b.bin")).unwrap();
    let mut buf = vec![0u8; 4096];
    f.read_exact_at(&mut buf, 500_000).unwrap();
    assert!(buf == seed.file("sub/b.bin")[500_000..504_096]);
    drop(f);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sent = seed.uploaded().await;
    assert!(sent >= PIECE, "the piece read came from the seed: {sent}");
    assert!(
        sent <= 3 * PIECE,
        "only the piece read and the file's ends were sent, not {sent} bytes"
    );
    // The files' attributes say what is held of them, as a stream's do.
    let attr = |f: &str, n: &str| xattr(&dir.join(f), n).unwrap();
    let (held, total) = attr("sub/b.bin", "user.lbry.pieces")
        .split_once('/')
        .map(|(h, t)| (h.parse::<u64>().unwrap(), t.parse::<u64>().unwrap()))
        .unwrap();
    assert_eq!(total, 1048699u64.div_ceil(PIECE), "b.bin's pieces");
    assert!((1..=3).contains(&held), "b.bin: {held} held");
    assert_eq!(
        attr("a.bin", "user.lbry.pieces"),
        "0/5",
        "a.bin was not read"
    );
    assert_eq!(attr("a.bin", "user.lbry.btih"), seed.info_hash);
    assert_eq!(attr("a.bin", "user.lbry.peers"), "1");
    // Reading c.txt (6 bytes) adds at most its one piece.
    assert_eq!(
        std::fs::read(dir.join("c.txt")).unwrap(),
        seed.file("c.txt")
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let more = seed.uploaded().await - sent;
    assert!(more <= PIECE, "c.txt cost {more} bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_seed_gives_eio_within_the_read_timeout_and_reads_recover_when_it_returns() {
    let seed = seed().await;
    let (port, hash, want) = (seed.port, seed.info_hash.clone(), seed.file("sub/b.bin"));
    let node = Node::new();
    let m = mount(&node, &[peer(&seed)], &["--read-timeout", "3"]);
    let dir = album(&m, &seed);
    let f = std::fs::File::open(dir.join("sub/b.bin")).unwrap();
    let mut buf = vec![0u8; 4096];
    f.read_exact_at(&mut buf, 0).unwrap();
    assert!(buf == want[..4096]);
    seed.kill().await;
    let started = Instant::now();
    let err = f.read_exact_at(&mut buf, 600_000).unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.raw_os_error(), Some(libc::EIO), "{err}");
    assert!(
        took < Duration::from_secs(10),
        "EIO after {took:?}, not a hang"
    );
    let status = node.ok(&["status"]);
    // The kernel reads whole pages: the offset in the reason is the page's.
    let why = status
        .lines()
        .find(|l| l.contains("album/sub/b.bin: read at"));
    assert!(
        why.is_some_and(|l| l.contains("failed: no peer gave piece")),
        "the reason is in status:\n{status}"
    );
    // The seed comes back at the same address: the same read succeeds.
    let back = seed_on(port).await;
    assert_eq!(back.info_hash, hash);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    f.read_exact_at(&mut buf, 600_000).unwrap();
    assert!(buf == want[600_000..604_096]);
    drop(m);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_sending_corrupt_pieces_cannot_corrupt_reads_and_the_cache_cap_holds() {
    let seed = seed().await;
    let mut ih = [0u8; 20];
    hex::decode_to_slice(&seed.info_hash, &mut ih).unwrap();
    let liar = faulty_peer(ih, Fault::WrongBytes).await.to_string();
    let node = Node::new();
    // The liar first; a cache smaller than the torrent (1.4 MB).
    let m = mount(&node, &[liar, peer(&seed)], &["--cache-size", "512K"]);
    let dir = album(&m, &seed);
    for _ in 0..2 {
        seed.assert_files(&dir);
    }
    let cached: u64 = std::fs::read_dir(node.blob_dir())
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(
        cached <= 512 << 10,
        "the cache holds {cached} bytes, over its cap"
    );
    let log = m.proc().log();
    assert!(
        log.contains("failed its SHA-1 check"),
        "the liar was caught:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torrent_read_once_reads_from_the_cache_after_a_restart_with_its_seed_gone() {
    let seed = seed().await;
    let node = Node::new();
    let m = mount(&node, &[peer(&seed)], &[]);
    seed.assert_files(&album(&m, &seed));
    drop(m);
    let (dead, hash) = (peer(&seed), seed.info_hash.clone());
    let want: Vec<Vec<u8>> = FILES.iter().map(|(p, _)| seed.file(p)).collect();
    seed.kill().await;
    // The same data dir, its only peer dead: metadata and pieces come from
    // what the first mount kept.
    let m = mount(&node, &[dead], &["--read-timeout", "4"]);
    // The root lists the kept torrent before anyone names it.
    let listed = || {
        std::fs::read_dir(&m.mountpoint)
            .unwrap()
            .any(|e| e.unwrap().file_name().to_str() == Some(hash.as_str()))
    };
    let until = Instant::now() + Duration::from_secs(20);
    while !listed() && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(listed(), "the kept torrent is listed in the root");
    let dir = m.mountpoint.join(&hash).join("album");
    for ((path, _), want) in FILES.iter().zip(want) {
        let got = std::fs::read(dir.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(got == want, "{path} from the cache");
    }
}
