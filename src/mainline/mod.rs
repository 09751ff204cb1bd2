//! BitTorrent's mainline DHT (BEP 5, with BEP 51's `sample_infohashes`): a
//! node that answers and asks, and a crawler, for `lbrymount dht --mainline`
//! (docs/protocol.md §13).
//!
//! It is a sibling of the LBRY DHT in `dht/`, not a mode of it: ids are 20
//! bytes, the datagrams are standard bencode KRPC (`wire::krpc`), and peers
//! are announced with tokens bound to the asker's IP. Like `dht/`, the parts
//! that decide are pure and take `now`: `table` (whom we know) and `peers`
//! (who announced what, and the tokens). `rpc` owns the socket, transaction
//! ids and deadlines; `node` answers queries and runs lookups (`lookup`);
//! `crawl` walks the whole DHT for research.
//!
//! IPv4 only, as the KRPC codec is.

pub mod crawl;
mod lookup;
pub mod node;

mod peers;
mod rpc;
mod table;

pub use crawl::{crawl, CrawlConfig, Seen};
pub use lookup::{Lookup, Responder};
pub use node::{MainlineError, Node, NodeConfig};
pub use rpc::CallError;

use crate::wire::krpc::Id20;

/// Bucket capacity, and how many nodes a lookup returns.
pub const K: usize = 8;

/// The XOR distance of two ids, comparable as bytes.
pub fn distance(a: &Id20, b: &Id20) -> Id20 {
    std::array::from_fn(|i| a[i] ^ b[i])
}

/// A random id.
pub fn random_id() -> Id20 {
    rand::random()
}

/// Parses 40 hex characters (an infohash or node id, any case).
pub fn parse_id(s: &str) -> Result<Id20, String> {
    let s = s.strip_prefix("btih:").unwrap_or(s);
    let b = hex::decode(s).map_err(|_| format!("{s:?} is not hex"))?;
    b.try_into()
        .map_err(|_| format!("{s:?} is not 40 hex characters (a 20-byte id)"))
}

/// BitTorrent's usual public routers, joined when no `--bootstrap` is given.
pub const DEFAULT_BOOTSTRAP: &[&str] = &[
    "router.bittorrent.com:6881",
    "dht.transmissionbt.com:6881",
    "router.utorrent.com:6881",
    "dht.libtorrent.org:25401",
];
