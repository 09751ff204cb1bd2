//! Getting blobs from peers: single flight, scoring, parallel and hedged requests, failover.
//!
//! This module owns its seams: [`BlobPeer`] (ask one peer for one blob) and
//! [`PeerFinder`] (who might have a blob). The exchange client and the DHT
//! implement them; tests can implement them with peers that misbehave.
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
pub mod score;
pub mod static_peers;
pub(crate) mod task;
mod transfer;

#[cfg(test)]
pub(crate) mod mock;

pub use error::{FetchError, Skipped};
pub use fetch_all::FetchAll;
pub use fetcher::{FetchConfig, Fetcher, Priority};
pub use hedge::{hedge_delay, HedgeConfig};
pub use score::{ScoreConfig, Scoreboard};
pub use static_peers::StaticPeers;

use crate::hash::BlobHash;
use std::future::Future;
use std::net::SocketAddr;
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
    #[error("peer announced {got} bytes, expected {expected}")]
    WrongLength { expected: u64, got: u64 },
    #[error("data does not match the blob hash (got {actual})")]
    HashMismatch { actual: BlobHash },
    #[error("connection closed after {got} of {expected} bytes")]
    ShortRead { got: u64, expected: u64 },
    #[error("protocol error: {0}")]
    Protocol(String),
}

/// Ask one peer for one blob. The implementation checks the announced length
/// against `expected_len` (when the descriptor gives one), reads exactly that
/// many bytes within its deadlines, and verifies the hash before returning.
pub trait BlobPeer: Send + Sync + 'static {
    fn fetch_blob(
        &self,
        peer: SocketAddr,
        hash: BlobHash,
        expected_len: Option<u64>,
    ) -> BoxFuture<'_, Result<crate::blob::VerifiedBlob, PeerError>>;
}

/// Who might have a blob (static list, DHT, LAN).
pub trait PeerFinder: Send + Sync + 'static {
    fn find_peers(&self, hash: BlobHash) -> BoxFuture<'_, Vec<SocketAddr>>;
}
