//! Reflector upload (lbry-sdk's reflector protocol v2, docs/protocol.md §9):
//! keeping published streams available while their publisher is offline.
//!
//! The [`client`] offers one stream per connection to a reflector: the sd
//! blob first, then only the data blobs the reflector says it still needs,
//! so a second run (or one after an interruption) sends nothing already
//! there. The [`server`] is the other side: it takes uploads from lbry-sdk
//! and lbrymount clients, verifies every blob against its name and the
//! stream's descriptor, stores the stream pinned and reports each stream so
//! the node announces it. The bytes are `wire::reflector`'s; [`conn`] only
//! moves them, each wait under a deadline.

pub mod client;
mod conn;
pub mod pending;
pub mod server;

pub use client::{reflect, ClientConfig, Reflected};
pub use server::{start, ReflectorConfig, RunningReflector};

use crate::hash::BlobHash;

/// Why a reflector exchange failed. Each names what was concerned.
#[derive(Debug, thiserror::Error)]
pub enum ReflectorError {
    #[error("cannot reach the reflector {addr}")]
    Connect {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    #[error("connection closed by the other side")]
    Closed,
    #[error("network error")]
    Io(#[from] std::io::Error),
    #[error("bad reflector message")]
    Protocol(#[source] crate::wire::Invalid),
    #[error("unexpected reflector answer: {0}")]
    Unexpected(String),
    #[error("the reflector speaks protocol version {0}, not 1")]
    Version(u64),
    #[error("the reflector refused the stream's sd blob")]
    SdRefused,
    #[error("the reflector refused blob {0}")]
    BlobRefused(BlobHash),
    #[error("blob {0} of the stream is not in the local store")]
    Missing(BlobHash),
    #[error("the stream's sd blob is not valid")]
    Descriptor(#[source] crate::sd::SdError),
    #[error("store error")]
    Store(#[from] crate::store::StoreError),
}
