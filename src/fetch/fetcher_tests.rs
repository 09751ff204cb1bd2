//! The fetcher's tests, over the scripted network of `fetch::mock`.

use super::*;
use crate::fetch::mock::{addr, fetcher, test_config, Behave, Gate, MockNet};
use crate::fetch::PeerError;

#[tokio::test]
async fn a_cache_full_of_held_blobs_still_hands_the_blob_over_uncached() {
    let net = MockNet::new();
    let (hash, len) = net.add(&[7u8; 600]);
    let store = Arc::new(crate::store::MemStore::with_cap(1000));
    // An open file holds a 500-byte blob: 600 more bytes cannot fit under the cap.
    let held = VerifiedBlob::from_bytes(vec![1; 500]);
    store.hold(held.hash());
    store.put(&held, Keep::Cache).unwrap();
    let f = Fetcher::new(
        store.clone(),
        Arc::new(crate::fetch::mock::StaticPeers::new([addr(1)])),
        net.clone(),
        test_config(),
    );
    let blob = f.fetch(hash, len, Priority::Urgent).await.unwrap();
    assert_eq!(blob.data(), &[7u8; 600][..]);
    assert!(
        !store.contains(&hash),
        "the cap holds: the blob was not cached"
    );
    assert!(store.stats().cached_bytes <= 1000);
}

#[tokio::test]
async fn cache_hit_does_no_network_call() {
    let net = MockNet::new();
    let (f, store) = fetcher(&net, &[addr(1)], test_config());
    let blob = VerifiedBlob::from_bytes(b"cached".to_vec());
    store.put(&blob, Keep::Cache).unwrap();
    let got = f
        .fetch(*blob.hash(), Some(6), Priority::Urgent)
        .await
        .unwrap();
    assert_eq!(got, blob);
    assert_eq!(net.total().calls, 0);
}

#[tokio::test]
async fn a_shared_fetch_gets_the_bytes_and_the_blob_is_still_stored_once() {
    let net = MockNet::new();
    let (hash, len) = net.add(b"early");
    let (f, store) = fetcher(&net, &[addr(1)], test_config());
    let (shared, stored) = tokio::join!(
        f.fetch_shared(hash, len, Priority::Urgent),
        f.fetch(hash, len, Priority::Bulk)
    );
    assert_eq!(shared.unwrap().data(), b"early");
    // The plain fetch returns only once the blob is stored.
    assert_eq!(stored.unwrap().data(), b"early");
    assert!(store.contains(&hash));
    assert_eq!(net.total().calls, 1, "one transfer for both callers");
    // Later shared fetches are cache hits.
    assert_eq!(
        f.fetch_shared(hash, len, Priority::Urgent)
            .await
            .unwrap()
            .data(),
        b"early"
    );
    assert_eq!(net.total().calls, 1);
}

#[tokio::test]
async fn fetched_blob_is_stored_and_then_served_from_the_store() {
    let net = MockNet::new();
    let (hash, len) = net.add(b"fresh");
    let (f, store) = fetcher(&net, &[addr(1)], test_config());
    assert_eq!(
        f.fetch(hash, len, Priority::Bulk).await.unwrap().data(),
        b"fresh"
    );
    assert!(store.contains(&hash));
    f.fetch(hash, len, Priority::Bulk).await.unwrap();
    assert_eq!(net.total().calls, 1);
}

#[tokio::test]
async fn no_peers_is_its_own_error() {
    let net = MockNet::new();
    let (hash, len) = net.add(b"nobody");
    let (f, _) = fetcher(&net, &[], test_config());
    let e = f.fetch(hash, len, Priority::Urgent).await.unwrap_err();
    assert!(
        matches!(e, FetchError::NoPeers { hash: h, .. } if h == hash),
        "{e}"
    );
}

/// Waits until `n` callers wait on the flight for `hash`.
async fn waiters(f: &Fetcher, hash: BlobHash, n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while f.inner.flights.waiters(&hash) < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "fetches never joined"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Starts 10 concurrent fetches of `hash` and waits until all joined one flight.
async fn ten_waiters(
    f: &Fetcher,
    hash: BlobHash,
    len: Option<u64>,
) -> Vec<tokio::task::JoinHandle<Result<VerifiedBlob, FetchError>>> {
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let f = f.clone();
            tokio::spawn(async move { f.fetch(hash, len, Priority::Urgent).await })
        })
        .collect();
    waiters(f, hash, 10).await;
    tasks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_fetches_of_one_blob_make_one_call() {
    let net = MockNet::new();
    let (hash, len) = net.add(b"popular");
    let gate = Gate::new();
    net.set(
        addr(1),
        Behave::Gated(gate.clone(), Box::new(Behave::Serve)),
    );
    let (f, _) = fetcher(&net, &[addr(1), addr(2)], test_config());
    let tasks = ten_waiters(&f, hash, len).await;
    gate.open();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().data(), b"popular");
    }
    assert_eq!(net.total().calls, 1);
}

#[tokio::test]
async fn every_waiter_gets_the_same_error() {
    let net = MockNet::new();
    let (hash, len) = net.add(b"unlucky");
    let gate = Gate::new();
    let refuse = Behave::Fail(PeerError::Connect("refused".into()));
    net.set(addr(1), Behave::Gated(gate.clone(), Box::new(refuse)));
    let (f, _) = fetcher(&net, &[addr(1)], test_config());
    let tasks = ten_waiters(&f, hash, len).await;
    gate.open();
    for t in tasks {
        let e = t.await.unwrap().unwrap_err();
        assert!(e.to_string().contains("refused"), "{e}");
    }
    assert_eq!(net.total().calls, 1);
}

#[tokio::test]
async fn a_cancelled_first_caller_does_not_strand_the_others() {
    let net = MockNet::new();
    let (hash, len) = net.add(b"patience");
    let gate = Gate::new();
    net.set(
        addr(1),
        Behave::Gated(gate.clone(), Box::new(Behave::Serve)),
    );
    let (f, _) = fetcher(&net, &[addr(1)], test_config());
    let first = {
        let f = f.clone();
        tokio::spawn(async move { f.fetch(hash, len, Priority::Urgent).await })
    };
    net.until("the transfer started", |n| n.total().calls == 1)
        .await;
    let second = {
        let f = f.clone();
        tokio::spawn(async move { f.fetch(hash, len, Priority::Urgent).await })
    };
    waiters(&f, hash, 2).await;
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    gate.open();
    assert_eq!(second.await.unwrap().unwrap().data(), b"patience");
    assert_eq!(net.total().calls, 1);
    assert_eq!(net.total().cancelled, 0);
}

#[tokio::test(start_paused = true)]
async fn a_stopped_fetcher_ends_its_transfers_and_starts_no_more() {
    let net = MockNet::new();
    let (hash, len) = net.add(b"never");
    net.set(addr(1), Behave::Hang);
    let (f, _) = fetcher(&net, &[addr(1)], test_config());
    let stop = CancellationToken::new();
    let f = f.stopped_by(stop.clone());
    let waiting = {
        let f = f.clone();
        tokio::spawn(async move { f.fetch(hash, len, Priority::Bulk).await })
    };
    net.until("the transfer started", |n| n.total().live == 1)
        .await;
    stop.cancel();
    // The peer never answers and the deadline is 30 s away: only the stop ends it.
    let e = tokio::time::timeout(Duration::from_secs(1), waiting)
        .await
        .expect("the fetch ended when the fetcher stopped")
        .unwrap()
        .unwrap_err();
    assert!(matches!(e, FetchError::Interrupted { .. }), "{e}");
    net.until("the request was dropped", |n| n.total().live == 0)
        .await;
    let (other, other_len) = net.add(b"later");
    let e = f
        .fetch(other, other_len, Priority::Urgent)
        .await
        .unwrap_err();
    assert!(matches!(e, FetchError::Interrupted { .. }), "{e}");
    assert_eq!(net.total().calls, 1, "nothing was asked once stopped");
}
