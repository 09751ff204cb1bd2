//! What a node keeps for others: announced blob peers and store tokens
//! (lbry-sdk's `DictDataStore` and `KademliaRPC` tokens, docs/protocol.md §4.3).
//!
//! A record is the *sender's* UDP source IP, the TCP port from the store and
//! the sender's node id (never the `original_publisher` argument, which
//! anyone can forge). Records expire after `DATA_EXPIRATION`. lbry-sdk keeps
//! everything it is sent; we cap records per key and per source IP so one
//! host cannot fill our memory, and a re-announce replaces the sender's old
//! record instead of adding one.
//!
//! Tokens are `SHA384(secret || requester IPv4)`. The secret rotates every
//! `TOKEN_SECRET_REFRESH_INTERVAL` and the previous one is still accepted, so
//! a token lives between one and two intervals. lbry-sdk no longer checks
//! tokens; other implementations do, and we do.
//!
//! Pure: every method takes `now`, rotation takes the random generator.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use crate::sha384::Sha384;
use rand::Rng;

use super::{DATA_EXPIRATION, TOKEN_SECRET_REFRESH_INTERVAL};
use crate::hash::NodeId;
use crate::wire::dht::{CompactPeer, Token};

/// Limits of the peer store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// How long a record lives.
    pub expiry: Duration,
    /// Records kept per key; further announcers are refused.
    pub max_per_key: usize,
    /// Records kept per source IP, across all keys.
    pub max_per_source: usize,
    /// Records kept in all, whatever their source: many hosts together
    /// cannot fill our memory either.
    pub max_records: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            expiry: DATA_EXPIRATION,
            max_per_key: 512,
            max_per_source: 1024,
            max_records: 65_536,
        }
    }
}

/// Why a store was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("too many peers for this key (limit {0})")]
    KeyFull(usize),
    #[error("too many records from {ip} (limit {limit})")]
    SourceFull { ip: Ipv4Addr, limit: usize },
    #[error("the peer store is full (limit {0})")]
    Full(usize),
}

#[derive(Debug, Clone)]
struct Record {
    peer: CompactPeer,
    stored_at: Instant,
}

/// Announced peers by key.
#[derive(Debug, Clone, Default)]
pub struct PeerStore {
    config: StoreConfig,
    by_key: HashMap<NodeId, Vec<Record>>,
    per_source: HashMap<Ipv4Addr, usize>,
    /// Records held, all keys together.
    total: usize,
}

impl PeerStore {
    pub fn new(config: StoreConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// Records `peer` under `key`; a record from the same node id is replaced.
    pub fn add(&mut self, key: NodeId, peer: CompactPeer, now: Instant) -> Result<(), StoreError> {
        self.expire(now);
        let records = self.by_key.entry(key).or_default();
        if let Some(pos) = records.iter().position(|r| r.peer.node_id == peer.node_id) {
            let old = records.remove(pos);
            dec(&mut self.per_source, old.peer.ip);
            self.total -= 1;
        }
        let result = if records.len() >= self.config.max_per_key {
            Err(StoreError::KeyFull(self.config.max_per_key))
        } else if self.per_source.get(&peer.ip).copied().unwrap_or(0) >= self.config.max_per_source
        {
            Err(StoreError::SourceFull {
                ip: peer.ip,
                limit: self.config.max_per_source,
            })
        } else if self.total >= self.config.max_records {
            Err(StoreError::Full(self.config.max_records))
        } else {
            records.push(Record {
                peer,
                stored_at: now,
            });
            *self.per_source.entry(peer.ip).or_default() += 1;
            self.total += 1;
            Ok(())
        };
        if records.is_empty() {
            self.by_key.remove(&key);
        }
        result
    }

    /// The live records under `key`, oldest first.
    pub fn peers(&self, key: &NodeId, now: Instant) -> Vec<CompactPeer> {
        self.by_key
            .get(key)
            .map(|rs| {
                rs.iter()
                    .filter(|r| now.saturating_duration_since(r.stored_at) < self.config.expiry)
                    .map(|r| r.peer)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Drops expired records.
    pub fn expire(&mut self, now: Instant) {
        let expiry = self.config.expiry;
        let (per_source, total) = (&mut self.per_source, &mut self.total);
        self.by_key.retain(|_, rs| {
            rs.retain(|r| {
                let live = now.saturating_duration_since(r.stored_at) < expiry;
                if !live {
                    dec(per_source, r.peer.ip);
                    *total -= 1;
                }
                live
            });
            !rs.is_empty()
        });
    }

    /// Number of live and not yet pruned records.
    pub fn len(&self) -> usize {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

fn dec(map: &mut HashMap<Ipv4Addr, usize>, ip: Ipv4Addr) {
    if let Some(n) = map.get_mut(&ip) {
        *n -= 1;
        if *n == 0 {
            map.remove(&ip);
        }
    }
}

/// The keys whose blob this node serves itself, with the TCP port: findValue
/// answers name us for them (as lbry-sdk does). An entry lives as long as an
/// announcement would unless announced again, and the map holds at most
/// `cap` keys (the oldest announced goes first), so announcing never grows
/// it without bound.
#[derive(Debug, Clone)]
pub struct ServedKeys {
    cap: usize,
    keys: HashMap<NodeId, (u16, Instant)>,
}

impl ServedKeys {
    pub fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(1),
            keys: HashMap::new(),
        }
    }

    /// We serve `key` on `port` as of `now`.
    pub fn insert(&mut self, key: NodeId, port: u16, now: Instant) {
        if !self.keys.contains_key(&key) && self.keys.len() >= self.cap {
            self.expire(now);
            if self.keys.len() >= self.cap {
                let oldest = self
                    .keys
                    .iter()
                    .min_by_key(|(_, (_, at))| *at)
                    .map(|(k, _)| *k);
                if let Some(k) = oldest {
                    self.keys.remove(&k);
                }
            }
        }
        self.keys.insert(key, (port, now));
    }

    /// The port we serve `key` on, if we announced it within the expiry.
    pub fn port(&self, key: &NodeId, now: Instant) -> Option<u16> {
        self.keys
            .get(key)
            .filter(|(_, at)| now.saturating_duration_since(*at) < DATA_EXPIRATION)
            .map(|(port, _)| *port)
    }

    /// Drops keys not announced within the expiry.
    pub fn expire(&mut self, now: Instant) {
        self.keys
            .retain(|_, (_, at)| now.saturating_duration_since(*at) < DATA_EXPIRATION);
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Store tokens with a rotating secret.
#[derive(Debug, Clone)]
pub struct Tokens {
    secret: [u8; 48],
    previous: Option<[u8; 48]>,
    rotated_at: Instant,
    interval: Duration,
}

impl Tokens {
    pub fn new(now: Instant, rng: &mut impl Rng) -> Self {
        Self {
            secret: random_secret(rng),
            previous: None,
            rotated_at: now,
            interval: TOKEN_SECRET_REFRESH_INTERVAL,
        }
    }

    /// The token for `ip` under the current secret.
    pub fn issue(&mut self, ip: Ipv4Addr, now: Instant, rng: &mut impl Rng) -> Token {
        self.rotate(now, rng);
        token_for(&self.secret, ip)
    }

    /// Whether `token` was issued to `ip` under the current or previous secret.
    pub fn verify(
        &mut self,
        token: &Token,
        ip: Ipv4Addr,
        now: Instant,
        rng: &mut impl Rng,
    ) -> bool {
        self.rotate(now, rng);
        token_for(&self.secret, ip) == *token
            || self.previous.is_some_and(|p| token_for(&p, ip) == *token)
    }

    /// Rotates once per elapsed interval (at most twice: after two, no
    /// token issued before is valid any more).
    fn rotate(&mut self, now: Instant, rng: &mut impl Rng) {
        let elapsed = now.saturating_duration_since(self.rotated_at);
        let times = (elapsed.as_secs_f64() / self.interval.as_secs_f64()).floor() as u32;
        for _ in 0..times.min(2) {
            self.previous = Some(self.secret);
            self.secret = random_secret(rng);
        }
        if times > 0 {
            self.rotated_at = now;
        }
    }
}

fn random_secret(rng: &mut impl Rng) -> [u8; 48] {
    let mut seed = [0u8; 64];
    rng.fill(&mut seed[..]);
    Sha384::digest(seed)
}

fn token_for(secret: &[u8; 48], ip: Ipv4Addr) -> Token {
    let mut h = Sha384::new();
    h.update(secret);
    h.update(ip.octets());
    h.finalize()
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
