//! Who announced what (BEP 5 `announce_peer`), and the tokens that make an
//! announce prove the announcer asked us from its own IP first.
//!
//! Bounded: at most [`MAX_INFOHASHES`] infohashes and [`MAX_PER_HASH`] peers
//! each; an announce is kept [`PEER_TTL`]. A token is the first 8 bytes of
//! SHA-256(secret ‖ IP); the secret turns over every [`TOKEN_TURN`] and the
//! previous one is still accepted, so a token lives 5 to 10 minutes. PURE:
//! the caller passes `now` and the randomness.

use crate::wire::krpc::Id20;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

pub const MAX_INFOHASHES: usize = 4096;
pub const MAX_PER_HASH: usize = 100;
pub const PEER_TTL: Duration = Duration::from_secs(30 * 60);
pub const TOKEN_TURN: Duration = Duration::from_secs(5 * 60);

#[derive(Debug)]
pub struct Peers {
    by_hash: HashMap<Id20, Vec<(SocketAddrV4, Instant)>>,
    secrets: [[u8; 16]; 2],
    turned: Instant,
}

impl Peers {
    pub fn new(secret: [u8; 16], now: Instant) -> Self {
        Self {
            by_hash: HashMap::new(),
            secrets: [secret, secret],
            turned: now,
        }
    }

    /// Turns the secret over if it is due; `fresh` is the next secret.
    pub fn tick(&mut self, now: Instant, fresh: [u8; 16]) {
        if now.duration_since(self.turned) >= TOKEN_TURN {
            self.secrets = [fresh, self.secrets[0]];
            self.turned = now;
        }
    }

    fn token_with(secret: &[u8; 16], ip: &Ipv4Addr) -> Vec<u8> {
        let mut h = Sha256::new();
        h.update(secret);
        h.update(ip.octets());
        h.finalize()[..8].to_vec()
    }

    /// The token to hand a `get_peers` asker at `ip`.
    pub fn token(&self, ip: &Ipv4Addr) -> Vec<u8> {
        Self::token_with(&self.secrets[0], ip)
    }

    /// Whether `token` was handed to `ip` lately.
    pub fn valid(&self, ip: &Ipv4Addr, token: &[u8]) -> bool {
        self.secrets
            .iter()
            .any(|s| Self::token_with(s, ip) == token)
    }

    /// Records `peer` for `info_hash`; false if the store is full.
    pub fn announce(&mut self, info_hash: Id20, peer: SocketAddrV4, now: Instant) -> bool {
        self.expire(now);
        if !self.by_hash.contains_key(&info_hash) && self.by_hash.len() >= MAX_INFOHASHES {
            return false;
        }
        let list = self.by_hash.entry(info_hash).or_default();
        if let Some(e) = list.iter_mut().find(|(p, _)| *p == peer) {
            e.1 = now;
        } else if list.len() < MAX_PER_HASH {
            list.push((peer, now));
        } else {
            return false;
        }
        true
    }

    /// Live peers of `info_hash`, at most `n`.
    pub fn get(&self, info_hash: &Id20, now: Instant, n: usize) -> Vec<SocketAddrV4> {
        let Some(list) = self.by_hash.get(info_hash) else {
            return Vec::new();
        };
        list.iter()
            .filter(|(_, t)| now.duration_since(*t) < PEER_TTL)
            .map(|(p, _)| *p)
            .take(n)
            .collect()
    }

    /// Up to `n` of the infohashes we hold peers for (BEP 51), and how many
    /// there are in all.
    pub fn sample(&self, n: usize) -> (Vec<Id20>, usize) {
        (
            self.by_hash.keys().take(n).copied().collect(),
            self.by_hash.len(),
        )
    }

    fn expire(&mut self, now: Instant) {
        self.by_hash.retain(|_, list| {
            list.retain(|(_, t)| now.duration_since(*t) < PEER_TTL);
            !list.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(p: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, p)
    }

    #[test]
    fn a_token_is_bound_to_the_ip_and_outlives_one_turn_but_not_two() {
        let t0 = Instant::now();
        let mut p = Peers::new([1; 16], t0);
        let ip = Ipv4Addr::new(10, 0, 0, 1);
        let tok = p.token(&ip);
        assert!(p.valid(&ip, &tok));
        assert!(!p.valid(&Ipv4Addr::new(10, 0, 0, 2), &tok));
        p.tick(t0 + TOKEN_TURN, [2; 16]);
        assert!(p.valid(&ip, &tok), "the previous secret still counts");
        p.tick(t0 + TOKEN_TURN * 2, [3; 16]);
        assert!(!p.valid(&ip, &tok));
    }

    #[test]
    fn announces_are_bounded_and_expire() {
        let t0 = Instant::now();
        let mut p = Peers::new([0; 16], t0);
        for port in 1..=MAX_PER_HASH as u16 + 10 {
            p.announce([7; 20], peer(port), t0);
        }
        assert_eq!(p.get(&[7; 20], t0, 1000).len(), MAX_PER_HASH);
        for i in 0..MAX_INFOHASHES + 5 {
            let mut ih = [0u8; 20];
            ih[..8].copy_from_slice(&(i as u64).to_be_bytes());
            p.announce(ih, peer(1), t0);
        }
        assert_eq!(p.sample(0).1, MAX_INFOHASHES);
        assert!(p.get(&[7; 20], t0 + PEER_TTL, 10).is_empty());
        p.announce([9; 20], peer(1), t0 + PEER_TTL);
        assert_eq!(
            p.sample(10).1,
            1,
            "expired hashes leave on the next announce"
        );
    }
}
