//! The network side of the peer policy ([`super::peers::Peers`]): one
//! lookup of a key asks every network source at once (the DHT, trackers),
//! each within [`SOURCE_DEADLINE`], and runs to its end in its own task
//! even when the transfer that wanted it got its blob elsewhere (from a
//! fixed peer, say), so its answer is remembered and a dead source's
//! failure recorded, instead of every blob paying for a lookup it dropped.
//! Searches for a key already being looked up wait for that lookup; at
//! most [`MAX_ASKING`] lookups are tracked at once.

use super::peer_memo::Memo;
use super::peer_source::{Found, PeerSource};
use super::peers::{Candidates, Shared};
use crate::fetch::PeerAddr;
use crate::hash::SdHash;
use std::net::SocketAddr;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Longest one network source is waited for in one lookup.
pub const SOURCE_DEADLINE: Duration = Duration::from_secs(30);
/// Lookups under way that later searches can join, at most.
pub const MAX_ASKING: usize = 1024;

/// Who the network named for a key (never ourselves), and why nobody.
pub type Answer = (Vec<SocketAddr>, Option<String>);

/// A lookup under way: since when, and where its answer will be.
pub struct Asking {
    /// On tokio's clock, as the transfer's fallback delay is.
    pub since: tokio::time::Instant,
    answer: watch::Receiver<Option<Answer>>,
}

/// One lookup of one key.
pub struct Lookup {
    pub sources: Vec<Arc<dyn PeerSource>>,
    pub own_tcp_port: Option<u16>,
    pub shared: Arc<Shared>,
}

/// Whether `a` is our own blob server.
pub fn is_us(own_tcp_port: Option<u16>, a: &SocketAddr) -> bool {
    Some(a.port()) == own_tcp_port && (a.ip().is_loopback() || a.ip().is_unspecified())
}

impl Lookup {
    /// The answer for `key`: joins a lookup under way, or starts one.
    pub async fn answer(self, key: SdHash) -> Answer {
        let shared = self.shared.clone();
        let mut rx = {
            let mut asking = shared.asking.lock().unwrap_or_else(PoisonError::into_inner);
            match asking.get(&key) {
                Some(a) => a.answer.clone(),
                None => {
                    let (tx, rx) = watch::channel(None);
                    if asking.len() < MAX_ASKING {
                        let since = tokio::time::Instant::now();
                        let answer = rx.clone();
                        asking.insert(key, Asking { since, answer });
                    }
                    tokio::spawn(self.run(key, tx));
                    rx
                }
            }
        };
        let answer = match rx.wait_for(Option::is_some).await {
            Ok(a) => a.clone(),
            Err(_) => None,
        };
        answer.unwrap_or_else(|| (Vec::new(), Some("the peer search stopped".to_owned())))
    }

    /// Asks every source, remembers the answer, hands it to whoever waits.
    async fn run(self, key: SdHash, tx: watch::Sender<Option<Answer>>) {
        let now = Instant::now();
        let mut peers = Candidates::default();
        let mut whys = Vec::new();
        for found in self.ask_each(key).await {
            let own = self.own_tcp_port;
            peers.extend(found.peers.into_iter().filter(|a| !is_us(own, a)));
            whys.extend(found.why_none);
        }
        let peers: Vec<SocketAddr> = peers.list.iter().filter_map(PeerAddr::tcp).collect();
        let why_none = (peers.is_empty() && !whys.is_empty()).then(|| whys.join("; "));
        let memo = Memo {
            at: now,
            peers: peers.clone(),
            why_none: why_none.clone(),
        };
        let shared = &self.shared;
        shared
            .found
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, memo, now);
        shared
            .asking
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key);
        let _ = tx.send(Some((peers, why_none)));
    }

    /// Every source's answer for `key`, asked at once, each within
    /// [`SOURCE_DEADLINE`]; in the sources' order.
    async fn ask_each(&self, key: SdHash) -> Vec<Found> {
        let mut asks = tokio::task::JoinSet::new();
        for (i, source) in self.sources.iter().enumerate() {
            let source = source.clone();
            asks.spawn(async move {
                let found = tokio::time::timeout(SOURCE_DEADLINE, source.find(key.as_blob())).await;
                let found = found.unwrap_or_else(|_| Found {
                    peers: Vec::new(),
                    why_none: Some(format!(
                        "a peer source did not answer within {} s",
                        SOURCE_DEADLINE.as_secs()
                    )),
                });
                (i, found)
            });
        }
        let mut answers = Vec::with_capacity(asks.len());
        while let Some(done) = asks.join_next().await {
            if let Ok(answer) = done {
                answers.push(answer);
            }
        }
        answers.sort_by_key(|(i, _)| *i);
        answers.into_iter().map(|(_, found)| found).collect()
    }
}
