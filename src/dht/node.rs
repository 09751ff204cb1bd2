//! A DHT node: answers the four RPCs for others and searches for us
//! (lbry-sdk's `Node` and `KademliaRPC`, PROTOCOL.md §4.3–4.5).
//!
//! The node glues the pure parts (routing table, peer store, tokens,
//! lookups) to the UDP endpoint. Requests are answered synchronously on the
//! receive task under short locks; anything that waits on the network (ping
//! backs, checking a stale contact) runs on its own named task.
//!
//! Who gets into the routing table: every node that answers one of our
//! requests. A node that only sends us requests is pinged back after
//! `NodeConfig::ping_back_delay` (lbry-sdk's `MAYBE_PING_DELAY`, 300 s) and
//! added when it answers, so a spoofed source cannot insert itself.
//!
//! Addresses follow [`AddrPolicy`]: on loopback or LAN everything works
//! without flags; bound elsewhere, only public IPv4 with ports ≥ 1024 is
//! accepted, stored or handed out. Under the local policy the routing table's
//! per-IP cap is lifted, since local test nodes all share one address.
//!
//! Answering requests is in `handler.rs`; the searches (`find_node`,
//! `find_peers`, `announce`) are in `search.rs`.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use tracing::{debug, info};

use super::handler::ping_back_loop;
use super::policy::AddrPolicy;
use super::routing::{Observed, RoutingConfig, RoutingTable};
use super::rpc::{Rpc, RpcConfig, RpcError};
use super::store::{PeerStore, StoreConfig, Tokens};
use super::{Contact, MAYBE_PING_DELAY};
use crate::fetch::task;
use crate::hash::NodeId;
use crate::wire::dht::{self, Request, Response};

/// How a node is set up; `Default` is lbry-sdk's behaviour.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Our node id; random when `None`.
    pub node_id: Option<NodeId>,
    pub rpc: RpcConfig,
    /// Overrides the policy chosen from the bound address.
    pub addr_policy: Option<AddrPolicy>,
    pub routing: RoutingConfig,
    pub store: StoreConfig,
    /// Delay before an unknown requester is pinged back.
    pub ping_back_delay: Duration,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            node_id: None,
            rpc: RpcConfig::default(),
            addr_policy: None,
            routing: RoutingConfig::default(),
            store: StoreConfig::default(),
            ping_back_delay: MAYBE_PING_DELAY,
        }
    }
}

/// Why a node operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DhtError {
    #[error("cannot bind the DHT socket to {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the LBRY DHT is IPv4 only, cannot bind {0}")]
    NotIpv4(SocketAddr),
    #[error("none of the {tried} bootstrap nodes answered")]
    NoBootstrap { tried: usize },
    #[error("tcp port {0} is outside 1..65535")]
    BadPort(u16),
    #[error("no node accepted the announcement ({tried} asked)")]
    NotStored { tried: usize },
}

/// Unknown requesters waiting for their ping-back, at most.
const PING_BACK_QUEUE: usize = 256;
/// Network checks (ping-backs, stale contacts) running at once, at most.
const CHECKS_IN_FLIGHT: usize = 32;
/// How often expired announcements are pruned.
const EXPIRE_EVERY: Duration = Duration::from_secs(60);

/// The shared state; `Node` is its owning handle.
pub(super) struct Inner {
    pub(super) id: NodeId,
    pub(super) policy: AddrPolicy,
    pub(super) rpc: Rpc,
    pub(super) routing: Mutex<RoutingTable>,
    pub(super) peers: Mutex<PeerStore>,
    /// Keys whose blob this node serves itself, with the TCP port: findValue
    /// answers add our own address for them, as lbry-sdk does.
    pub(super) serving: Mutex<HashMap<NodeId, u16>>,
    pub(super) tokens: Mutex<(Tokens, StdRng)>,
    pub(super) ping_back: mpsc::Sender<(Contact, Instant)>,
    /// Requesters waiting for their ping-back.
    pub(super) queued: Mutex<HashSet<NodeId>>,
    pub(super) checks: Arc<Semaphore>,
    pub(super) ping_back_delay: Duration,
}

/// A running DHT node. Dropping it (or [`Node::shutdown`]) stops its tasks.
pub struct Node {
    pub(super) inner: Arc<Inner>,
    tasks: Vec<JoinHandle<()>>,
}

impl Node {
    /// Binds the UDP socket and starts answering requests.
    pub async fn bind(addr: SocketAddr, config: NodeConfig) -> Result<Node, DhtError> {
        if !addr.is_ipv4() {
            return Err(DhtError::NotIpv4(addr));
        }
        let bind_err = |source| DhtError::Bind { addr, source };
        let socket = UdpSocket::bind(addr).await.map_err(bind_err)?;
        let local = socket.local_addr().map_err(bind_err)?;
        let id = config
            .node_id
            .unwrap_or_else(|| NodeId::from_bytes(random48()));
        let policy = config
            .addr_policy
            .unwrap_or_else(|| AddrPolicy::for_bound(local.ip()));
        let mut routing = config.routing.clone();
        if policy == AddrPolicy::Local {
            routing.max_per_ip = usize::MAX;
        }
        let now = Instant::now();
        let mut rng = StdRng::from_entropy();
        let (tx, rx) = mpsc::channel(PING_BACK_QUEUE);
        let inner = Arc::new_cyclic(|weak: &Weak<Inner>| Inner {
            id,
            policy,
            rpc: Rpc::new(socket, local, id, config.rpc.clone(), weak.clone()),
            routing: Mutex::new(RoutingTable::new(id, routing, now)),
            peers: Mutex::new(PeerStore::new(config.store.clone())),
            serving: Mutex::new(HashMap::new()),
            tokens: Mutex::new((Tokens::new(now, &mut rng), rng)),
            ping_back: tx,
            queued: Mutex::new(HashSet::new()),
            checks: Arc::new(Semaphore::new(CHECKS_IN_FLIGHT)),
            ping_back_delay: config.ping_back_delay,
        });
        let span = tracing::debug_span!("dht_node", id = %id.short(), local = %local);
        let weak = Arc::downgrade(&inner);
        let tasks = vec![
            task::spawn(
                "dht_ping_back",
                span.clone(),
                ping_back_loop(weak.clone(), rx),
            ),
            task::spawn("dht_maintenance", span, maintenance_loop(weak)),
        ];
        info!(id = %id.short(), local = %local, ?policy, "DHT node listening");
        Ok(Node { inner, tasks })
    }

    pub fn id(&self) -> NodeId {
        self.inner.id
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.inner.rpc.local_addr()
    }

    pub fn policy(&self) -> AddrPolicy {
        self.inner.policy
    }

    /// Contacts in the routing table.
    pub fn routing_len(&self) -> usize {
        lock(&self.inner.routing).len()
    }

    /// Every contact in the routing table, closest to our own id first.
    pub fn contacts(&self) -> Vec<Contact> {
        let own = self.inner.id;
        lock(&self.inner.routing).closest(&own, usize::MAX, None)
    }

    /// Announcement records held for others.
    pub fn stored_len(&self) -> usize {
        lock(&self.inner.peers).len()
    }

    /// Pings `addr`; on an answer the node joins the routing table.
    pub async fn ping(&self, addr: SocketAddr) -> Result<NodeId, RpcError> {
        self.inner.ping(addr).await
    }

    /// Pings the bootstrap nodes, then looks up our own id to fill the
    /// routing table. Returns the routing table's size.
    pub async fn join(&self, bootstrap: &[SocketAddr]) -> Result<usize, DhtError> {
        let mut set = tokio::task::JoinSet::new();
        for &addr in bootstrap {
            let inner = self.inner.clone();
            let span = tracing::debug_span!("bootstrap", peer = %addr);
            task::spawn_in(&mut set, "dht_bootstrap_ping", span, async move {
                inner.ping(addr).await
            });
        }
        let mut answered = 0;
        while let Some(res) = set.join_next().await {
            match res {
                Ok(Ok(_)) => answered += 1,
                Ok(Err(e)) => debug!(error = %e, "bootstrap node did not answer"),
                Err(e) => debug!(error = %e, "bootstrap ping task failed"),
            }
        }
        if answered == 0 {
            return Err(DhtError::NoBootstrap {
                tried: bootstrap.len(),
            });
        }
        self.find_node(self.inner.id).await;
        let size = self.routing_len();
        info!(answered, contacts = size, "joined the DHT");
        Ok(size)
    }

    /// Stops answering and fails pending calls; searches in progress end
    /// with what they have.
    pub fn shutdown(&self) {
        self.inner.rpc.shutdown();
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl crate::fetch::PeerFinder for Node {
    fn find_peers(
        &self,
        hash: crate::hash::BlobHash,
    ) -> crate::fetch::BoxFuture<'_, Vec<SocketAddr>> {
        Box::pin(Node::find_peers(self, hash))
    }
}

impl Inner {
    pub(super) async fn ping(self: &Arc<Self>, addr: SocketAddr) -> Result<NodeId, RpcError> {
        let (id, response) = self.call(addr, Request::Ping).await?;
        match response {
            Response::Pong => Ok(id),
            _ => Err(RpcError::Invalid(dht::Invalid::UnexpectedResult("ping"))),
        }
    }

    /// One request; a node that answers is observed.
    pub(super) async fn call(
        self: &Arc<Self>,
        addr: SocketAddr,
        request: Request,
    ) -> Result<(NodeId, Response), RpcError> {
        let answer = self.rpc.call(addr, request).await;
        if let Ok((id, _)) = &answer {
            self.observe(Contact::new(*id, addr));
        }
        answer
    }

    /// A request to `id` failed: routing stops handing it out.
    pub(super) fn failed(&self, id: &NodeId) {
        let _ = lock(&self.routing).failed(id);
    }

    /// `contact` answered us: into the routing table, asking about a stale
    /// contact first when its bucket is full.
    pub(super) fn observe(self: &Arc<Self>, contact: Contact) {
        if !self.policy.accepts(contact.addr) {
            return;
        }
        let outcome = lock(&self.routing).observe(contact, Instant::now());
        if let Ok(Observed::BucketFull { stale }) = outcome {
            let Ok(permit) = self.checks.clone().try_acquire_owned() else {
                return;
            };
            let inner = self.clone();
            let span = tracing::debug_span!("check_stale", peer = %stale.addr);
            task::spawn("dht_check_stale", span, async move {
                let _permit = permit;
                if inner.rpc.call(stale.addr, Request::Ping).await.is_ok() {
                    let _ = lock(&inner.routing).observe(stale, Instant::now());
                } else {
                    let _ = lock(&inner.routing).replace(&stale.id, contact, Instant::now());
                }
            });
        }
    }
}

async fn maintenance_loop(inner: Weak<Inner>) {
    let mut tick = tokio::time::interval(EXPIRE_EVERY);
    loop {
        tick.tick().await;
        let Some(node) = inner.upgrade() else {
            return;
        };
        lock(&node.peers).expire(Instant::now());
    }
}

fn random48() -> [u8; 48] {
    let mut b = [0u8; 48];
    rand::Rng::fill(&mut rand::thread_rng(), &mut b[..]);
    b
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The guarded data stays consistent between statements; a panic elsewhere
    // must not take the node down with it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}
