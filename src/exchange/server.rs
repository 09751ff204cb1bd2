//! `BlobServer`: the listening side of the blob exchange. It accepts
//! connections up to a cap, hands each to a connection task (`conn.rs`), and
//! shuts down gracefully: stop accepting, close idle connections, let
//! transfers in flight finish within a grace period, then cut what is left.
//!
//! Over the connection cap a new connection is closed at once rather than
//! queued: a peer that waits gains nothing over one that moves on to another
//! seeder, and a queue would tie up sockets for a server that is already busy.
//!
//! Fairness: one IP address holds at most `max_per_ip` connections (more are
//! closed on accept), and a connection whose peer stops reading an answer is
//! closed after `stall_timeout`, so neither a flood of idle connections from
//! one host nor requesters that never read can shut other peers out.

use super::conn::{self, Shared};
use super::per_ip::PerIp;
use crate::store::{HasBlob, OpenRaw};
use crate::task;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tracing::{debug, info, warn};

/// What we answer when asked for our payment address: lbrymount takes no
/// payments, and lbry-sdk clients only check that the key is there.
pub const PLACEHOLDER_ADDRESS: &str = "lbrymount-takes-no-payments";

/// Limits and deadlines of the server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Close a connection when no blob transfer starts this long after it
    /// opened or after the previous transfer (lbry-sdk: 30 s).
    pub idle_timeout: Duration,
    /// Deadline for sending one answer and its blob (lbry-sdk: 60 s).
    pub send_timeout: Duration,
    /// Longest time a send may make no progress at all (the peer stopped
    /// reading); then the connection is closed and its slot freed.
    pub stall_timeout: Duration,
    /// Connections served at once; more are closed on accept.
    pub max_connections: usize,
    /// Connections served at once from one IP address; more are closed on accept.
    pub max_per_ip: usize,
    /// How long shutdown waits for transfers in flight.
    pub shutdown_grace: Duration,
    /// The `lbrycrd_address` we answer with.
    pub lbrycrd_address: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(30),
            send_timeout: Duration::from_secs(60),
            stall_timeout: Duration::from_secs(10),
            max_connections: 64,
            max_per_ip: 16,
            shutdown_grace: Duration::from_secs(5),
            lbrycrd_address: PLACEHOLDER_ADDRESS.to_owned(),
        }
    }
}

/// Counters of a running server, shared with whoever holds the handle.
#[derive(Debug, Default)]
pub struct ServerStats {
    pub(super) connections: AtomicU64,
    pub(super) refused: AtomicU64,
    pub(super) requests: AtomicU64,
    pub(super) bad_requests: AtomicU64,
    pub(super) blobs_served: AtomicU64,
    pub(super) bytes_served: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Connections accepted and served.
    pub connections: u64,
    /// Connections closed on accept because a cap (overall or per address) was reached.
    pub refused: u64,
    /// Well-formed requests handled.
    pub requests: u64,
    /// Connections closed because of a malformed request.
    pub bad_requests: u64,
    /// Blobs sent completely.
    pub blobs_served: u64,
    /// Blob bytes sent (headers not counted).
    pub bytes_served: u64,
}

impl ServerStats {
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            connections: get(&self.connections),
            refused: get(&self.refused),
            requests: get(&self.requests),
            bad_requests: get(&self.bad_requests),
            blobs_served: get(&self.blobs_served),
            bytes_served: get(&self.bytes_served),
        }
    }

    pub(super) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// What the server needs of a store: whether it has a blob (for
/// availability answers) and the blob opened for sending.
pub trait ServedStore: HasBlob + OpenRaw + Send + Sync + 'static {}

impl<S: HasBlob + OpenRaw + Send + Sync + 'static> ServedStore for S {}

/// What the server answers name searches from (docs/protocol.md §11.3).
/// Defined here, implemented by `search::NameIndex`; blocking (it may scan
/// the store), so it is called on the blocking pool.
pub trait NameSearch: Send + Sync + 'static {
    /// Up to `max` streams whose names match `query`, best first.
    fn search(&self, query: &str, max: usize) -> Vec<crate::wire::search::Hit>;
}

/// A bound blob server, not yet accepting.
pub struct BlobServer {
    listener: TcpListener,
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl BlobServer {
    /// Binds the listening socket (use port 0 for any free port).
    pub async fn bind(
        addr: SocketAddr,
        store: Arc<dyn ServedStore>,
        cfg: ServerConfig,
    ) -> io::Result<BlobServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            store,
            names: None,
            cfg,
            stats: Arc::new(ServerStats::default()),
        });
        Ok(BlobServer {
            listener,
            addr,
            shared,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answers name searches from `names`; without it, searches get an
    /// empty answer. Call before the server runs.
    pub fn with_search(mut self, names: Arc<dyn NameSearch>) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.names = Some(names);
        }
        self
    }

    /// The live counters.
    pub fn stats(&self) -> Arc<ServerStats> {
        self.shared.stats.clone()
    }

    /// Serves until `shutdown` completes, then stops gracefully (see the module docs).
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let BlobServer {
            listener,
            addr,
            shared,
        } = self;
        info!("listening on {addr}");
        let (stop_tx, stop_rx) = watch::channel(false);
        let grace = shared.cfg.shutdown_grace;
        let door = Door::new(shared, stop_rx);
        let mut conns = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                Some(done) = conns.join_next(), if !conns.is_empty() => {
                    if let Err(e) = done {
                        warn!(error = %e, "connection task panicked or was cancelled");
                    }
                }
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => door.admit(stream, peer, &mut conns),
                    Err(e) => accept_failed(e).await,
                },
            }
        }
        drop(listener);
        // The receivers may all be gone already; nothing to tell then.
        let _ = stop_tx.send(true);
        drain(&mut conns, grace).await;
        info!("blob server on {addr} stopped");
    }

    /// Runs the server as a task; the handle stops it (also when dropped).
    pub fn spawn(self) -> RunningServer {
        let addr = self.addr;
        let stats = self.stats();
        let (stop, stopped) = oneshot::channel::<()>();
        let span = tracing::info_span!("blob-server", %addr);
        let run = self.run(async {
            // A dropped handle stops the server too.
            let _ = stopped.await;
        });
        let task = task::spawn("blob-server", span, run);
        RunningServer {
            addr,
            stats,
            stop: Some(stop),
            task,
        }
    }
}

/// Where accepted connections come in: the caps, and what each connection
/// task is given.
struct Door {
    shared: Arc<Shared>,
    slots: Arc<Semaphore>,
    per_ip: Arc<PerIp>,
    stop: watch::Receiver<bool>,
}

impl Door {
    fn new(shared: Arc<Shared>, stop: watch::Receiver<bool>) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(shared.cfg.max_connections)),
            per_ip: PerIp::new(shared.cfg.max_per_ip),
            shared,
            stop,
        }
    }

    /// Serves `stream` as a task in `conns`, or closes it at once when its
    /// address, or the server, is at its cap.
    fn admit(&self, stream: TcpStream, peer: SocketAddr, conns: &mut JoinSet<()>) {
        let stats = &self.shared.stats;
        let Some(ip_slot) = self.per_ip.try_take(peer.ip()) else {
            ServerStats::add(&stats.refused, 1);
            debug!(%peer, "per-address connection limit reached, closing new connection");
            return;
        };
        let Ok(permit) = self.slots.clone().try_acquire_owned() else {
            ServerStats::add(&stats.refused, 1);
            debug!(%peer, "connection limit reached, closing new connection");
            return;
        };
        ServerStats::add(&stats.connections, 1);
        // The answer header is a small write followed by the body: without
        // this, Nagle holds the header back for a delayed ACK (about 40 ms
        // on every first request).
        if let Err(e) = stream.set_nodelay(true) {
            debug!(%peer, error = %e, "cannot set TCP_NODELAY");
        }
        let (shared, stop) = (self.shared.clone(), self.stop.clone());
        let serve = async move {
            let _slots = (permit, ip_slot);
            conn::serve(stream, peer, shared, stop).await
        };
        let span = tracing::info_span!("conn", %peer);
        task::spawn_reporting_in(conns, "blob-conn", span, serve);
    }
}

/// Lets the connections finish within `grace`, then cuts what is left.
async fn drain(conns: &mut JoinSet<()>, grace: Duration) {
    if !conns.is_empty() {
        debug!(
            open = conns.len(),
            ?grace,
            "waiting for connections to finish"
        );
    }
    let drained =
        tokio::time::timeout(grace, async { while conns.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        warn!(
            cut = conns.len(),
            ?grace,
            "transfers still running after the grace period, closing them"
        );
        conns.shutdown().await;
    }
}

/// Accept errors are about one connection (the peer left) or about resources
/// (out of file descriptors). The latter would repeat at once, so back off.
async fn accept_failed(e: io::Error) {
    use io::ErrorKind::*;
    if matches!(e.kind(), ConnectionAborted | ConnectionReset | Interrupted) {
        debug!(error = %e, "accept failed");
        return;
    }
    warn!(error = %e, "accept failed, pausing before the next one");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// A server running as a task.
pub struct RunningServer {
    addr: SocketAddr,
    stats: Arc<ServerStats>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl RunningServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn stats(&self) -> Arc<ServerStats> {
        self.stats.clone()
    }

    /// Stops gracefully and waits until the server has finished.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            // The server may have ended on its own; then there is no one to tell.
            let _ = stop.send(());
        }
        if let Err(e) = (&mut self.task).await {
            warn!(error = %e, "blob server task failed");
        }
    }
}
