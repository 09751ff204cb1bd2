//! Test doubles: an in-memory network of peers with scripted behaviour
//! (serve, fail with a given error, hang, wait for a gate), counting calls,
//! concurrent requests and cancellations; a fixed list of peers; and helpers
//! to build a fetcher on it.

use super::{BlobPeer, BoxFuture, FetchConfig, FetchError, Fetcher, PeerError, PeerFinder};
use crate::blob::VerifiedBlob;
use crate::fetch::PeerAddr;
use crate::hash::BlobHash;
use crate::store::MemStore;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};

/// What a peer does when asked for a blob.
#[derive(Clone)]
pub(crate) enum Behave {
    /// Sends the blob if the network has it, else says it lacks it.
    Serve,
    /// Fails at once with this error.
    Fail(PeerError),
    /// Never answers.
    Hang,
    /// Waits for the gate to open, then behaves as the inner behaviour.
    Gated(Gate, Box<Behave>),
    /// Sends this (possibly wrong) blob whatever was asked.
    Send(VerifiedBlob),
}

/// A barrier tests open when they are ready.
#[derive(Clone)]
pub(crate) struct Gate(Arc<Semaphore>);

impl Gate {
    pub(crate) fn new() -> Self {
        Self(Arc::new(Semaphore::new(0)))
    }
    pub(crate) fn open(&self) {
        self.0.close();
    }
    async fn pass(&self) {
        // A closed semaphore is an open gate.
        let _ = self.0.acquire().await;
    }
}

#[derive(Default, Clone, Copy, Debug)]
pub(crate) struct Counts {
    pub(crate) calls: usize,
    pub(crate) live: usize,
    pub(crate) max_live: usize,
    pub(crate) cancelled: usize,
}

#[derive(Default)]
pub(crate) struct MockNet {
    blobs: Mutex<HashMap<BlobHash, VerifiedBlob>>,
    behave: Mutex<HashMap<PeerAddr, Behave>>,
    counts: Mutex<HashMap<PeerAddr, Counts>>,
    changed: Notify,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn addr(i: u8) -> PeerAddr {
    PeerAddr::Tcp(std::net::SocketAddr::from(([10, 0, 0, i], 4444)))
}

impl MockNet {
    pub(crate) fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Puts a blob with these bytes on the network; returns its hash and length.
    pub(crate) fn add(&self, data: &[u8]) -> (BlobHash, Option<u64>) {
        let blob = VerifiedBlob::from_bytes(data.to_vec());
        let hash = *blob.hash();
        lock(&self.blobs).insert(hash, blob);
        (hash, Some(data.len() as u64))
    }

    pub(crate) fn set(&self, peer: PeerAddr, b: Behave) {
        lock(&self.behave).insert(peer, b);
    }

    pub(crate) fn counts(&self, peer: PeerAddr) -> Counts {
        lock(&self.counts).get(&peer).copied().unwrap_or_default()
    }

    pub(crate) fn total(&self) -> Counts {
        let counts = lock(&self.counts);
        let mut t = Counts::default();
        for c in counts.values() {
            t.calls += c.calls;
            t.live += c.live;
            t.cancelled += c.cancelled;
        }
        t
    }

    fn update(&self, peer: PeerAddr, f: impl FnOnce(&mut Counts)) {
        f(lock(&self.counts).entry(peer).or_default());
        self.changed.notify_waiters();
    }

    /// Waits until `cond` holds (re-checked whenever a request starts or ends).
    pub(crate) async fn until(&self, what: &str, cond: impl Fn(&Self) -> bool) {
        let wait = async {
            loop {
                let changed = self.changed.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                if cond(self) {
                    return;
                }
                // Cancellations land a little after the event that caused them.
                let _ = tokio::time::timeout(Duration::from_millis(20), changed).await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(10), wait)
            .await
            .is_err()
        {
            panic!("timed out waiting until {what}");
        }
    }

    async fn behave(&self, b: Behave, hash: BlobHash) -> Result<VerifiedBlob, PeerError> {
        let mut b = b;
        loop {
            return match b {
                Behave::Serve => lock(&self.blobs)
                    .get(&hash)
                    .cloned()
                    .ok_or(PeerError::NotAvailable),
                Behave::Fail(e) => Err(e),
                Behave::Hang => std::future::pending().await,
                Behave::Send(blob) => Ok(blob),
                Behave::Gated(gate, inner) => {
                    gate.pass().await;
                    b = *inner;
                    continue;
                }
            };
        }
    }
}

/// Counts a request as live until dropped; a drop before `done` is a cancellation.
struct Live<'a> {
    net: &'a MockNet,
    peer: PeerAddr,
    done: bool,
}

impl Drop for Live<'_> {
    fn drop(&mut self) {
        let done = self.done;
        self.net.update(self.peer, |c| {
            c.live -= 1;
            if !done {
                c.cancelled += 1;
            }
        });
    }
}

impl BlobPeer for MockNet {
    fn fetch_blob(
        &self,
        peer: PeerAddr,
        hash: BlobHash,
        _expected_len: Option<u64>,
    ) -> BoxFuture<'_, Result<VerifiedBlob, PeerError>> {
        Box::pin(async move {
            let b = lock(&self.behave)
                .get(&peer)
                .cloned()
                .unwrap_or(Behave::Serve);
            self.update(peer, |c| {
                c.calls += 1;
                c.live += 1;
                c.max_live = c.max_live.max(c.live);
            });
            let mut live = Live {
                net: self,
                peer,
                done: false,
            };
            let r = self.behave(b, hash).await;
            live.done = true;
            r
        })
    }
}

/// Config for tests: hedging only when a test asks for it, a deadline no test should reach.
pub(crate) fn test_config() -> FetchConfig {
    let mut cfg = FetchConfig {
        deadline: Duration::from_secs(30),
        ..FetchConfig::default()
    };
    cfg.hedge.unknown = Duration::from_secs(30);
    cfg.hedge.ceiling = Duration::from_secs(30);
    cfg
}

/// A fetcher over `net` with `peers` as static candidates and an empty store.
pub(crate) fn fetcher(
    net: &Arc<MockNet>,
    peers: &[PeerAddr],
    cfg: FetchConfig,
) -> (Fetcher, Arc<MemStore>) {
    let store = Arc::new(MemStore::new());
    let f = Fetcher::new(
        store.clone(),
        Arc::new(StaticPeers::new(peers.iter().copied())),
        net.clone(),
        cfg,
    );
    (f, store)
}

/// Who was asked and how it failed, and who was not asked and why.
pub(crate) type Report<'a> = (
    &'a Vec<(PeerAddr, PeerError)>,
    &'a Vec<(PeerAddr, crate::fetch::Skipped)>,
);

/// The attempts and skipped peers of an `AllPeersFailed`; any other error fails the test.
pub(crate) fn all_failed(e: &FetchError) -> Report<'_> {
    match e {
        FetchError::AllPeersFailed {
            attempts, skipped, ..
        } => (attempts, skipped),
        other => panic!("unexpected {other}"),
    }
}

/// A [`PeerFinder`] that answers the same peers for every blob. (The node's
/// one peer policy is `node::peers::Peers`; the fetcher's tests need only a list.)
#[derive(Debug, Clone, Default)]
pub(crate) struct StaticPeers(Vec<PeerAddr>);

impl StaticPeers {
    pub(crate) fn new(peers: impl IntoIterator<Item = PeerAddr>) -> Self {
        Self(peers.into_iter().collect())
    }
}

impl PeerFinder for StaticPeers {
    fn find_peers(&self, _hash: BlobHash) -> BoxFuture<'_, Vec<PeerAddr>> {
        let peers = self.0.clone();
        Box::pin(async move { peers })
    }
}
