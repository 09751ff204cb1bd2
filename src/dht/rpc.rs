//! The DHT's UDP endpoint: one socket, one receive task, and a map from rpc
//! id to the caller waiting for the answer (docs/protocol.md §4.2, §4.4).
//!
//! This module owns sockets, rpc ids and deadlines, and no policy: which
//! requests to answer and how is the [`Handler`]'s business (the node), and
//! what to do with an answer is the caller's. It is async because it waits on
//! the network; every wait has a deadline (`RpcConfig::timeout`).
//!
//! Rules enforced here:
//! - a response is accepted only from the IP the request went to, and an
//!   error datagram only from the exact ip:port (as lbry-sdk does);
//! - datagrams over `MAX_DATAGRAM` bytes or that do not decode are dropped
//!   and counted (trace log);
//! - incoming requests are rate limited per source (`rate.rs`).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::{debug, trace, Instrument};

use super::rate::RateLimiter;
use super::RPC_TIMEOUT;
use crate::hash::NodeId;
use crate::wire::dht::{
    decode, encode, encode_find_value_fitting, Body, Datagram, RawBody, RemoteError, Request,
    Response, RpcId, MAX_DATAGRAM, RPC_ID_LEN,
};

/// Tunables of the endpoint.
#[derive(Debug, Clone)]
pub struct RpcConfig {
    /// How long a request waits for its answer.
    pub timeout: Duration,
    /// Requests a source may send in a burst.
    pub rate_burst: u32,
    /// Requests per second a source may send over time.
    pub rate_per_sec: u32,
}

impl Default for RpcConfig {
    fn default() -> Self {
        Self {
            timeout: RPC_TIMEOUT,
            rate_burst: 200,
            rate_per_sec: 50,
        }
    }
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("remote error {}: {}", .0.exception, .0.message)]
    Remote(RemoteError),
    #[error("invalid answer: {0}")]
    Invalid(#[from] crate::wire::dht::Invalid),
    #[error("cannot encode request: {0}")]
    Encode(#[from] crate::wire::dht::EncodeError),
    #[error("send failed: {0}")]
    Send(String),
    #[error("the DHT node is shut down")]
    Shutdown,
}

impl RpcError {
    /// Whether the failure is the remote node's doing (no answer, a refusal,
    /// an answer that makes no sense), and so counts against it as a contact.
    pub fn blames_peer(&self) -> bool {
        matches!(
            self,
            RpcError::Timeout(_) | RpcError::Remote(_) | RpcError::Invalid(_)
        )
    }
}

/// What the handler answers to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Response(Response),
    Error(RemoteError),
    /// Send nothing (lbry-sdk's answer to sources it refuses).
    Ignore,
}

/// Answers incoming requests. Called on the receive task, so it must not
/// block: take locks briefly and hand slow work to another task.
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, from: SocketAddr, sender: NodeId, request: Request) -> Reply;
}

/// Drop counters, for logs and `status`.
#[derive(Debug, Default)]
pub struct RpcStats {
    pub oversized: AtomicU64,
    pub garbage: AtomicU64,
    pub rate_limited: AtomicU64,
    /// Responses from the wrong IP or to no pending request.
    pub unmatched: AtomicU64,
}

type Answer = Result<(NodeId, Response), RpcError>;

struct Pending {
    to: SocketAddr,
    request: Request,
    tx: oneshot::Sender<Answer>,
}

struct Shared {
    socket: UdpSocket,
    own_id: NodeId,
    config: RpcConfig,
    pending: Mutex<HashMap<RpcId, Pending>>,
    stats: RpcStats,
}

/// The UDP endpoint. Dropping it stops the receive task.
pub struct Rpc {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Rpc {
    /// Starts the receive task on `socket`; requests go to `handler` while
    /// it is alive.
    /// `local_addr` is `socket`'s.
    pub fn new(
        socket: UdpSocket,
        local_addr: SocketAddr,
        own_id: NodeId,
        config: RpcConfig,
        handler: Weak<dyn Handler>,
    ) -> Self {
        let shared = Arc::new(Shared {
            socket,
            own_id,
            config,
            pending: Mutex::new(HashMap::new()),
            stats: RpcStats::default(),
        });
        let span = tracing::debug_span!("dht_rpc", local = %local_addr);
        let task = crate::task::spawn("dht_recv", span, recv_loop(shared.clone(), handler));
        Self {
            shared,
            local_addr,
            task,
        }
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn stats(&self) -> &RpcStats {
        &self.shared.stats
    }

    pub fn timeout(&self) -> Duration {
        self.shared.config.timeout
    }

    /// Sends `request` to `addr` and waits for the answer, at most the
    /// configured timeout. Returns the responder's node id and its answer.
    pub async fn call(&self, addr: SocketAddr, request: Request) -> Answer {
        let span = tracing::trace_span!("rpc", peer = %addr, rpc = request.kind().name());
        self.call_inner(addr, request).instrument(span).await
    }

    async fn call_inner(&self, addr: SocketAddr, request: Request) -> Answer {
        if self.task.is_finished() {
            return Err(RpcError::Shutdown);
        }
        let (tx, rx) = oneshot::channel();
        let rpc_id = {
            let mut pending = lock(&self.shared.pending);
            let id = loop {
                let id = RpcId(rand::random::<[u8; RPC_ID_LEN]>());
                if !pending.contains_key(&id) {
                    break id;
                }
            };
            pending.insert(
                id,
                Pending {
                    to: addr,
                    request: request.clone(),
                    tx,
                },
            );
            id
        };
        // Removes the entry however this future ends (answer, timeout, drop).
        let _guard = PendingGuard {
            shared: &self.shared,
            id: rpc_id,
        };
        let bytes = encode(&Datagram {
            rpc_id,
            node_id: self.shared.own_id,
            body: Body::Request(request),
        })?;
        self.shared
            .socket
            .send_to(&bytes, addr)
            .await
            .map_err(|e| RpcError::Send(e.to_string()))?;
        let timeout = self.shared.config.timeout;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(RpcError::Shutdown),
            Err(_) => Err(RpcError::Timeout(timeout)),
        }
    }

    /// Stops the receive task and fails every pending call.
    pub fn shutdown(&self) {
        self.task.abort();
        lock(&self.shared.pending).clear();
    }
}

impl Drop for Rpc {
    fn drop(&mut self) {
        self.shutdown();
    }
}

struct PendingGuard<'a> {
    shared: &'a Shared,
    id: RpcId,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        lock(&self.shared.pending).remove(&self.id);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep going.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn recv_loop(shared: Arc<Shared>, handler: Weak<dyn Handler>) {
    // One byte more than any datagram we accept, so oversize is visible.
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    let mut limiter = RateLimiter::new(shared.config.rate_burst, shared.config.rate_per_sec);
    loop {
        let (len, from) = match shared.socket.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                // ICMP errors surface here on some platforms; the socket is fine.
                debug!(error = %e, "udp receive failed");
                continue;
            }
        };
        if len > MAX_DATAGRAM {
            shared.stats.oversized.fetch_add(1, Ordering::Relaxed);
            trace!(peer = %from, "oversized datagram dropped");
            continue;
        }
        let raw = match decode(&buf[..len]) {
            Ok(raw) => raw,
            Err(e) => {
                shared.stats.garbage.fetch_add(1, Ordering::Relaxed);
                trace!(peer = %from, error = %e, "undecodable datagram dropped");
                continue;
            }
        };
        match raw.body {
            RawBody::Request { .. } => {
                if !limiter.allow(from, Instant::now()) {
                    shared.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                    trace!(peer = %from, "request over the rate limit dropped");
                    continue;
                }
                let Some(handler) = handler.upgrade() else {
                    debug!("handler gone, receive loop ends");
                    return;
                };
                answer_request(&shared, &*handler, from, raw).await;
            }
            RawBody::Response(_) | RawBody::Error(_) => deliver(&shared, from, raw),
        }
    }
}

async fn answer_request(
    shared: &Shared,
    handler: &dyn Handler,
    from: SocketAddr,
    raw: crate::wire::dht::RawDatagram,
) {
    let rpc_id = raw.rpc_id;
    let sender = raw.node_id;
    let reply = match raw.typed(None) {
        Ok(Datagram {
            body: Body::Request(req),
            ..
        }) => {
            trace!(peer = %from, rpc = req.kind().name(), "request");
            handler.handle(from, sender, req)
        }
        Ok(_) => Reply::Ignore,
        Err(e) => Reply::Error(value_error(e.to_string())),
    };
    let own = shared.own_id;
    let bytes = match reply {
        Reply::Ignore => return,
        Reply::Response(Response::FindValue(r)) => {
            encode_find_value_fitting(rpc_id, own, r).map(|(b, _)| b)
        }
        Reply::Response(r) => encode(&Datagram {
            rpc_id,
            node_id: own,
            body: Body::Response(r),
        }),
        Reply::Error(e) => encode(&Datagram {
            rpc_id,
            node_id: own,
            body: Body::Error(e),
        }),
    };
    match bytes {
        Ok(b) => {
            if let Err(e) = shared.socket.send_to(&b, from).await {
                debug!(peer = %from, error = %e, "reply not sent");
            }
        }
        Err(e) => debug!(peer = %from, error = %e, "reply not encodable"),
    }
}

/// Python's error datagram for a refused request.
pub fn value_error(message: String) -> RemoteError {
    RemoteError {
        exception: "<class 'ValueError'>".into(),
        message,
    }
}

fn deliver(shared: &Shared, from: SocketAddr, raw: crate::wire::dht::RawDatagram) {
    let mut pending = lock(&shared.pending);
    let matches = pending.get(&raw.rpc_id).is_some_and(|p| match raw.body {
        RawBody::Error(_) => p.to == from,
        _ => p.to.ip() == from.ip(),
    });
    let Some(p) = matches.then(|| pending.remove(&raw.rpc_id)).flatten() else {
        shared.stats.unmatched.fetch_add(1, Ordering::Relaxed);
        trace!(peer = %from, "answer to no pending request from this address dropped");
        return;
    };
    drop(pending);
    let node_id = raw.node_id;
    let answer = match raw.typed(Some(&p.request)) {
        Ok(Datagram {
            body: Body::Response(r),
            ..
        }) => Ok((node_id, r)),
        Ok(Datagram {
            body: Body::Error(e),
            ..
        }) => Err(RpcError::Remote(e)),
        Ok(_) => return,
        Err(e) => Err(RpcError::Invalid(e)),
    };
    // The caller may have given up in the meantime; nothing to do then.
    let _ = p.tx.send(answer);
}

/// The IPv4 address of a socket address, if it has one.
pub fn ipv4(addr: SocketAddr) -> Option<std::net::Ipv4Addr> {
    match addr.ip() {
        IpAddr::V4(ip) => Some(ip),
        IpAddr::V6(ip) => ip.to_ipv4_mapped(),
    }
}
