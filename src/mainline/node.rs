//! A running mainline DHT node: it answers `ping`, `find_node`, `get_peers`,
//! `announce_peer` and `sample_infohashes`, keeps a routing table of whoever
//! answers or asks, and runs lookups and announces for the `dht --mainline`
//! commands. Dropping the last handle stops it.

use super::lookup::{self, Lookup};
use super::peers::Peers;
use super::rpc::{Answer, CallError, Rpc};
use super::table::Table;
use super::{random_id, K};
use crate::wire::krpc::{Body, Id20, Query, Response};
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::task::JoinSet;

/// How a node is set up.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// UDP address to bind (IPv4).
    pub listen: SocketAddr,
    /// How long a query waits for its answer.
    pub timeout: Duration,
    /// The node id; random if `None`.
    pub id: Option<Id20>,
    /// A short-lived client: its queries say so (BEP 43), so nodes keep it
    /// out of their tables.
    pub read_only: bool,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 0)),
            timeout: Duration::from_secs(2),
            id: None,
            read_only: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MainlineError {
    #[error("the mainline DHT is IPv4 only; {0} is not an IPv4 address")]
    NotIpv4(SocketAddr),
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("no node gave a token for the announce")]
    NoToken,
}

pub struct Node {
    id: Id20,
    rpc: Arc<Rpc>,
    table: Mutex<Table>,
    peers: Mutex<Peers>,
}

impl Node {
    /// Binds the socket and starts answering.
    pub async fn start(cfg: NodeConfig) -> Result<Arc<Node>, MainlineError> {
        if !cfg.listen.is_ipv4() {
            return Err(MainlineError::NotIpv4(cfg.listen));
        }
        let socket = UdpSocket::bind(cfg.listen)
            .await
            .map_err(|source| MainlineError::Bind {
                addr: cfg.listen,
                source,
            })?;
        let id = cfg.id.unwrap_or_else(random_id);
        Ok(Arc::new_cyclic(|me: &Weak<Node>| {
            let answer: Weak<dyn Answer> = me.clone();
            Node {
                id,
                rpc: Rpc::start(socket, cfg.timeout, cfg.read_only, answer),
                table: Mutex::new(Table::new(id)),
                peers: Mutex::new(Peers::new(rand::random(), Instant::now())),
            }
        }))
    }

    pub fn id(&self) -> Id20 {
        self.id
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.rpc.local_addr()
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn peers(&self) -> MutexGuard<'_, Peers> {
        self.peers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The nodes in the routing table.
    pub fn contacts(&self) -> Vec<(Id20, SocketAddrV4)> {
        self.table().entries().map(|e| (e.id, e.addr)).collect()
    }

    pub fn closest(&self, target: &Id20, n: usize) -> Vec<(Id20, SocketAddrV4)> {
        self.table().closest(target, n)
    }

    /// Sends one query; the table learns whether the node answered.
    pub async fn call(
        &self,
        to: SocketAddrV4,
        query: Query,
    ) -> Result<(Response, Duration), CallError> {
        let out = self.rpc.call(to, self.id, query).await;
        match &out {
            Ok((r, _)) if r.id != self.id => self.table().seen(r.id, to, Instant::now()),
            Ok(_) => {}
            Err(_) => {
                let id = self.table().entries().find(|e| e.addr == to).map(|e| e.id);
                if let Some(id) = id {
                    self.table().failed(&id);
                }
            }
        }
        out
    }

    /// Joins through `seeds`: asks each for the nodes near our id, then looks
    /// our id up. Returns the routing table's size.
    pub async fn join(self: &Arc<Self>, seeds: &[SocketAddrV4]) -> usize {
        let asks = seeds
            .iter()
            .map(|s| (*s, Query::FindNode { target: self.id }));
        for answer in self.ask_all(asks.collect()).await {
            let now = Instant::now();
            let mut t = self.table();
            for (id, addr) in answer.nodes {
                // Unverified until they answer, but a lookup needs somewhere to start.
                t.seen(id, addr, now);
            }
        }
        let _ = self.find_node(self.id).await;
        self.table().len()
    }

    /// The nodes closest to `target`.
    pub async fn find_node(self: &Arc<Self>, target: Id20) -> Lookup {
        lookup::run(self, target, false).await
    }

    /// The peers announced for `info_hash`, and the closest nodes with their tokens.
    pub async fn get_peers(self: &Arc<Self>, info_hash: Id20) -> Lookup {
        lookup::run(self, info_hash, true).await
    }

    /// Announces `port` (0: the port our queries come from) for `info_hash`
    /// to the closest nodes that gave a token; how many took it.
    pub async fn announce(
        self: &Arc<Self>,
        info_hash: Id20,
        port: u16,
    ) -> Result<(usize, Lookup), MainlineError> {
        let found = self.get_peers(info_hash).await;
        let with_token: Vec<_> = found
            .closest
            .iter()
            .filter_map(|r| Some((r.addr, r.token.clone()?)))
            .take(K)
            .collect();
        if with_token.is_empty() {
            return Err(MainlineError::NoToken);
        }
        let asks = with_token.into_iter().map(|(addr, token)| {
            let q = Query::AnnouncePeer {
                info_hash,
                port,
                implied_port: port == 0,
                token,
            };
            (addr, q)
        });
        let stored = self.ask_all(asks.collect()).await.len();
        Ok((stored, found))
    }

    /// Sends every query at once; the answers that came.
    async fn ask_all(self: &Arc<Self>, asks: Vec<(SocketAddrV4, Query)>) -> Vec<Response> {
        let mut set = JoinSet::new();
        for (to, query) in asks {
            let me = self.clone();
            set.spawn(async move { me.call(to, query).await });
        }
        let mut out = Vec::new();
        while let Some(done) = set.join_next().await {
            if let Ok(Ok((r, _))) = done {
                out.push(r);
            }
        }
        out
    }

    fn answer_query(&self, from: SocketAddrV4, query: Query) -> Body {
        let now = Instant::now();
        let mut r = Response {
            id: self.id,
            ..Response::default()
        };
        match query {
            Query::Ping => {}
            Query::FindNode { target } => r.nodes = self.closest(&target, K),
            Query::GetPeers { info_hash } => {
                let mut peers = self.peers();
                peers.tick(now, rand::random());
                r.token = Some(peers.token(from.ip()));
                r.values = peers.get(&info_hash, now, 50);
                drop(peers);
                if r.values.is_empty() {
                    r.nodes = self.closest(&info_hash, K);
                }
            }
            Query::AnnouncePeer {
                info_hash,
                port,
                implied_port,
                token,
            } => {
                let mut peers = self.peers();
                if !peers.valid(from.ip(), &token) {
                    return Body::Error {
                        code: 203,
                        message: "bad token".into(),
                    };
                }
                let port = if implied_port || port == 0 {
                    from.port()
                } else {
                    port
                };
                if !peers.announce(info_hash, SocketAddrV4::new(*from.ip(), port), now) {
                    return Body::Error {
                        code: 202,
                        message: "peer store full".into(),
                    };
                }
            }
            Query::SampleInfohashes { target } => {
                let (samples, num) = self.peers().sample(20);
                r.samples = samples;
                r.num = Some(num as i64);
                r.interval = Some(60);
                r.nodes = self.closest(&target, K);
            }
            Query::Unknown(_) => {
                return Body::Error {
                    code: 204,
                    message: "Method Unknown".into(),
                }
            }
        }
        Body::Response(r)
    }
}

impl Answer for Node {
    fn answer(&self, from: SocketAddrV4, id: Id20, query: Query, read_only: bool) -> Option<Body> {
        if id == self.id {
            return None;
        }
        if !read_only {
            self.table().seen(id, from, Instant::now());
        }
        Some(self.answer_query(from, query))
    }
}
