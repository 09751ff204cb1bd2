//! LAN discovery: nodes on one local network find each other with no
//! bootstrap node, by multicasting a small announcement
//! (`wire::lan`, docs/protocol.md §10) on a fixed group and port.
//!
//! Why our own datagram rather than mDNS: what we need is one 60-byte
//! message with a node id and two ports, its limits under our control and
//! its handling testable as a pure codec and a pure table; an mDNS
//! responder would bring a daemon thread, a DNS codec and service-name
//! rules for the same three fields.
//!
//! A node announces itself with a burst of queries at start (each one asks
//! every node that hears it to answer at once, so a new node learns the
//! whole LAN within a second or two, even if the first datagram is lost),
//! then a hello every [`LanConfig::announce_every`]. What it hears goes
//! through the [`table::LanTable`] (rate limits, bounds, expiry, our own id
//! ignored); a peer heard for the first time is handed to the caller, which
//! makes it a DHT contact and a blob peer (`node/lan_peers.rs`). An
//! announcement is only ever "try this address": the address is the
//! datagram's source IP, and nothing it says is trusted beyond that.
//!
//! Sockets: one bound to the group's port (shared with other nodes on the
//! host) receives the multicast; another, on a port of its own, sends, and
//! receives the answers to our queries (unicast to it), so several nodes on
//! one host each get their own answers.

mod service;
pub mod table;

pub use service::{start, Lan};
pub use table::{LanPeer, Limits};

use crate::hash::NodeId;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

/// The multicast group announcements go to (administratively scoped, so
/// routers keep it on the site).
pub const GROUP: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(239, 255, 76, 77), 4446);

/// How a node takes part.
#[derive(Debug, Clone)]
pub struct LanConfig {
    pub group: SocketAddrV4,
    /// A hello this often after the start burst.
    pub announce_every: Duration,
    /// Queries sent at start, after these delays (from the start).
    pub start_burst: Vec<Duration>,
    pub limits: Limits,
}

impl Default for LanConfig {
    fn default() -> Self {
        Self {
            group: GROUP,
            announce_every: Duration::from_secs(30),
            start_burst: [0, 1000, 3000].map(Duration::from_millis).to_vec(),
            limits: Limits::default(),
        }
    }
}

/// What we announce about ourselves.
#[derive(Debug, Clone, Copy)]
pub struct Me {
    pub node_id: NodeId,
    pub tcp_port: u16,
    /// 0: we run no DHT node.
    pub udp_port: u16,
}
