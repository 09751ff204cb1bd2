//! The LBRY DHT (lbry-sdk's Kademlia, docs/protocol.md §4).
//!
//! The core owns the decisions a node makes about *whom* it knows and
//! *whom* it asks: `routing` (the k-bucket table) and `lookup` (the iterative
//! search). Both are plain state machines: the caller passes the current
//! `Instant` and any randomness, and they never touch a socket, a timer or the
//! clock. That keeps a thousand-node network an ordinary unit test and leaves
//! the UDP task (which owns sockets, rpc ids and deadlines) free of policy.
//!
//! Around them sit the parts that do I/O: `rpc` (the UDP endpoint: rpc ids,
//! deadlines, drop rules), `store` (pure: announced peers and tokens),
//! `policy` (pure: which addresses we accept) and `node` with `handler`,
//! `search` and `maintain` (a running node that answers requests, looks up
//! and announces, joins and refreshes its table; `rejoin` holds the pure
//! decisions of when a node with too few live contacts goes looking), and
//! `state` (the file that keeps a node's id and contacts across restarts).
//!
//! The datagram codec lives in `wire::dht`; `Contact` here is deliberately
//! the small routing view of a peer (node id + UDP address), so the two can
//! evolve apart and meet only in the driver.

use std::net::SocketAddr;
use std::time::Duration;

use crate::hash::NodeId;

mod bucket;
mod handler;
pub mod lookup;
mod maintain;
pub mod node;
pub mod policy;
pub(crate) mod rate;
pub mod rejoin;
pub mod routing;
pub mod rpc;
mod search;
pub mod state;
pub mod store;

pub use node::{DhtError, Node, NodeConfig};
pub use policy::AddrPolicy;
pub use rpc::{RpcConfig, RpcError};
pub use search::{Found, LookupReport, Responder};
pub use state::{SavedState, StateError};

#[cfg(test)]
mod sim_tests;

/// Length of node ids, keys and tokens in bytes (`HASH_LENGTH`).
pub const HASH_LENGTH: usize = crate::hash::HASH_LEN;
/// Bucket capacity and the number of results a lookup returns.
pub const K: usize = 8;
/// Probes a lookup keeps in flight at once.
pub const ALPHA: usize = 5;
/// Length of an rpc id in bytes.
pub const RPC_ID_LENGTH: usize = 20;
/// How long a request waits for its answer (`conf.node_rpc_timeout`).
pub const RPC_TIMEOUT: Duration = Duration::from_secs(5);
/// A bucket untouched this long is refreshed by looking up an id inside it.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(3600);
/// The longest wait between two rejoin attempts of a node that has no live
/// contact (it retries after 1 s, then doubling up to this; `rejoin.rs`).
pub const REJOIN_MAX_DELAY: Duration = Duration::from_secs(15);
/// Longest time one lookup (findNode or findValue, with its pages) may run.
pub const SEARCH_DEADLINE: Duration = Duration::from_secs(30);
/// findValue pages asked of one responder in one lookup, at most.
pub const MAX_PAGES_PER_PEER: u32 = 16;
/// Values (blob peers) one findValue lookup collects, at most.
pub const MAX_VALUES: usize = 1024;
/// Requests one lookup sends (pages not counted), at most.
pub const MAX_QUERIES: u32 = 256;
/// Stored announcements expire after this long.
pub const DATA_EXPIRATION: Duration = Duration::from_secs(86_400);
/// Our announcements are repeated at half the expiry.
pub const REANNOUNCE_INTERVAL: Duration = Duration::from_secs(43_200);
/// Token secret rotation, and how long a received token is cached.
pub const TOKEN_SECRET_REFRESH_INTERVAL: Duration = Duration::from_secs(300);
/// Unknown requesters are pinged back after this delay. lbry-sdk waits five
/// minutes (`MAYBE_PING_DELAY`), which leaves the first nodes of a new
/// network unknown to each other that long; a node that just sent us a
/// request is most likely alive now.
pub const PING_BACK_DELAY: Duration = Duration::from_secs(1);
/// A contact that answered within this window counts as good.
pub const CHECK_REFRESH_INTERVAL: Duration = Duration::from_secs(720);
/// A full bucket prefers to evict a contact that has been silent this long.
pub const STALE_CONTACT_AGE: Duration = Duration::from_secs(60);
/// DHT protocol version sent in `protocolVersion`.
pub const PROTOCOL_VERSION: u32 = 1;
/// Python refuses to send a datagram larger than this.
pub const MSG_SIZE_LIMIT: usize = 1400;
/// Buckets with an index below this always split when full (lbry-sdk's
/// constant; its daemon configures 2).
pub const SPLIT_BUCKETS_UNDER_INDEX: usize = 1;

/// LBRY's public bootstrap nodes (`conf.known_dht_nodes`), all on UDP 4444.
/// Nothing here resolves them; the command line decides when to use them.
pub const DEFAULT_BOOTSTRAP: &[&str] = &[
    "dht.lbry.grin.io:4444",
    "dht.lbry.madiator.com:4444",
    "dht.lbry.pigg.es:4444",
    "lbrynet1.lbry.com:4444",
    "lbrynet2.lbry.com:4444",
    "lbrynet3.lbry.com:4444",
    "lbrynet4.lbry.com:4444",
    "dht.lizard.technology:4444",
    "s2.lbry.network:4444",
];

/// A DHT node as routing sees it: its id and the UDP address it answers on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Contact {
    pub id: NodeId,
    pub addr: SocketAddr,
}

impl Contact {
    pub fn new(id: NodeId, addr: SocketAddr) -> Self {
        Self { id, addr }
    }
}
