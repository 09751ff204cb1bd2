//! A DHT node: answers the four RPCs for others and searches for us
//! (lbry-sdk's `Node` and `KademliaRPC`, docs/protocol.md §4.3–4.5).
//!
//! The node glues the pure parts (routing table, peer store, tokens,
//! lookups) to the UDP endpoint, and owns their lifecycle: `bind` starts the
//! named background tasks, `shutdown` (or drop) saves the state file and
//! stops them. Anything that waits on the network runs on its own task.
//!
//! Who gets into the routing table: every node that answers one of our
//! requests. Who leaves it: a contact whose requests fail, whichever request
//! it was (lookup, store, refresh ping), collects failures until it is
//! evicted (`routing.rs`). A node that only sends us requests is pinged back
//! first (`handler.rs`).
//!
//! Addresses follow [`AddrPolicy`]: on loopback or LAN everything works
//! without flags; bound elsewhere, only public IPv4 with ports ≥ 1024 is
//! accepted, stored or handed out. Under the local policy the routing table's
//! per-IP cap is lifted, since local test nodes all share one address.
//!
//! Elsewhere: answering requests in `handler.rs`; the searches (`find_node`,
//! `find_peers`, `announce`) in `search.rs`; joining, the refresh loop and
//! state snapshots in `maintain.rs`; the state file format in `state.rs`.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use tracing::{debug, info};

use super::handler::ping_back_loop;
use super::maintain::{load_state, maintenance_loop, refresh_loop, watch_loop};
use super::policy::AddrPolicy;
use super::routing::{Failure, Observed, RoutingConfig, RoutingTable};
use super::rpc::{Rpc, RpcConfig, RpcError};
use super::state::SavedState;
use super::store::{PeerStore, ServedKeys, StoreConfig, Tokens};
use super::{Contact, CHECK_REFRESH_INTERVAL, PING_BACK_DELAY, REJOIN_MAX_DELAY, SEARCH_DEADLINE};
use crate::hash::NodeId;
use crate::task;
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
    /// Where the node id and a snapshot of live contacts are kept across
    /// restarts (`state.rs`); `None` keeps nothing. An unreadable file is
    /// logged and ignored.
    pub state_file: Option<PathBuf>,
    /// Period of the refresh loop: lookups in stale buckets and pings to the
    /// contacts that are not good.
    pub refresh_every: Duration,
    /// The longest wait between rejoins while no contact is live (the first
    /// retry comes after a second, each next one waits twice as long).
    pub rejoin_every: Duration,
    /// Longest time one lookup may run, pages included; an announce adds
    /// its stores (each with the rpc deadline) after it.
    pub search_deadline: Duration,
    /// How often the state file is rewritten (besides at shutdown).
    pub save_every: Duration,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            node_id: None,
            rpc: RpcConfig::default(),
            addr_policy: None,
            routing: RoutingConfig::default(),
            store: StoreConfig::default(),
            ping_back_delay: PING_BACK_DELAY,
            state_file: None,
            refresh_every: CHECK_REFRESH_INTERVAL,
            rejoin_every: REJOIN_MAX_DELAY,
            search_deadline: SEARCH_DEADLINE,
            save_every: SAVE_EVERY,
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
/// Network checks (ping-backs, stale contacts, refresh pings) running at
/// once, at most.
const CHECKS_IN_FLIGHT: usize = 32;
/// Default period of state file snapshots.
const SAVE_EVERY: Duration = Duration::from_secs(300);
/// Keys we announce as served by us, at most.
const MAX_SERVED_KEYS: usize = 65_536;
/// Addresses of evicted contacts kept to rejoin through, at most.
const MAX_FORMER_CONTACTS: usize = 16;

/// The shared state; `Node` is its owning handle.
pub(super) struct Inner {
    pub(super) id: NodeId,
    pub(super) policy: AddrPolicy,
    pub(super) rpc: Rpc,
    pub(super) routing: Mutex<RoutingTable>,
    pub(super) peers: Mutex<PeerStore>,
    /// Keys whose blob this node serves itself, with the TCP port: findValue
    /// answers add our own address for them, as lbry-sdk does.
    pub(super) serving: Mutex<ServedKeys>,
    pub(super) tokens: Mutex<(Tokens, StdRng)>,
    pub(super) ping_back: mpsc::Sender<(Contact, Instant)>,
    /// Requesters waiting for their ping-back.
    pub(super) queued: Mutex<HashSet<NodeId>>,
    pub(super) checks: Arc<Semaphore>,
    pub(super) ping_back_delay: Duration,
    /// Where to join through when the table is empty: the bootstrap nodes
    /// given to `join`, and the contacts of the loaded state file.
    pub(super) seeds: Mutex<Vec<SocketAddr>>,
    /// The contacts the state file held at start.
    pub(super) saved: Vec<Contact>,
    /// Recently evicted contacts, newest last: a node whose whole table
    /// died rejoins through them too, in case one comes back.
    pub(super) former: Mutex<VecDeque<SocketAddr>>,
    /// Held by a rejoin in progress, so lookups that find the table empty
    /// wait for it instead of starting their own.
    pub(super) joining: tokio::sync::Mutex<()>,
    /// Rejoins finished so far.
    pub(super) joins: AtomicU64,
    pub(super) search_deadline: Duration,
    pub(super) state_file: Option<PathBuf>,
    /// Serializes writes of the state file.
    pub(super) save_lock: Mutex<()>,
    /// Set by the first `shutdown`, which saves the state.
    pub(super) stopped: AtomicBool,
}

/// The contacts saved in the state file that this node's policy accepts: a
/// file written under another policy (a LAN test, say) may hold addresses
/// this node would never accept as contacts.
fn saved_contacts(saved: Option<SavedState>, policy: AddrPolicy) -> Vec<Contact> {
    let mut contacts = saved.map(|s| s.contacts).unwrap_or_default();
    contacts.retain(|c| policy.accepts(c.addr));
    contacts
}

/// The routing table's limits; on loopback and LAN networks (tests, a few
/// nodes behind one host) many nodes share an address, so the per-address cap
/// is lifted.
fn routing_config(routing: &RoutingConfig, policy: AddrPolicy) -> RoutingConfig {
    let mut routing = routing.clone();
    if policy == AddrPolicy::Local {
        routing.max_per_ip = usize::MAX;
    }
    routing
}

/// The node's background tasks: pinging back, maintenance, refresh, watch.
fn spawn_tasks(
    inner: &Arc<Inner>,
    rx: mpsc::Receiver<(Contact, Instant)>,
    config: &NodeConfig,
    span: tracing::Span,
) -> Vec<JoinHandle<()>> {
    let weak = Arc::downgrade(inner);
    vec![
        task::spawn(
            "dht_ping_back",
            span.clone(),
            ping_back_loop(weak.clone(), rx),
        ),
        task::spawn(
            "dht_maintenance",
            span.clone(),
            maintenance_loop(weak.clone(), config.save_every),
        ),
        task::spawn(
            "dht_refresh",
            span.clone(),
            refresh_loop(weak.clone(), config.refresh_every),
        ),
        task::spawn(
            "dht_watch",
            span,
            watch_loop(weak, config.refresh_every, config.rejoin_every),
        ),
    ]
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
        let saved = load_state(config.state_file.clone()).await;
        let id = config
            .node_id
            .or(saved.as_ref().map(|s| s.node_id))
            .unwrap_or_else(|| NodeId::from_bytes(random48()));
        let policy = config
            .addr_policy
            .unwrap_or_else(|| AddrPolicy::for_bound(local.ip()));
        let saved_id = saved.as_ref().map(|s| s.node_id);
        let saved = saved_contacts(saved, policy);
        let routing = routing_config(&config.routing, policy);
        let now = Instant::now();
        let mut rng = StdRng::from_entropy();
        let (tx, rx) = mpsc::channel(PING_BACK_QUEUE);
        let inner = Arc::new_cyclic(|weak: &Weak<Inner>| Inner {
            id,
            policy,
            rpc: Rpc::new(socket, local, id, config.rpc.clone(), weak.clone()),
            routing: Mutex::new(RoutingTable::new(id, routing, now)),
            peers: Mutex::new(PeerStore::new(config.store.clone())),
            serving: Mutex::new(ServedKeys::new(MAX_SERVED_KEYS)),
            tokens: Mutex::new((Tokens::new(now, &mut rng), rng)),
            ping_back: tx,
            queued: Mutex::new(HashSet::new()),
            checks: Arc::new(Semaphore::new(CHECKS_IN_FLIGHT)),
            ping_back_delay: config.ping_back_delay,
            seeds: Mutex::new(saved.iter().map(|c| c.addr).collect()),
            saved,
            former: Mutex::new(VecDeque::new()),
            joining: tokio::sync::Mutex::new(()),
            joins: AtomicU64::new(0),
            search_deadline: config.search_deadline,
            state_file: config.state_file.clone(),
            save_lock: Mutex::new(()),
            stopped: AtomicBool::new(false),
        });
        if saved_id != Some(id) {
            // A new id is written at once: a crash must not lose it.
            let inner = inner.clone();
            let _ = crate::blocking::run(move || inner.save_state(true)).await;
        }
        let span = tracing::debug_span!("dht_node", id = %id.short(), local = %local);
        let tasks = spawn_tasks(&inner, rx, &config, span);
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

    /// Every contact in the routing table that is not bad, closest to our
    /// own id first.
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

    /// Pings the bootstrap nodes and the contacts saved in the state file,
    /// then looks up our own id to fill the routing table. The bootstrap
    /// nodes are remembered: the refresh loop rejoins through them whenever
    /// the table runs empty. Returns the routing table's size.
    pub async fn join(&self, bootstrap: &[SocketAddr]) -> Result<usize, DhtError> {
        self.inner.join(bootstrap).await
    }

    /// How many bootstrap nodes and saved contacts a rejoin goes through.
    pub fn seed_count(&self) -> usize {
        self.inner
            .seeds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// The contacts the state file held when the node started.
    pub fn saved_contacts(&self) -> &[Contact] {
        &self.inner.saved
    }

    /// Stops answering and fails pending calls; searches in progress end
    /// with what they have.
    /// Saves the state file first, once.
    pub fn shutdown(&self) {
        if !self.inner.stopped.swap(true, Ordering::SeqCst) {
            self.inner.save_state(false);
        }
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

    /// One request to a known contact: an answer is observed, and a
    /// failure that is the contact's fault (no answer, a refusal, garbage) is
    /// recorded against it, until it is evicted.
    pub(super) async fn call_contact(
        self: &Arc<Self>,
        c: Contact,
        request: Request,
    ) -> Result<(NodeId, Response), RpcError> {
        let answer = self.call(c.addr, request).await;
        if let Err(e) = &answer {
            if e.blames_peer() {
                self.failed(&c.id);
            }
        }
        answer
    }

    /// A request to `id` failed: routing stops handing it out, and evicts it
    /// when it keeps failing.
    pub(super) fn failed(&self, id: &NodeId) {
        let outcome = lock(&self.routing).failed(id);
        if let Ok(Failure::Evicted(c)) = outcome {
            debug!(peer = %c.addr, id = %c.id.short(), "evicted a contact that stopped answering");
            let mut former = lock(&self.former);
            former.retain(|a| *a != c.addr);
            if former.len() >= MAX_FORMER_CONTACTS {
                former.pop_front();
            }
            former.push_back(c.addr);
        }
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
