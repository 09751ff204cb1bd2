//! The LAN peer table: who announced themselves on the local network, and
//! what of the datagrams we heard we are willing to act on.
//!
//! Everything here is bounded, because anyone on the LAN can send us
//! datagrams: a token bucket per source IP and one for all sources decide
//! which datagrams are even read ([`LanTable::admit`]); the table holds at
//! most [`Limits::max_peers`] peers and [`Limits::max_per_ip`] per address,
//! keeps those it has (a flood cannot push a live peer out) and forgets a
//! peer silent for [`Limits::expire_after`]. Our own node id is never a peer,
//! wherever the datagram carrying it came from.
//!
//! An entry is keyed by (source IP, node id): a datagram can refresh or add
//! only an entry of the address it came from, so a forged one cannot move a
//! real peer elsewhere. Pure: the caller passes `now`.

use crate::dht::rate::RateLimiter;
use crate::hash::NodeId;
use crate::wire::lan::Announcement;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

/// The table's bounds.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_peers: usize,
    pub max_per_ip: usize,
    /// Datagrams read from one source IP: burst, then per second.
    pub per_source: (u32, u32),
    /// Datagrams read from all sources together: burst, then per second.
    pub total: (u32, u32),
    /// A peer not heard from for this long is forgotten.
    pub expire_after: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_peers: 64,
            max_per_ip: 4,
            per_source: (16, 4),
            total: (256, 64),
            // Three missed announcements (every 30 s), and some slack.
            expire_after: Duration::from_secs(100),
        }
    }
}

/// A node heard on the LAN: where to try it, nothing more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LanPeer {
    pub node_id: NodeId,
    pub ip: IpAddr,
    pub tcp_port: u16,
    /// 0: it runs no DHT node.
    pub udp_port: u16,
    pub last_seen: Instant,
}

impl LanPeer {
    /// Its blob server.
    pub fn blob_addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip, self.tcp_port)
    }

    /// Its DHT node, if it runs one.
    pub fn dht_addr(&self) -> Option<SocketAddr> {
        (self.udp_port != 0).then(|| SocketAddr::new(self.ip, self.udp_port))
    }
}

/// What [`LanTable::accept`] did with an announcement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A peer we did not know: try it.
    New(LanPeer),
    /// A known peer, heard again (its ports may have changed).
    Refreshed(LanPeer),
    /// It carried our own node id: ignored.
    Own,
    /// The table, or this address's share of it, is full: ignored.
    Full,
}

/// What was ignored, for `status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ignored {
    pub malformed: u64,
    pub rate_limited: u64,
    pub own_id: u64,
    pub table_full: u64,
}

/// The peers heard on the LAN (see the module docs).
#[derive(Debug)]
pub struct LanTable {
    own: NodeId,
    limits: Limits,
    peers: HashMap<(IpAddr, NodeId), LanPeer>,
    per_source: RateLimiter,
    total: RateLimiter,
    ignored: Ignored,
}

/// The one key of the all-sources bucket.
const ALL: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);

impl LanTable {
    pub fn new(own: NodeId, limits: Limits) -> Self {
        Self {
            own,
            per_source: RateLimiter::new(limits.per_source.0, limits.per_source.1),
            total: RateLimiter::new(limits.total.0, limits.total.1),
            limits,
            peers: HashMap::new(),
            ignored: Ignored::default(),
        }
    }

    /// Whether a datagram from `from` may be read at all (rate limits).
    pub fn admit(&mut self, from: IpAddr, now: Instant) -> bool {
        // The source's own bucket first: one noisy host must not drain the
        // bucket every other host shares.
        let ok = self.per_source.allow(SocketAddr::new(from, 0), now) && self.total.allow(ALL, now);
        if !ok {
            self.ignored.rate_limited += 1;
        }
        ok
    }

    /// A datagram that was not an announcement.
    pub fn malformed(&mut self) {
        self.ignored.malformed += 1;
    }

    /// An announcement read from a datagram whose source IP is `from`.
    pub fn accept(&mut self, from: IpAddr, a: &Announcement, now: Instant) -> Outcome {
        if a.node_id == self.own {
            self.ignored.own_id += 1;
            return Outcome::Own;
        }
        let peer = LanPeer {
            node_id: a.node_id,
            ip: from,
            tcp_port: a.tcp_port,
            udp_port: a.udp_port,
            last_seen: now,
        };
        if let Some(known) = self.peers.get_mut(&(from, a.node_id)) {
            *known = peer;
            return Outcome::Refreshed(peer);
        }
        self.expire(now);
        let from_ip = self.peers.keys().filter(|(ip, _)| *ip == from).count();
        if self.peers.len() >= self.limits.max_peers || from_ip >= self.limits.max_per_ip {
            self.ignored.table_full += 1;
            return Outcome::Full;
        }
        self.peers.insert((from, a.node_id), peer);
        Outcome::New(peer)
    }

    /// Forgets peers silent for too long; returns how many.
    pub fn expire(&mut self, now: Instant) -> usize {
        let before = self.peers.len();
        let after = self.limits.expire_after;
        self.peers
            .retain(|_, p| now.saturating_duration_since(p.last_seen) < after);
        before - self.peers.len()
    }

    /// The live peers, most recently heard first.
    pub fn peers(&self, now: Instant) -> Vec<LanPeer> {
        let after = self.limits.expire_after;
        let mut out: Vec<LanPeer> = self
            .peers
            .values()
            .filter(|p| now.saturating_duration_since(p.last_seen) < after)
            .copied()
            .collect();
        out.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then(a.ip.cmp(&b.ip)));
        out
    }

    pub fn ignored(&self) -> Ignored {
        self.ignored
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
