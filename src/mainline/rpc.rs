//! The mainline DHT's UDP endpoint: one socket, one receive task, and the
//! callers waiting for answers, keyed by a 2-byte transaction id.
//!
//! No policy lives here: queries go to the [`Answer`]er (the node), answers
//! to whoever asked. Rules: an answer counts only from the ip:port the query
//! went to; undecodable datagrams are dropped (trace log); queries are rate
//! limited per source; at most [`MAX_PENDING`] queries wait at once, and each
//! waits at most the configured timeout.

use crate::dht::rate::RateLimiter;
use crate::wire::krpc::{self, Body, Id20, Message, Query, Response, MAX_DATAGRAM};
use std::collections::HashMap;
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::trace;

/// Queries in flight at once, across all callers.
pub const MAX_PENDING: usize = 2048;

/// Why a query got no usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("remote error {code}: {message}")]
    Remote { code: i64, message: String },
    #[error("too many queries in flight")]
    Busy,
    #[error("send failed: {0}")]
    Send(String),
}

/// Whoever answers the queries that arrive: returns the body to send back,
/// or `None` to stay silent.
pub trait Answer: Send + Sync + 'static {
    fn answer(&self, from: SocketAddrV4, id: Id20, query: Query, read_only: bool) -> Option<Body>;
}

type Waiter = (SocketAddrV4, oneshot::Sender<Result<Response, CallError>>);

pub struct Rpc {
    socket: Arc<UdpSocket>,
    pending: Mutex<HashMap<u16, Waiter>>,
    next: AtomicU16,
    timeout: Duration,
    read_only: bool,
    task: Mutex<Option<JoinHandle<()>>>,
    /// Datagrams dropped as undecodable or over the rate limit.
    pub dropped: AtomicU64,
}

impl Rpc {
    /// Starts the endpoint on `socket`; queries go to `answer`.
    /// A `read_only` endpoint marks its queries so (BEP 43).
    pub fn start(
        socket: UdpSocket,
        timeout: Duration,
        read_only: bool,
        answer: Weak<dyn Answer>,
    ) -> Arc<Rpc> {
        let rpc = Arc::new(Rpc {
            socket: Arc::new(socket),
            pending: Mutex::new(HashMap::new()),
            next: AtomicU16::new(rand::random()),
            timeout,
            read_only,
            task: Mutex::new(None),
            dropped: AtomicU64::new(0),
        });
        let task = tokio::spawn(receive(Arc::downgrade(&rpc), rpc.socket.clone(), answer));
        if let Ok(mut t) = rpc.task.lock() {
            *t = Some(task);
        }
        rpc
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.socket.local_addr().ok()
    }

    /// Sends `query` to `to` and waits for its answer; the round trip on success.
    pub async fn call(
        &self,
        to: SocketAddrV4,
        id: Id20,
        query: Query,
    ) -> Result<(Response, Duration), CallError> {
        let (tx, rx) = oneshot::channel();
        let txn = self.register(to, tx)?;
        let msg = Message {
            txn: txn.to_be_bytes().to_vec(),
            body: Body::Query { id, query },
            read_only: self.read_only,
        };
        let started = Instant::now();
        if let Err(e) = self.socket.send_to(&krpc::encode(&msg), to).await {
            self.forget(txn);
            return Err(CallError::Send(e.to_string()));
        }
        let out = tokio::time::timeout(self.timeout, rx).await;
        self.forget(txn);
        match out {
            Ok(Ok(answer)) => answer.map(|r| (r, started.elapsed())),
            _ => Err(CallError::Timeout(self.timeout)),
        }
    }

    fn register(
        &self,
        to: SocketAddrV4,
        tx: oneshot::Sender<Result<Response, CallError>>,
    ) -> Result<u16, CallError> {
        let mut pending = self.pending.lock().map_err(|_| CallError::Busy)?;
        if pending.len() >= MAX_PENDING {
            return Err(CallError::Busy);
        }
        loop {
            let txn = self.next.fetch_add(1, Ordering::Relaxed);
            if let std::collections::hash_map::Entry::Vacant(v) = pending.entry(txn) {
                v.insert((to, tx));
                return Ok(txn);
            }
        }
    }

    fn forget(&self, txn: u16) {
        if let Ok(mut p) = self.pending.lock() {
            p.remove(&txn);
        }
    }

    /// Hands an answer to its waiter, if it came from where the query went.
    fn settle(&self, from: SocketAddrV4, txn: &[u8], answer: Result<Response, CallError>) {
        let Ok(txn) = <[u8; 2]>::try_from(txn).map(u16::from_be_bytes) else {
            return;
        };
        let Ok(mut p) = self.pending.lock() else {
            return;
        };
        if p.get(&txn).is_some_and(|(to, _)| *to == from) {
            if let Some((_, tx)) = p.remove(&txn) {
                let _ = tx.send(answer);
            }
        }
    }
}

impl Drop for Rpc {
    fn drop(&mut self) {
        if let Ok(mut t) = self.task.lock() {
            if let Some(t) = t.take() {
                t.abort();
            }
        }
    }
}

async fn receive(rpc: Weak<Rpc>, socket: Arc<UdpSocket>, answer: Weak<dyn Answer>) {
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    let mut limiter = RateLimiter::new(200, 50);
    loop {
        let (n, from) = match socket.recv_from(&mut buf).await {
            Ok((n, SocketAddr::V4(from))) => (n, from),
            Ok(_) => continue,
            Err(_) => {
                // A transient socket error; do not spin on it.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Some(rpc) = rpc.upgrade() else { return };
        let msg = match krpc::decode(&buf[..n]) {
            Ok(m) => m,
            Err(e) => {
                trace!(%from, error = %e, "mainline: dropped datagram");
                rpc.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        };
        match msg.body {
            Body::Response(r) => rpc.settle(from, &msg.txn, Ok(r)),
            Body::Error { code, message } => {
                rpc.settle(from, &msg.txn, Err(CallError::Remote { code, message }))
            }
            Body::Query { id, query } => {
                if !limiter.allow(SocketAddr::V4(from), Instant::now()) {
                    rpc.dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let Some(answerer) = answer.upgrade() else {
                    return;
                };
                if let Some(body) = answerer.answer(from, id, query, msg.read_only) {
                    let reply = krpc::encode(&Message {
                        txn: msg.txn,
                        body,
                        read_only: false,
                    });
                    let _ = socket.send_to(&reply, from).await;
                }
            }
        }
    }
}
