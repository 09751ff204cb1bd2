//! Re-seeding: what the mount read of a torrent is served back to the
//! swarm on `--bt-listen`, and Debian's libtorrent client downloads the
//! whole torrent from our node alone once the original seed is gone, from
//! a `.torrent` file or from a bare magnet link (the metadata from us,
//! BEP 9).

mod common;

use common::cli::Node;
use common::libtorrent::{leech, seed, Seed, FILES};
use common::mount::MountNode;

/// A mount of `node` that fetches from `seed` and serves on a free port
/// of 127.0.0.1 (bound and released), returned as HOST:PORT.
fn mount_seeding(node: &Node, seed: &Seed) -> (MountNode, String) {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let listen = format!("127.0.0.1:{port}");
    let peer = format!("127.0.0.1:{}", seed.port);
    let m = MountNode::start(node, &["--bt-peer", &peer, "--bt-listen", &listen]);
    (m, listen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libtorrent_downloads_the_whole_torrent_from_what_the_mount_cached() {
    let seed = seed().await;
    let node = Node::new();
    let (m, listen) = mount_seeding(&node, &seed);
    let dir = m.mountpoint.join(&seed.info_hash).join("album");
    // Every file read through the mount: every piece is in our store.
    for (path, _) in FILES {
        let got = std::fs::read(dir.join(path)).unwrap();
        assert!(got == seed.file(path), "{path}");
    }
    let torrent = seed.dir.path().join("album.torrent");
    let kept = tempfile::tempdir().unwrap();
    let torrent_copy = kept.path().join("album.torrent");
    std::fs::copy(&torrent, &torrent_copy).unwrap();
    let want: Vec<Vec<u8>> = FILES.iter().map(|(p, _)| seed.file(p)).collect();
    let magnet = format!("magnet:?xt=urn:btih:{}", seed.info_hash);
    seed.kill().await;
    for from in [torrent_copy.as_os_str(), magnet.as_ref()] {
        let got = leech(from, &listen, 60).await;
        assert!(
            got.seeding,
            "libtorrent completed the torrent from us ({from:?}): {}",
            got.progress
        );
        for ((path, _), want) in FILES.iter().zip(&want) {
            let bytes = std::fs::read(got.dir.path().join("album").join(path)).unwrap();
            assert!(
                bytes == *want,
                "{path} as libtorrent got it from us ({from:?})"
            );
        }
    }
    drop(m);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_held_pieces_of_open_torrents_are_served() {
    use lbrymount::torrent::{metainfo, PeerConn, PeerError};
    use std::time::Duration;
    let seed = seed().await;
    let node = Node::new();
    let (m, listen) = mount_seeding(&node, &seed);
    let meta =
        metainfo::parse(&std::fs::read(seed.dir.path().join("album.torrent")).unwrap()).unwrap();
    let addr = listen.parse().unwrap();
    let t = Duration::from_secs(5);
    // A torrent the mount has not opened: no handshake back.
    let err = PeerConn::connect(addr, meta.info_hash, [7; 20], t)
        .await
        .err();
    assert!(matches!(err, Some(PeerError::Closed)), "{err:?}");
    // Open it and read c.txt only: its piece is served, verified by SHA-1
    // on our side; the last piece (sub/b.bin's end) is not held, and a
    // request for it gets no answer, so our own client times out.
    let c = m.mountpoint.join(&seed.info_hash).join("album/c.txt");
    assert_eq!(std::fs::read(&c).unwrap(), seed.file("c.txt"));
    let c_piece = (meta
        .files
        .iter()
        .find(|f| f.path == "c.txt")
        .unwrap()
        .offset
        / meta.piece_length) as u32;
    let mut conn = PeerConn::connect(addr, meta.info_hash, [7; 20], t)
        .await
        .unwrap();
    let len = |i: u32| {
        let start = u64::from(i) * meta.piece_length;
        meta.piece_length.min(meta.total - start) as u32
    };
    let got = conn
        .fetch_piece(c_piece, len(c_piece), &meta.pieces[c_piece as usize], t)
        .await
        .unwrap();
    assert_eq!(got.len() as u32, len(c_piece));
    let last = meta.pieces.len() as u32 - 1;
    let mut conn = PeerConn::connect(addr, meta.info_hash, [7; 20], t)
        .await
        .unwrap();
    let err = conn
        .fetch_piece(
            last,
            len(last),
            &meta.pieces[last as usize],
            Duration::from_secs(2),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, PeerError::NoPiece(_) | PeerError::Timeout),
        "{err}"
    );
    drop(m);
}
