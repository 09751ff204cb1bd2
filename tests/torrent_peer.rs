//! Torrent metainfo and piece fetching against Debian's libtorrent seeding a
//! multi-file (hybrid, padded) torrent on 127.0.0.1.

mod common;

use common::btfake::{faulty_peer, Fault};
use common::libtorrent::{seed, Seed};
use lbrymount::torrent::{metainfo, PeerConn, PeerError};
use std::time::Duration;

async fn connect(seed: &Seed, info_hash: [u8; 20]) -> Result<PeerConn, PeerError> {
    let addr = format!("127.0.0.1:{}", seed.port).parse().unwrap();
    let id = *b"-LM0001-testtesttest";
    PeerConn::connect(addr, info_hash, id, Duration::from_secs(10)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_file_of_a_libtorrent_seed_arrives_byte_identical_piece_by_piece() {
    let seed = seed().await;
    let m = metainfo::parse(&std::fs::read(&seed.torrent).unwrap()).unwrap();
    assert_eq!(
        hex::encode(m.info_hash),
        seed.info_hash,
        "our infohash is libtorrent's"
    );
    let shown: Vec<_> = m
        .files
        .iter()
        .filter(|f| !f.pad)
        .map(|f| (f.path.as_str(), f.length))
        .collect();
    assert_eq!(
        shown,
        vec![("a.bin", 300000), ("c.txt", 6), ("sub/b.bin", 1048699)]
    );

    let mut peer = connect(&seed, m.info_hash).await.unwrap();
    let mut all = Vec::with_capacity(m.total as usize);
    for (i, sha) in m.pieces.iter().enumerate() {
        let len = m.piece_len(i as u32) as u32;
        all.extend(
            peer.fetch_piece(i as u32, len, sha, Duration::from_secs(10))
                .await
                .unwrap(),
        );
    }
    for f in m.files.iter().filter(|f| !f.pad) {
        let want = std::fs::read(seed.dir.path().join("album").join(&f.path)).unwrap();
        let got = &all[f.offset as usize..(f.offset + f.length) as usize];
        assert!(got == want.as_slice(), "{} differs", f.path);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_piece_that_fails_its_hash_is_refused_and_a_peer_without_the_torrent_is_an_error() {
    let seed = seed().await;
    let m = metainfo::parse(&std::fs::read(&seed.torrent).unwrap()).unwrap();
    let mut peer = connect(&seed, m.info_hash).await.unwrap();
    let wrong = m.pieces[1];
    let err = peer
        .fetch_piece(0, m.piece_len(0) as u32, &wrong, Duration::from_secs(10))
        .await
        .unwrap_err();
    assert!(matches!(err, PeerError::Corrupt(0)), "{err}");

    let other = connect(&seed, [9; 20]).await;
    assert!(
        other.is_err(),
        "libtorrent does not serve a torrent it does not have"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_infohash_alone_gets_the_torrent_from_a_peer() {
    let seed = seed().await;
    let from_file = metainfo::parse(&std::fs::read(&seed.torrent).unwrap()).unwrap();
    let info_hash: [u8; 20] = hex::decode(&seed.info_hash).unwrap().try_into().unwrap();
    let mut peer = connect(&seed, info_hash).await.unwrap();
    let info = peer
        .fetch_metadata(&info_hash, Duration::from_secs(10))
        .await
        .unwrap();
    let m = metainfo::parse_info(&info).unwrap();
    assert_eq!(m.info_hash, info_hash);
    assert_eq!(m.files, from_file.files);
    assert_eq!(m.pieces, from_file.pieces);
    // The same connection then serves pieces.
    let p = peer
        .fetch_piece(
            3,
            m.piece_len(3) as u32,
            &m.pieces[3],
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(p.unwrap().len() as u64, m.piece_len(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_or_silent_peer_never_yields_a_piece() {
    let ih = [3u8; 20];
    let sha = lbrymount::torrent::sha1(&[1u8; 40000]);
    for (fault, check) in [
        (
            Fault::WrongBytes,
            (|e: &PeerError| matches!(e, PeerError::Corrupt(0))) as fn(&PeerError) -> bool,
        ),
        (Fault::Unrequested, |e| matches!(e, PeerError::Protocol(_))),
        (Fault::Silent, |e| matches!(e, PeerError::Timeout)),
    ] {
        let addr = faulty_peer(ih, fault).await;
        let mut peer = PeerConn::connect(addr, ih, [1; 20], Duration::from_secs(5))
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let err = peer
            .fetch_piece(0, 40000, &sha, Duration::from_millis(800))
            .await
            .unwrap_err();
        assert!(check(&err), "unexpected error: {err}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the deadline holds"
        );
    }
}
