//! lbrymount: the LBRY peer-to-peer content network as a filesystem and a CLI.
//!
//! The layers, bottom up (see DESIGN.md for the map):
//! - `hash`, `blob`, `sd`, `layout`: pure formats (PROTOCOL.md §1–2), no I/O;
//! - `store`: verified blobs on disk (lbrynet's `blobfiles/` layout), LRU with a byte cap and pins;
//! - `publish`: file -> encrypted blobs + stream descriptor, streaming on all cores;
//! - `wire`: pure codecs for the network protocols;
//! - `dht`: the LBRY Kademlia's routing table and lookups as pure state machines;
//! - `exchange`: the TCP blob protocol, server and client;
//! - `fetch`: getting verified blobs from many peers (single flight, failover, hedging);
//! - `assemble`: descriptor + blobs -> the original file;
//! - `config`, `cli`: flags to a validated configuration (the binary's edge).

pub mod assemble;
mod atomic_file;
pub mod blob;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod control;
pub mod dht;
pub mod exchange;
pub mod fetch;
pub mod fuse;
pub mod hash;
pub mod layout;
pub mod node;
pub mod output;
pub mod pipeline;
pub mod publish;
pub mod sd;
pub mod sha384;
pub mod share;
pub mod store;
pub mod stream;
pub mod vfs;
pub mod wire;

/// `e` and its causes, `: `-separated, for a log line.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}
