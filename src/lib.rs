//! lbrymount: the LBRY peer-to-peer content network as a filesystem and a CLI.
//!
//! The modules, bottom up. The full map is docs/architecture.md §3; the
//! paths a read, a served blob and a publish take are docs/architecture.md §2;
//! the wire formats are docs/protocol.md.
//! - `hash`, `sha384`: SHA-384 names (`BlobHash`, `SdHash`, `NodeId`) and the hash itself;
//! - `blob`: one blob, AES-CBC + PKCS7, verified by its hash, decrypted as its descriptor says (pure, docs/protocol.md §1);
//! - `sd`: stream descriptors, byte-exact writer and tolerant reader (pure, docs/protocol.md §2);
//! - `layout`: plaintext offsets to blobs and back, exact sizes (pure);
//! - `wire`: pure codecs for the blob exchange, the DHT, trackers, the reflector, LAN discovery, name search, the mainline DHT and the BitTorrent peer wire (docs/protocol.md §3, §4, §8, §9, §10, §11, §13, §14);
//! - `task`: the one spawner: named tasks that log how they ended, inside a span;
//! - `atomic_file`: small files replaced whole (node state, share manifest);
//! - `pipeline`: an ordered parallel map with bounded memory, on plain threads;
//! - `blocking`: the caps on blocking jobs (short ones, and publishes and hashing);
//! - `large_alloc`: the allocator: blob-sized buffers in their own huge-page mappings, unmapped when freed;
//! - `store`: verified blobs on disk (lbrynet's `blobfiles/`) or in memory, capped LRU, pins;
//! - `publish`: file -> encrypted blobs + stream descriptor, streaming on all cores;
//! - `assemble`: descriptor + blobs -> the original file;
//! - `output`: where `get` writes: a file that appears whole or not at all, or standard output;
//! - `collection`: a folder tree as one stream: the collection document, checked (pure, docs/protocol.md §12);
//! - `output_tree`: where `get` writes a collection: inside one directory, never through a symlink;
//! - `catalog`: the streams a store holds, as rows for `ls` and `status`;
//! - `dht`: the LBRY Kademlia node; routing table and lookups as pure state machines;
//! - `torrent`: BitTorrent metainfo (strict, pure) and pieces fetched and SHA-1-checked from a peer (docs/protocol.md §14);
//! - `mainline`: BitTorrent's mainline DHT for `dht --mainline`: node, lookups, crawler (docs/protocol.md §13);
//! - `exchange`: the TCP blob protocol, server and client;
//! - `reflector`: reflector upload, client (`reflect`) and server (`--reflector-listen`);
//! - `search`: search by name with no leader: keyword keys in the DHT, peers asked, results merged (docs/protocol.md §11);
//! - `hub`: `lbry://` names to verified claims through LBRY hubs (failover, caches);
//! - `tracker`: BEP-15 UDP trackers: announce held streams, find peers (docs/protocol.md §8);
//! - `lan`: LAN discovery: nodes on one network find each other by multicast, no bootstrap (docs/protocol.md §10);
//! - `upnp`: UPnP IGD port mapping, so a node behind a home router is reachable;
//! - `fetch`: verified blobs from many peers (single flight, scoring, hedging, failover);
//! - `stream`: one stream as a random-access file, with read-ahead;
//! - `vfs`: the mounted filesystem as a FUSE-free model;
//! - `fuse`: the FUSE adapter, translation only;
//! - `share`: the share folder, published as it changes;
//! - `control`: the control socket protocol between commands and a running node;
//! - `content`: pin, unpin, drop from the cache, unpublish, shared by commands and the node;
//! - `node`: the wiring, the one place that knows every concrete part (docs/architecture.md §2.5):
//!   a running node (store, blob server, DHT, peers, fetcher, announcer, control socket), the mount;
//! - `config`, `cli`: flags to a validated configuration, handed to `node` (the binary's edge).

pub mod assemble;
mod atomic_file;
pub mod blob;
pub(crate) mod blocking;
pub(crate) mod catalog;
pub mod cli;
pub mod collection;
pub(crate) mod config;
pub(crate) mod content;
pub(crate) mod control;
pub mod dht;
pub mod exchange;
pub mod fetch;
pub(crate) mod fuse;
pub mod hash;
pub mod hub;
pub(crate) mod lan;
pub mod large_alloc;
pub(crate) mod layout;
pub mod mainline;
pub(crate) mod node;
pub(crate) mod output;
pub(crate) mod output_tree;
pub(crate) mod pipeline;
pub mod publish;
pub mod reflector;
pub mod sd;
pub mod search;
pub(crate) mod sha384;
pub(crate) mod share;
pub mod store;
pub(crate) mod stream;
mod task;
pub mod torrent;
pub mod tracker;
pub(crate) mod upnp;
pub(crate) mod vfs;
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
