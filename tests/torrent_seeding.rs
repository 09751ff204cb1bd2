//! Re-seeding: what the mount read of a torrent is served back to the
//! swarm on `--bt-listen`, and Debian's libtorrent client downloads the
//! whole torrent from our node alone once the original seed is gone.

mod common;

use common::cli::Node;
use common::libtorrent::{leech, seed, FILES};
use common::mount::MountNode;

/// A free TCP port on 127.0.0.1 (bound and released).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libtorrent_downloads_the_whole_torrent_from_what_the_mount_cached() {
    let seed = seed().await;
    let node = Node::new();
    let listen = format!("127.0.0.1:{}", free_port());
    let peer = format!("127.0.0.1:{}", seed.port);
    let m = MountNode::start(&node, &["--bt-peer", &peer, "--bt-listen", &listen]);
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
    seed.kill().await;
    let got = leech(&torrent_copy, &listen, 60).await;
    assert!(
        got.seeding,
        "libtorrent completed the torrent from us: {}",
        got.progress
    );
    for ((path, _), want) in FILES.iter().zip(want) {
        let bytes = std::fs::read(got.dir.path().join("album").join(path)).unwrap();
        assert!(bytes == want, "{path} as libtorrent got it from us");
    }
    drop(m);
}
