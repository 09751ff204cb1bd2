//! The TCP blob exchange protocol (docs/protocol.md §3): serving blobs from the
//! store to LBRY peers ([`BlobServer`]) and fetching blobs from them
//! ([`ExchangeClient`], the network side of `fetch::BlobPeer`), and the
//! HTTP blob sources that side also asks (`http`, docs/protocol.md §3.9).
//!
//! Async (tokio) because all it does is wait on sockets, many at once. It owns
//! connections, deadlines and buffers, never message syntax: every byte of a
//! request or answer is produced and checked by the pure codec in
//! `wire::exchange`. Every wait here has a deadline.

pub mod client;
mod conn;
pub mod http;
mod per_ip;
mod pool;
pub mod rate;
mod send;
pub mod server;

pub use client::{ClientConfig, ExchangeClient};
pub use server::{
    BlobServer, RunningServer, ServedStore, ServerConfig, ServerStats, StatsSnapshot,
};
