//! The peer policy over scripted sources.

use super::super::peer_source::Found;
use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A network source that answers the same for every key, counting questions.
struct Scripted {
    found: Found,
    asked: AtomicUsize,
}

impl Scripted {
    fn new(peers: &[SocketAddr], why: Option<&str>) -> Arc<Self> {
        Arc::new(Self {
            found: Found {
                peers: peers.to_vec(),
                why_none: why.map(str::to_owned),
            },
            asked: AtomicUsize::new(0),
        })
    }
}

impl PeerSource for Scripted {
    fn find(&self, _key: BlobHash) -> BoxFuture<'_, Found> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        let found = self.found.clone();
        Box::pin(async move { found })
    }
}

fn tcp(addrs: &[SocketAddr]) -> Vec<PeerAddr> {
    addrs.iter().map(|a| PeerAddr::Tcp(*a)).collect()
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

#[tokio::test]
async fn without_sources_the_search_says_so() {
    let peers = Peers::new(Vec::new(), Some(4444));
    let found = peers.search(BlobHash::digest(b"x")).await;
    assert!(found.peers.is_empty());
    assert_eq!(found.why_none.as_deref(), Some(NO_SOURCE));
    let fixed = addr(5555);
    let peers = Peers::new(
        vec![Arc::new(GivenPeers::new(vec![fixed.into()]))],
        Some(4444),
    );
    let found = peers.search(BlobHash::digest(b"x")).await;
    assert_eq!((found.peers, found.why_none), (vec![fixed.into()], None));
}

#[tokio::test]
async fn duplicates_across_sources_are_removed_even_when_not_adjacent() {
    let (a, b, c) = (addr(1), addr(2), addr(3));
    let one = Scripted::new(&[b, a, c], None);
    let two = Scripted::new(&[c, b, a, b], None);
    let sources: Vec<Arc<dyn PeerSource>> = vec![
        Arc::new(GivenPeers::new(vec![a.into(), b.into()])),
        one,
        Arc::new(GivenPeers::new(vec![c.into(), a.into()])),
        two,
    ];
    let peers = Peers::new(sources, None);
    let found = peers.search(BlobHash::digest(b"x")).await;
    assert_eq!(
        found.peers,
        tcp(&[a, b, c]),
        "given first, each address once"
    );
    let extra = peers.with_extra(vec![c, addr(9), c]);
    let found = extra.search(BlobHash::digest(b"x")).await;
    assert_eq!(found.peers, tcp(&[c, addr(9), a, b]));
}

#[tokio::test]
async fn why_nobody_comes_from_every_network_source_and_never_from_ourselves() {
    let us = addr(4444);
    let dht = Scripted::new(
        &[us],
        Some("nobody announced it in the DHT (3 nodes answered)"),
    );
    let lan = Scripted::new(&[], Some("no LAN peer answered"));
    let sources: Vec<Arc<dyn PeerSource>> = vec![dht.clone(), lan];
    let peers = Peers::new(sources, Some(4444));
    let found = peers.search(BlobHash::digest(b"x")).await;
    assert!(found.peers.is_empty(), "{:?}", found.peers);
    assert_eq!(
        found.why_none.as_deref(),
        Some("nobody announced it in the DHT (3 nodes answered); no LAN peer answered")
    );
    let extra = peers.with_extra(vec![addr(7)]);
    let found = extra.search(BlobHash::digest(b"x")).await;
    assert_eq!((found.peers, found.why_none), (vec![addr(7).into()], None));
    assert_eq!(dht.asked.load(Ordering::SeqCst), 1, "the answer was cached");
}

#[tokio::test]
async fn a_streams_blobs_share_one_lookup_of_its_sd_hash() {
    let found_peer = addr(6);
    let dht = Scripted::new(&[found_peer], Some("nobody"));
    let peers = Peers::new(vec![dht.clone()], None);
    let store = crate::store::MemStore::new();
    let data = vec![7u8; 5_000_000];
    let opts = crate::publish::PublishOptions::default();
    let published = crate::publish::publish_reader(&store, "f", &data[..], &opts, &|_| {})
        .expect("publish into memory");
    let desc = published.descriptor;
    peers.register(&desc);
    assert_eq!(peers.known(&published.sd_hash), 0, "not looked up yet");
    for b in desc.blobs() {
        assert_eq!(peers.search(b.hash).await.peers, tcp(&[found_peer]));
    }
    assert_eq!(
        dht.asked.load(Ordering::SeqCst),
        1,
        "one lookup for the stream"
    );
    assert_eq!(peers.known(&published.sd_hash), 1);
    peers.search(BlobHash::digest(b"unknown")).await;
    assert_eq!(
        dht.asked.load(Ordering::SeqCst),
        2,
        "a blob of no known stream is looked up by itself"
    );
}

/// A network source that answers `peers` after `takes`, counting questions.
struct Slow {
    takes: std::time::Duration,
    peers: Vec<SocketAddr>,
    asked: AtomicUsize,
}

impl PeerSource for Slow {
    fn find(&self, _key: BlobHash) -> BoxFuture<'_, Found> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            tokio::time::sleep(self.takes).await;
            Found {
                peers: self.peers.clone(),
                why_none: Some("nobody".into()),
            }
        })
    }
}

fn slow(secs: u64, peers: &[SocketAddr]) -> Arc<Slow> {
    Arc::new(Slow {
        takes: std::time::Duration::from_secs(secs),
        peers: peers.to_vec(),
        asked: AtomicUsize::new(0),
    })
}

#[tokio::test(start_paused = true)]
async fn network_sources_are_asked_at_once_and_a_dropped_search_still_remembers() {
    let (dht, trackers) = (slow(5, &[addr(1)]), slow(5, &[addr(2)]));
    let peers = Peers::new(vec![dht.clone(), trackers.clone()], None);
    let started = tokio::time::Instant::now();
    let found = peers.search(BlobHash::digest(b"x")).await;
    assert_eq!(started.elapsed(), std::time::Duration::from_secs(5));
    assert_eq!(
        found.peers,
        tcp(&[addr(1), addr(2)]),
        "in the sources' order"
    );

    // A search given up after 1 s: its lookup runs on and its answer is kept.
    let key = BlobHash::digest(b"y");
    let quick = std::time::Duration::from_secs(1);
    assert!(tokio::time::timeout(quick, peers.search(key))
        .await
        .is_err());
    tokio::time::sleep(std::time::Duration::from_secs(10)).await;
    assert_eq!(peers.search(key).await.peers.len(), 2);
    assert_eq!(dht.asked.load(Ordering::SeqCst), 2, "x and y, once each");
}

#[tokio::test(start_paused = true)]
async fn the_fixed_peer_delay_counts_from_the_streams_first_lookup() {
    let book = Arc::new(crate::node::source_status::SourceBook::default());
    let fixed = crate::node::fixed_peers::FixedPeers::new(vec!["127.0.0.1:5567".into()], book);
    let dht = slow(5, &[]);
    let peers = Arc::new(Peers::new(vec![dht], None).with_fallback(Some(Arc::new(fixed))));
    let key = BlobHash::digest(b"z");
    assert_eq!(peers.fallback_after(key), Some(FIXED_PEER_DELAY));
    let searching = tokio::spawn({
        let peers = peers.clone();
        async move { peers.search(key).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let left = peers.fallback_after(key).unwrap();
    assert_eq!(left, std::time::Duration::from_millis(500));
    searching.await.unwrap();
    // The network answered nobody: the fixed peer is asked at once now.
    assert_eq!(peers.fallback_after(key), Some(std::time::Duration::ZERO));
    assert_eq!(
        peers.fallback().await,
        [PeerAddr::Tcp("127.0.0.1:5567".parse().unwrap())]
    );
    let alone = Peers::new(Vec::new(), None);
    assert_eq!(
        alone.fallback_after(key),
        None,
        "no fixed peer, no fallback"
    );
}
