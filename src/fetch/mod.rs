//! Getting blobs from peers: single flight, scoring, parallel and hedged requests, failover.
//!
//! This module owns its seams: [`BlobPeer`] (ask one peer for one blob),
//! [`PeerFinder`] (who might have a blob) and [`FetchStore`] (the cache it
//! reads first and writes what it fetched into). The exchange client, the
//! node's peer policy (`node::peers`) and the stores implement them; tests
//! can implement them with peers that misbehave.
//!
//! The parts: [`Fetcher`] (`fetcher`) is the entry point; `flight` keeps one
//! transfer per blob; `transfer` runs one blob's failover loop; `hedge` races
//! requests and decides when to hedge; `score` (pure) ranks peers;
//! `fetch_all` downloads a whole stream in order with bounded memory.

pub mod error;
pub mod fetch_all;
pub mod fetcher;
mod flight;
pub mod hedge;
pub mod peer_addr;
pub mod score;
mod transfer;

#[cfg(test)]
pub(crate) mod mock;

pub use error::{FetchError, Skipped};
pub use fetch_all::FetchAll;
pub use fetcher::{FetchConfig, Fetcher, Priority};
pub use hedge::{hedge_delay, HedgeConfig};
pub use peer_addr::{HttpUrl, HttpUrlError, PeerAddr};
pub use score::{ScoreConfig, Scoreboard};

use crate::hash::BlobHash;
use std::future::Future;
use std::pin::Pin;

/// A boxed future, so the seams stay object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How one attempt at one peer failed. Kept per peer so the final error can
/// say who was tried and why each failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("timed out {0}")]
    Timeout(&'static str),
    #[error("peer does not have the blob")]
    NotAvailable,
    /// The peer announced another length than the descriptor gives and did
    /// not back it with the blob: a lie.
    #[error("peer announced {got} bytes, expected {expected}")]
    WrongLength { expected: u64, got: u64 },
    /// The peer sent the blob asked for (its hash verifies) at another length
    /// than the stream descriptor gives: the descriptor is wrong, not the peer.
    #[error("the blob has {actual} bytes and its hash verifies, but the stream descriptor says {expected}")]
    DescriptorLength { expected: u64, actual: u64 },
    #[error("data does not match the blob hash (got {actual})")]
    HashMismatch { actual: BlobHash },
    #[error("connection closed after {got} of {expected} bytes")]
    ShortRead { got: u64, expected: u64 },
    #[error("protocol error: {0}")]
    Protocol(String),
}

/// What the fetcher needs of a store: whether a blob is there, the blob read
/// (a use), and a fetched blob stored as cache.
pub trait FetchStore:
    crate::store::HasBlob + crate::store::ReadBlob + crate::store::PutBlob + Send + Sync + 'static
{
}

impl<S> FetchStore for S where
    S: crate::store::HasBlob
        + crate::store::ReadBlob
        + crate::store::PutBlob
        + Send
        + Sync
        + 'static
{
}

/// Ask one peer for one blob. The implementation reads the announced length
/// within its deadlines and verifies the hash before returning. When the
/// descriptor gives a length (`expected_len`) and the peer announces another,
/// a blob whose hash verifies is [`PeerError::DescriptorLength`] (the
/// descriptor lies) and anything else is [`PeerError::WrongLength`] (the peer lies).
pub trait BlobPeer: Send + Sync + 'static {
    fn fetch_blob(
        &self,
        peer: PeerAddr,
        hash: BlobHash,
        expected_len: Option<u64>,
    ) -> BoxFuture<'_, Result<crate::blob::VerifiedBlob, PeerError>>;
}

/// What a search for a blob's peers found, and why it found nobody.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerSearch {
    pub peers: Vec<PeerAddr>,
    /// When `peers` is empty: the cause, as a user should read it (a DHT
    /// that did not answer is not a DHT where nobody announced the blob).
    pub why_none: Option<String>,
}

/// Who might have a blob: the fetcher's seam; the node's one peer policy
/// (`node::peers::Peers`, over its sources) implements it.
pub trait PeerFinder: Send + Sync + 'static {
    fn find_peers(&self, hash: BlobHash) -> BoxFuture<'_, Vec<PeerAddr>>;

    /// Like [`find_peers`](Self::find_peers), saying why nobody was found.
    fn search(&self, hash: BlobHash) -> BoxFuture<'_, PeerSearch> {
        Box::pin(async move {
            PeerSearch {
                peers: self.find_peers(hash).await,
                why_none: None,
            }
        })
    }

    /// When a transfer of `hash` that has delivered nothing yet adds the
    /// [`fallback`](Self::fallback) peers to its candidates, counted from
    /// its start (lbry-sdk's `fixed_peer_delay`); a transfer with nobody
    /// left to ask adds them at once. `None`: there is no fallback.
    fn fallback_after(&self, _hash: BlobHash) -> Option<std::time::Duration> {
        None
    }

    /// The fallback peers (lbry-sdk's fixed peers).
    fn fallback(&self) -> BoxFuture<'_, Vec<PeerAddr>> {
        Box::pin(async { Vec::new() })
    }
}
