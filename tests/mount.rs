//! The mount end to end: real FUSE mounts of real nodes that find each other
//! through their own DHT on 127.0.0.1 and trade blobs over TCP.

mod common;

use common::cli::{pseudo_random, publisher, Node, ServeNode, CHUNK};
use common::mount::{assert_file_is, is_mounted, xattr, MountNode};
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;

/// 200 reads at pseudo-random offsets and lengths, each compared.
fn assert_random_reads(path: &Path, want: &[u8], seed: u64) {
    let f = fs::File::open(path).unwrap();
    let mut x = seed | 1;
    for i in 0..200 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let off = (x % want.len() as u64) as usize;
        let len = [1, 4096, 65_536, 300_000][i % 4];
        let mut buf = vec![0u8; len];
        let n = f.read_at(&mut buf, off as u64).unwrap();
        let end = (off + len).min(want.len());
        assert_eq!(n, end - off, "pread {len} at {off}");
        assert!(
            buf[..n] == want[off..end],
            "pread {len} at {off}: bytes differ"
        );
    }
}

#[test]
fn a_stream_published_on_one_node_reads_through_another_nodes_mount_and_reseeds() {
    // A: publishes and serves, the first DHT node.
    let (a_node, sd, data) = publisher(5 * CHUNK + 777, 1, "film.mkv");
    let a = ServeNode::start_with(&a_node, &["--dht-listen", "127.0.0.1:0"]);
    let a_dht = a.wait_log("dht node ready at ");
    a.wait_log("announced");

    // B: a mount that knows only A's DHT address.
    let b_node = Node::new();
    let b = MountNode::start(
        &b_node,
        &["--dht-listen", "127.0.0.1:0", "--bootstrap", &a_dht],
    );
    let b_dht = b.proc().wait_log("dht node ready at ");
    assert_eq!(
        fs::read_dir(&b.mountpoint).unwrap().count(),
        0,
        "B knows no stream yet"
    );
    let file = b.file(&sd, "film.mkv");
    assert_eq!(
        fs::metadata(&file).unwrap().len(),
        data.len() as u64,
        "exact size"
    );
    assert_file_is(&file, &data);
    assert_random_reads(&file, &data, 99);
    // The stream is now listed, and its attributes say what B holds.
    let listed: Vec<_> = fs::read_dir(&b.mountpoint)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(listed, vec![sd.clone()]);
    assert_eq!(xattr(&file, "user.lbry.sd_hash").unwrap(), sd);
    assert_eq!(xattr(&file, "user.lbry.blobs").unwrap(), "6/6");
    let peers: usize = xattr(&file, "user.lbry.peers").unwrap().parse().unwrap();
    assert!(peers >= 1, "A was found through the DHT");
    // B announces what it cached (the start-up round, then the stream).
    b.proc().wait_log_nth("announced", 2);

    // A goes away; C, bootstrapped from B only, reads the file from B's cache.
    let (status, a_log) = a.stop(libc::SIGTERM);
    assert!(status.success(), "{a_log}");
    let c_node = Node::new();
    let c = MountNode::start(
        &c_node,
        &["--dht-listen", "127.0.0.1:0", "--bootstrap", &b_dht],
    );
    assert_file_is(&c.file(&sd, "film.mkv"), &data);
    let c = c.stop(libc::SIGTERM);
    assert!(c.status.success() && !c.still_mounted, "{}", c.log);
    let b = b.stop(libc::SIGTERM);
    assert!(b.status.success() && !b.still_mounted, "{}", b.log);
    let b_log = b.log;
    let served = b_log
        .lines()
        .find(|l| l.contains("unmounted, node stopped"))
        .and_then(|l| l.split("blobs=").nth(1))
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no served count in B's log:\n{b_log}"));
    assert!(
        served >= 7,
        "B re-seeded the sd blob and 6 data blobs to C, served {served}"
    );
}

#[test]
fn sigterm_unmounts_and_a_killed_nodes_stale_mount_is_cleared_at_restart() {
    let (node, sd, data) = publisher(CHUNK + 5, 2, "a.bin");
    let m = MountNode::start(&node, &[]);
    assert_file_is(&m.file(&sd, "a.bin"), &data);
    let mp = m.mountpoint.clone();
    let stopped = m.stop(libc::SIGTERM);
    assert!(
        stopped.status.success(),
        "exit 0 on SIGTERM: {}",
        stopped.log
    );
    assert!(!stopped.still_mounted, "no mount left behind");
    assert!(!is_mounted(&mp));

    // SIGKILL leaves the kernel mount without its process.
    let m = MountNode::start(&node, &[]);
    let _stale = m.crash();
    let err = fs::metadata(&mp).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOTCONN), "{err}");

    let m = MountNode::start(&node, &[]);
    assert!(m.proc().log().contains("stale mount"), "{}", m.proc().log());
    assert_file_is(&m.file(&sd, "a.bin"), &data);
}

#[test]
fn names_that_are_not_streams_are_not_found() {
    let node = Node::new();
    let m = MountNode::start(&node, &["--read-timeout", "2"]);
    for name in ["hello", &"A".repeat(96), &"0".repeat(95)] {
        let err = fs::metadata(m.mountpoint.join(name)).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{name}: {err}");
    }
    // A valid sd hash nobody has: not found once the lookup gives up.
    let unknown = "ab".repeat(48);
    let err = fs::metadata(m.mountpoint.join(&unknown)).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{err}");
    // The mount is read-only.
    let err = fs::write(m.mountpoint.join("new"), b"x").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EROFS), "{err}");
}

#[test]
fn as_root_the_mount_reads_ahead_a_megabyte() {
    // The kernel starts every FUSE mount at 128 KiB; raising it needs root.
    // SAFETY: geteuid cannot fail and touches no memory.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("not root: the mount keeps the kernel's read-ahead, nothing to check");
        return;
    }
    let node = Node::new();
    let m = MountNode::start(&node, &[]);
    let dev = fs::metadata(&m.mountpoint).unwrap().dev();
    let file = format!(
        "/sys/class/bdi/{}:{}/read_ahead_kb",
        libc::major(dev),
        libc::minor(dev)
    );
    let kib = fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert_eq!(kib.trim(), "1024", "{file}");
}

#[test]
fn the_cache_cap_holds_while_reading_more_than_the_cap() {
    let (a_node, sd, data) = publisher(12 * CHUNK + 3, 3, "big.bin");
    let a = ServeNode::start(&a_node);
    let b_node = Node::new();
    // 5 MiB: two blobs and a half; the file is 12 blobs.
    let cap = 5 << 20;
    let b = MountNode::start(&b_node, &["--cache-size", "5M", "--peer", &a.peer_arg()]);
    let file = b.file(&sd, "big.bin");
    let mut f = fs::File::open(&file).unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        let used = dir_bytes(&b_node.blob_dir());
        assert!(
            used <= cap,
            "cache holds {used} bytes, over the {cap}-byte cap"
        );
    }
    assert!(got == data, "content differs ({} bytes read)", got.len());
    // Seeking back still works: evicted blobs are fetched again.
    f.seek(SeekFrom::Start(CHUNK as u64 + 10)).unwrap();
    let mut small = [0u8; 100];
    f.read_exact(&mut small).unwrap();
    assert_eq!(&small[..], &data[CHUNK + 10..CHUNK + 110]);
    assert!(dir_bytes(&b_node.blob_dir()) <= cap);
}

/// Bytes of the blob files in `dir` (the cache's footprint on disk).
fn dir_bytes(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().len() == 96)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn killing_the_only_peer_fails_reads_with_eio_until_it_is_back() {
    // 12 blobs: reading the start prefetches at most 8 ahead, and opening
    // fetches the last, so blob 10 is fetched only when read.
    let (a_node, sd, data) = publisher(12 * CHUNK, 4, "movie.mkv");
    let a = ServeNode::start(&a_node);
    let addr = a.peer_arg();
    let b_node = Node::new();
    let b = MountNode::start(&b_node, &["--peer", &addr, "--read-timeout", "3"]);
    let file = b.file(&sd, "movie.mkv");
    let f = fs::File::open(&file).unwrap();
    let mut head = vec![0u8; 65_536];
    f.read_exact_at(&mut head, 0).unwrap();
    assert!(head == data[..65_536]);
    let a_stopped = a.stop(libc::SIGKILL);
    drop(a_stopped);

    let off = 10 * CHUNK as u64 + 100;
    let mut buf = vec![0u8; 4096];
    let err = f.read_exact_at(&mut buf, off).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EIO), "{err}");
    // The reason is logged: which read, and what happened with the peer.
    b.proc().wait_log(" failed: ");
    let log = b.proc().log();
    assert!(
        log.contains(&format!("{addr}: connection failed")),
        "the reason names the peer: {log}"
    );
    // The mount is still usable: what is cached still reads.
    f.read_exact_at(&mut head, 0).unwrap();
    assert!(head == data[..65_536]);

    // The peer comes back on the same address; the same read now succeeds.
    let a = ServeNode::spawn(&a_node, &["serve", "--listen", &addr, "--no-dht"]);
    f.read_exact_at(&mut buf, off).unwrap();
    assert!(buf == data[off as usize..off as usize + 4096]);
    drop(a);
}

#[test]
fn a_peer_serving_corrupt_blobs_does_not_corrupt_reads() {
    let (a_node, sd, data) = publisher(3 * CHUNK + 11, 5, "clip.bin");
    let good = ServeNode::start(&a_node);
    // A fake peer that answers every request with corrupted bytes.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let blobs = a_node.blobs();
    let liar = rt.block_on(common::fakepeer::FakePeer::start(
        common::fakepeer::Mode::Corrupt,
        blobs,
    ));
    let b_node = Node::new();
    let liar_addr = liar.addr().to_string();
    let b = MountNode::start(&b_node, &["--peer", &liar_addr, "--peer", &good.peer_arg()]);
    assert_file_is(&b.file(&sd, "clip.bin"), &data);
    assert!(liar.requests() > 0, "the lying peer was asked");
}

#[test]
fn many_readers_of_many_files_are_served_at_once() {
    let node = Node::new();
    let mut files = Vec::new();
    for i in 0..4u64 {
        let data = pseudo_random(2 * CHUNK + 1000 * i as usize, 10 + i);
        let path = node.path(&format!("f{i}.bin"));
        fs::write(&path, &data).unwrap();
        files.push((node.publish(&path), format!("f{i}.bin"), data));
    }
    let m = MountNode::start(&node, &[]);
    std::thread::scope(|s| {
        for (sd, name, data) in &files {
            for reader in 0..3u64 {
                let path = m.file(sd, name);
                s.spawn(move || assert_random_reads(&path, data, 7 + reader));
            }
        }
    });
}

#[test]
fn a_blob_corrupted_in_the_cache_is_dropped_and_fetched_again() {
    let (a_node, sd, data) = publisher(3 * CHUNK + 50, 6, "doc.pdf");
    let a = ServeNode::start(&a_node);
    let b_node = Node::new();
    let b = MountNode::start(&b_node, &["--peer", &a.peer_arg()]);
    assert_file_is(&b.file(&sd, "doc.pdf"), &data);
    let stopped = b.stop(libc::SIGTERM);
    assert!(stopped.status.success(), "{}", stopped.log);

    // Flip one byte of a cached data blob (the page cache goes with the mount).
    let victim = fs::read_dir(b_node.blob_dir())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            fs::metadata(p)
                .map(|m| m.len() == 2 * 1024 * 1024)
                .unwrap_or(false)
        })
        .expect("a full-size cached blob");
    let mut bytes = fs::read(&victim).unwrap();
    bytes[1000] ^= 0xff;
    fs::write(&victim, bytes).unwrap();
    // The store recorded the blob's checksum when it cached it, so the
    // re-read below takes the checksum path, not SHA-384, and must still
    // catch the flipped byte.
    let name = victim.file_name().unwrap().to_string_lossy().into_owned();
    let sums = fs::read_to_string(b_node.data_dir().join("blobsums")).unwrap();
    assert!(sums.contains(&name), "no checksum record: {sums}");

    let b = MountNode::start(&b_node, &["--peer", &a.peer_arg()]);
    assert_file_is(&b.file(&sd, "doc.pdf"), &data);
    b.proc().wait_log("corrupt");
    assert!(
        b.proc().log().contains(&name),
        "the corrupt blob is named: {}",
        b.proc().log()
    );
}
