//! Answering other nodes: the four RPCs (lbry-sdk's `KademliaRPC`,
//! docs/protocol.md §4.3) and the ping-back of unknown requesters
//! (docs/protocol.md §4.4).
//!
//! Requests are answered on the receive task, synchronously and under short
//! locks, so nothing here waits on the network; the ping-back, which does,
//! runs on its own named task after `NodeConfig::ping_back_delay`. A
//! requester is never added to the routing table from its request alone (a
//! spoofed source must not insert itself): only when it answers our ping.
//!
//! Answers hand out only contacts that are not bad (see `routing.rs`), and
//! only blob peers the address policy accepts.

use std::net::{SocketAddr, SocketAddrV4};
use std::sync::Weak;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use tokio::sync::mpsc;
use tracing::debug;

use super::node::{lock, Inner};
use super::rpc::{ipv4, value_error, Handler, Reply};
use super::{Contact, K};
use crate::hash::NodeId;
use crate::task;
use crate::wire::dht::{self, CompactPeer, FindValueResult, Request, Response};

impl Inner {
    /// The K closest contacts to `key` in wire form, without `exclude`.
    fn wire_contacts(&self, key: &NodeId, exclude: &NodeId) -> Vec<dht::Contact> {
        lock(&self.routing)
            .closest(key, K, Some(exclude))
            .into_iter()
            .filter_map(|c| match c.addr {
                SocketAddr::V4(a) => Some(dht::Contact {
                    node_id: c.id,
                    ip: *a.ip(),
                    udp_port: a.port(),
                }),
                SocketAddr::V6(_) => None,
            })
            .collect()
    }

    fn queue_ping_back(&self, contact: Contact) {
        // A known contact is pinged back too when it had failed us: its
        // request says it may be alive again.
        let known = lock(&self.routing)
            .get(&contact.id)
            .is_some_and(|e| e.failures() == 0);
        if known || !lock(&self.queued).insert(contact.id) {
            return;
        }
        let due = Instant::now() + self.ping_back_delay;
        if self.ping_back.try_send((contact, due)).is_err() {
            lock(&self.queued).remove(&contact.id);
        }
    }

    fn find_value(&self, from: SocketAddr, sender: NodeId, key: NodeId, page: u32) -> Reply {
        let Some(ip) = ipv4(from) else {
            return Reply::Ignore;
        };
        let now = Instant::now();
        let token = {
            let (tokens, rng) = &mut *lock(&self.tokens);
            tokens.issue(ip, now, rng)
        };
        let mut all = lock(&self.peers).peers(&key, now);
        all.retain(|p| {
            p.node_id != sender
                && self
                    .policy
                    .accepts(SocketAddrV4::new(p.ip, p.tcp_port).into())
        });
        if let (Some(port), SocketAddr::V4(own)) =
            (lock(&self.serving).port(&key, now), self.rpc.local_addr())
        {
            // Like lbry-sdk: a node that has the blob adds itself while it knows
            // fewer than K peers. Only when bound to a concrete address: behind
            // 0.0.0.0 our reachable address is not known here.
            if all.len() < K && !own.ip().is_unspecified() && sender != self.id {
                all.push(CompactPeer {
                    ip: *own.ip(),
                    tcp_port: port,
                    node_id: self.id,
                });
            }
        }
        if all.len() > K {
            // lbry-sdk shuffles with its own id as seed: stable per responder.
            let mut seed = [0u8; 32];
            seed.copy_from_slice(&self.id.as_bytes()[..32]);
            all.shuffle(&mut StdRng::from_seed(seed));
        }
        // The true page count; lbry-sdk's `len // (K + 1) + 1` agrees up to
        // 2K peers and under-counts beyond.
        let pages = all.len().div_ceil(K) as u32;
        let peers: Vec<CompactPeer> = all.into_iter().skip(page as usize * K).take(K).collect();
        Reply::Response(Response::FindValue(FindValueResult {
            key,
            token,
            contacts: (page == 0).then(|| self.wire_contacts(&key, &sender)),
            peers,
            pages,
        }))
    }

    fn store(&self, from: SocketAddr, sender: NodeId, args: dht::StoreArgs) -> Reply {
        let Some(ip) = ipv4(from) else {
            return Reply::Ignore;
        };
        let now = Instant::now();
        let valid = {
            let (tokens, rng) = &mut *lock(&self.tokens);
            tokens.verify(&args.token, ip, now, rng)
        };
        if !valid {
            return Reply::Error(value_error("Invalid token".into()));
        }
        if !self.policy.accepts(SocketAddrV4::new(ip, args.port).into()) {
            return Reply::Error(value_error(format!("invalid tcp port: {}", args.port)));
        }
        let peer = CompactPeer {
            ip,
            tcp_port: args.port,
            node_id: sender,
        };
        match lock(&self.peers).add(args.key, peer, now) {
            Ok(()) => Reply::Response(Response::Ok),
            Err(e) => Reply::Error(value_error(e.to_string())),
        }
    }
}

impl Handler for Inner {
    fn handle(&self, from: SocketAddr, sender: NodeId, request: Request) -> Reply {
        if !self.policy.accepts(from) || sender == self.id {
            return Reply::Ignore;
        }
        self.queue_ping_back(Contact::new(sender, from));
        match request {
            Request::Ping => Reply::Response(Response::Pong),
            Request::Store(args) => self.store(from, sender, args),
            Request::FindNode { key } => {
                Reply::Response(Response::Contacts(self.wire_contacts(&key, &sender)))
            }
            Request::FindValue { key, page } => self.find_value(from, sender, key, page),
        }
    }
}

pub(super) async fn ping_back_loop(inner: Weak<Inner>, mut rx: mpsc::Receiver<(Contact, Instant)>) {
    while let Some((contact, due)) = rx.recv().await {
        tokio::time::sleep_until(due.into()).await;
        let Some(node) = inner.upgrade() else {
            return;
        };
        let Ok(permit) = node.checks.clone().acquire_owned().await else {
            return;
        };
        let span = tracing::debug_span!("ping_back", peer = %contact.addr);
        task::spawn("dht_ping_back_one", span, async move {
            let _permit = permit;
            if let Err(e) = node.ping(contact.addr).await {
                debug!(error = %e, "requester did not answer our ping");
            }
            lock(&node.queued).remove(&contact.id);
        });
    }
}
