//! Tests of one blob's transfer: failover, retries, the deadline, what a
//! failure reports, and when fallback peers join.

use super::*;
use crate::blob::VerifiedBlob;
use crate::fetch::mock::{addr, all_failed, fetcher, test_config, Behave, MockNet};
use crate::fetch::Priority;
use std::time::Duration;

fn corrupt() -> PeerError {
    PeerError::HashMismatch {
        actual: BlobHash::digest(b"garbage"),
    }
}

#[tokio::test]
async fn fails_over_past_bad_peers_to_a_good_one() {
    let net = MockNet::new();
    let (hash, len) = net.add(b"survivor");
    net.set(addr(1), Behave::Fail(corrupt()));
    net.set(
        addr(2),
        Behave::Fail(PeerError::Connect("connection refused".into())),
    );
    net.set(
        addr(3),
        Behave::Fail(PeerError::Timeout("waiting for the response header")),
    );
    net.set(addr(4), Behave::Fail(PeerError::NotAvailable));
    // Peer 5 serves. Unknown peers are tried in address order, so 5 comes last.
    let peers: Vec<_> = (1..=5).map(addr).collect();
    let (f, _) = fetcher(&net, &peers, test_config());
    let blob = f.fetch(hash, len, Priority::Bulk).await.unwrap();
    assert_eq!(blob.data(), b"survivor");
    for p in &peers {
        assert_eq!(net.counts(*p).calls, 1, "{p}");
    }
}

#[tokio::test]
async fn all_peers_failed_lists_every_peer_with_its_reason() {
    let net = MockNet::new();
    let (hash, len) = net.add(b"doomed");
    let refused = PeerError::Connect("connection refused".into());
    let short = PeerError::ShortRead {
        got: 3,
        expected: 6,
    };
    let wrong_len = PeerError::WrongLength {
        expected: 6,
        got: 7,
    };
    net.set(addr(1), Behave::Fail(corrupt()));
    net.set(addr(2), Behave::Fail(refused.clone()));
    net.set(addr(3), Behave::Fail(short.clone()));
    net.set(addr(4), Behave::Fail(wrong_len.clone()));
    let peers: Vec<_> = (1..=4).map(addr).collect();
    let (f, _) = fetcher(&net, &peers, test_config());
    let e = f.fetch(hash, len, Priority::Urgent).await.unwrap_err();
    let (attempts, skipped) = all_failed(&e);
    let expected = vec![
        (addr(1), corrupt()),
        (addr(2), refused.clone()),
        (addr(3), short.clone()),
        (addr(4), wrong_len.clone()),
        // A transfer cut short is tried again, after the healthy peers.
        (addr(3), short.clone()),
        (addr(3), short.clone()),
    ];
    assert_eq!(attempts, &expected);
    assert!(skipped.is_empty());
    let text = e.to_string();
    assert_eq!(text.lines().count(), 7, "{text}");
    assert!(
        text.contains("10.0.0.2:4444: connection failed: connection refused"),
        "{text}"
    );

    // Asked again: the liars are banned and not asked; the others are.
    let e = f.fetch(hash, len, Priority::Urgent).await.unwrap_err();
    let (attempts, skipped) = all_failed(&e);
    let mut again = vec![(addr(2), refused)];
    again.extend(vec![(addr(3), short); MAX_TRIES]);
    assert_eq!(attempts, &again);
    assert!(matches!(&skipped[..], [
        (a, Skipped::Banned { reason: r1, .. }),
        (b, Skipped::Banned { reason: r2, .. }),
    ] if *a == addr(1) && *b == addr(4) && *r1 == corrupt() && *r2 == wrong_len));
    assert_eq!(net.counts(addr(1)).calls, 1);
    assert_eq!(net.counts(addr(4)).calls, 1);
    assert!(e.to_string().contains("banned"), "{e}");
}

#[tokio::test]
async fn a_peer_that_sent_corrupt_data_is_not_asked_for_the_next_blob() {
    let net = MockNet::new();
    let (h1, l1) = net.add(b"first");
    let (h2, l2) = net.add(b"second");
    net.set(addr(1), Behave::Fail(corrupt()));
    let (f, _) = fetcher(&net, &[addr(1), addr(2)], test_config());
    f.fetch(h1, l1, Priority::Bulk).await.unwrap();
    assert_eq!(net.counts(addr(1)).calls, 1);
    f.fetch(h2, l2, Priority::Bulk).await.unwrap();
    assert_eq!(net.counts(addr(1)).calls, 1);
    assert_eq!(net.counts(addr(2)).calls, 2);
}

#[tokio::test]
async fn a_peer_returning_another_blob_or_length_is_caught_and_banned() {
    let net = MockNet::new();
    let (hash, len) = net.add(b"wanted");
    let other = VerifiedBlob::from_bytes(b"impostor".to_vec());
    net.set(addr(1), Behave::Send(other.clone()));
    let (f, _) = fetcher(&net, &[addr(1), addr(2)], test_config());
    assert_eq!(
        f.fetch(hash, len, Priority::Bulk).await.unwrap().data(),
        b"wanted"
    );
    let now = std_now();
    let banned = f.inner.score().excluded(&addr(1), &hash, now);
    assert!(matches!(
        banned,
        Some(Skipped::Banned { reason: PeerError::HashMismatch { actual }, .. }) if actual == *other.hash()
    ));
}

#[tokio::test]
async fn a_genuine_blob_at_another_length_blames_the_descriptor_not_the_peer() {
    let net = MockNet::new();
    let (h1, _) = net.add(b"sized");
    let (h2, l2) = net.add(b"other stream");
    let (f, _) = fetcher(&net, &[addr(1), addr(2)], test_config());
    let e = f.fetch(h1, Some(999), Priority::Bulk).await.unwrap_err();
    assert!(
        matches!(
            e,
            FetchError::DescriptorLength {
                expected: 999,
                actual: 5,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("descriptor is wrong"), "{e}");
    assert_eq!(net.total().calls, 1, "no other peer can do better");
    let now = std_now();
    for p in [addr(1), addr(2)] {
        assert_eq!(
            f.inner.score().excluded(&p, &h1, now),
            None,
            "{p} not banned"
        );
    }
    assert_eq!(
        f.fetch(h2, l2, Priority::Bulk).await.unwrap().data(),
        b"other stream"
    );
}

#[tokio::test]
async fn a_peer_that_cut_a_transfer_short_is_asked_again_a_few_times() {
    let net = MockNet::new();
    let (hash, len) = net.add(b"patience");
    let short = PeerError::ShortRead {
        got: 3,
        expected: 8,
    };
    net.set(addr(1), Behave::Fail(short.clone()));
    let (f, _) = fetcher(&net, &[addr(1)], test_config());
    let e = f.fetch(hash, len, Priority::Bulk).await.unwrap_err();
    let (attempts, _) = all_failed(&e);
    assert_eq!(attempts, &vec![(addr(1), short); MAX_TRIES]);
    assert_eq!(net.counts(addr(1)).calls, MAX_TRIES);
}

#[tokio::test]
async fn the_overall_deadline_ends_a_hanging_transfer_with_what_was_tried() {
    let net = MockNet::new();
    let (hash, len) = net.add(b"stuck");
    net.set(addr(1), Behave::Fail(PeerError::Connect("no route".into())));
    net.set(addr(2), Behave::Hang);
    let mut cfg = test_config();
    cfg.deadline = Duration::from_millis(100);
    let (f, store) = fetcher(&net, &[addr(1), addr(2)], cfg);
    let e = f.fetch(hash, len, Priority::Bulk).await.unwrap_err();
    let (attempts, skipped) = all_failed(&e);
    assert_eq!(
        attempts,
        &vec![
            (addr(1), PeerError::Connect("no route".into())),
            (addr(2), AT_DEADLINE)
        ]
    );
    assert!(skipped.is_empty());
    net.until("the hanging request is cancelled", |n| {
        n.counts(addr(2)).cancelled == 1
    })
    .await;
    assert!(!store.contains(&hash));
    assert_eq!(f.inner.score().in_flight(&addr(2)), 0);
}

/// A finder whose search takes `search_takes` and whose fallback peers are due `after`.
struct WithFallback {
    peers: Vec<PeerAddr>,
    search_takes: Duration,
    fallback: Vec<PeerAddr>,
    after: Duration,
}

impl crate::fetch::PeerFinder for WithFallback {
    fn find_peers(&self, _hash: BlobHash) -> crate::fetch::BoxFuture<'_, Vec<PeerAddr>> {
        Box::pin(async move {
            tokio::time::sleep(self.search_takes).await;
            self.peers.clone()
        })
    }

    fn fallback_after(&self, _hash: BlobHash) -> Option<Duration> {
        Some(self.after)
    }

    fn fallback(&self) -> crate::fetch::BoxFuture<'_, Vec<PeerAddr>> {
        let peers = self.fallback.clone();
        Box::pin(async move { peers })
    }
}

/// Fetches through `finder` on `net`; returns the result and the (paused) time it took.
async fn fetch_via(
    net: &Arc<MockNet>,
    finder: WithFallback,
    hash: BlobHash,
    len: Option<u64>,
) -> (Result<VerifiedBlob, FetchError>, Duration) {
    let store = Arc::new(crate::store::MemStore::new());
    let f = crate::fetch::Fetcher::new(store, Arc::new(finder), net.clone(), test_config());
    let started = Instant::now();
    let got = f.fetch(hash, len, Priority::Bulk).await;
    (got, started.elapsed())
}

#[tokio::test(start_paused = true)]
async fn fallback_peers_race_a_slow_peer_once_the_delay_passed() {
    let net = MockNet::new();
    let (hash, len) = net.add(b"late");
    net.set(addr(1), Behave::Hang);
    let finder = WithFallback {
        peers: vec![addr(1)],
        search_takes: Duration::ZERO,
        fallback: vec![addr(2)],
        after: Duration::from_secs(2),
    };
    let (got, took) = fetch_via(&net, finder, hash, len).await;
    assert_eq!(got.unwrap().data(), b"late");
    assert_eq!(took, Duration::from_secs(2));
    assert_eq!(
        net.counts(addr(1)).cancelled,
        1,
        "the slow request lost the race"
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_search_does_not_hold_back_the_fallback() {
    let net = MockNet::new();
    let (hash, len) = net.add(b"found late");
    let finder = WithFallback {
        peers: vec![addr(1)],
        search_takes: Duration::from_secs(20),
        fallback: vec![addr(2)],
        after: Duration::from_secs(2),
    };
    let (got, took) = fetch_via(&net, finder, hash, len).await;
    assert_eq!(got.unwrap().data(), b"found late");
    assert_eq!(took, Duration::from_secs(2));
    assert_eq!(net.counts(addr(1)).calls, 0);
}

#[tokio::test(start_paused = true)]
async fn with_nobody_left_to_ask_the_fallback_is_asked_at_once() {
    let net = MockNet::new();
    let (hash, len) = net.add(b"now");
    net.set(addr(1), Behave::Fail(PeerError::NotAvailable));
    let finder = WithFallback {
        peers: vec![addr(1)],
        search_takes: Duration::ZERO,
        fallback: vec![addr(2)],
        after: Duration::from_secs(2),
    };
    let (got, took) = fetch_via(&net, finder, hash, len).await;
    assert_eq!(got.unwrap().data(), b"now");
    assert_eq!(took, Duration::ZERO);
    // An empty fallback leaves the search's reason.
    let finder = WithFallback {
        peers: Vec::new(),
        search_takes: Duration::ZERO,
        fallback: Vec::new(),
        after: Duration::from_secs(2),
    };
    let (got, _) = fetch_via(&net, finder, hash, len).await;
    assert!(matches!(got, Err(FetchError::NoPeers { .. })), "{got:?}");
}
