//! The reflector server: `serve --reflector-listen` takes uploads of
//! streams and keeps them (docs/protocol.md §9).
//!
//! Nothing is trusted: the sd blob must hash to its name and parse as a
//! descriptor; a data blob is accepted only if the descriptor lists it, at
//! the length it says (so at most 2 MiB), and only if its bytes hash to its
//! name; a mismatch ends the connection. Every blob is stored pinned as it
//! arrives, so an upload cut short is resumed by the next one (whose
//! `needed_blobs` lists only what is missing). Bounded: connections at
//! once, bytes per connection, the store's pinned bytes (`--reflector-max-size`),
//! and a deadline on every wait.

use super::conn::Conn;
use super::ReflectorError;
use crate::blob::{VerifiedBlob, MAX_BLOB_SIZE};
use crate::hash::{BlobHash, SdHash};
use crate::sd::StreamDescriptor;
use crate::store::{HasBlob, Keep, PutBlob, ReadBlob, Stats};
use crate::wire::reflector::{decode_request, Request, Response, VERSION};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// What a reflector needs of a store.
pub trait ReflectorStore: HasBlob + ReadBlob + PutBlob + Stats + Send + Sync + 'static {}
impl<S: HasBlob + ReadBlob + PutBlob + Stats + Send + Sync + 'static> ReflectorStore for S {}

/// Called with each stream received (its sd hash and first data blob, if
/// present), so the node announces it.
pub type OnStream = Arc<dyn Fn(SdHash, Option<BlobHash>) + Send + Sync>;

/// How a reflector is set up.
#[derive(Debug, Clone)]
pub struct ReflectorConfig {
    pub listen: SocketAddr,
    /// Most pinned bytes the store may hold; an upload that would go over is refused.
    pub max_size: Option<u64>,
    /// Most bytes one connection may send.
    pub max_connection_bytes: u64,
    /// Uploads at once; further connections are closed at once.
    pub max_connections: usize,
    /// Waiting for a request (lbry-sdk's client waits 180 s for an answer).
    pub request_timeout: Duration,
    /// Receiving one blob's bytes (lbry-sdk's server waits 30 s).
    pub blob_timeout: Duration,
}

impl ReflectorConfig {
    pub fn new(listen: SocketAddr, max_size: Option<u64>) -> Self {
        Self {
            listen,
            max_size,
            max_connection_bytes: 64 << 30,
            max_connections: 32,
            request_timeout: Duration::from_secs(60),
            blob_timeout: Duration::from_secs(30),
        }
    }
}

/// A reflector accepting uploads until its token is cancelled.
pub struct RunningReflector {
    pub local_addr: SocketAddr,
    /// Blobs received and stored since start.
    pub received: Arc<AtomicU64>,
}

/// Binds `cfg.listen` and accepts uploads into `store` until `stop`.
pub async fn start<S: ReflectorStore>(
    cfg: ReflectorConfig,
    store: Arc<S>,
    on_stream: OnStream,
    stop: CancellationToken,
) -> std::io::Result<RunningReflector> {
    let listener = TcpListener::bind(cfg.listen).await?;
    let local_addr = listener.local_addr()?;
    tracing::info!("reflector accepting uploads at {local_addr}");
    let received = Arc::new(AtomicU64::new(0));
    let shared = Arc::new(Shared {
        cfg,
        store,
        on_stream,
        received: received.clone(),
        slots: Arc::new(tokio::sync::Semaphore::new(0)),
    });
    shared.slots.add_permits(shared.cfg.max_connections);
    tokio::spawn(async move {
        loop {
            let (stream, peer) = tokio::select! {
                () = stop.cancelled() => return,
                r = listener.accept() => match r {
                    Ok(x) => x,
                    Err(e) => { tracing::warn!("reflector accept: {e}"); continue; }
                },
            };
            let Ok(permit) = shared.slots.clone().try_acquire_owned() else {
                tracing::warn!(%peer, "reflector busy; connection closed");
                continue;
            };
            let shared = shared.clone();
            let stop = stop.clone();
            let span = tracing::info_span!("reflector", %peer);
            tokio::spawn(
                async move {
                    tokio::select! {
                        () = stop.cancelled() => {}
                        () = shared.serve(stream) => {}
                    }
                    drop(permit);
                }
                .instrument(span),
            );
        }
    });
    Ok(RunningReflector {
        local_addr,
        received,
    })
}

struct Shared<S> {
    cfg: ReflectorConfig,
    store: Arc<S>,
    on_stream: OnStream,
    received: Arc<AtomicU64>,
    slots: Arc<tokio::sync::Semaphore>,
}

/// Why a connection ended early, besides errors of the exchange itself.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    #[error(transparent)]
    Net(#[from] ReflectorError),
    #[error("the first request is not the version handshake")]
    NoHandshake,
    #[error("expected {0}")]
    OutOfOrder(&'static str),
    #[error("sd blob of {0} bytes is over the 2 MiB maximum")]
    TooLarge(u64),
    #[error("blob {0} does not hash to its name")]
    HashMismatch(BlobHash),
    #[error(
        "the stream needs {needed} bytes, over the reflector's quota ({held} of {max} bytes held)"
    )]
    OverQuota { needed: u64, held: u64, max: u64 },
    #[error("the connection sent more than {0} bytes")]
    ConnectionCap(u64),
}

impl<S: ReflectorStore> Shared<S> {
    async fn serve(&self, stream: tokio::net::TcpStream) {
        let mut conn = Conn::new(stream);
        let mut got = 0usize;
        let mut stream_sd = None;
        let result = self.exchange(&mut conn, &mut got, &mut stream_sd).await;
        if let Some((sd, first)) = stream_sd {
            let first = first.filter(|h| self.store.contains(h));
            (self.on_stream)(sd, first);
        }
        match result {
            Ok(()) | Err(Refusal::Net(ReflectorError::Closed)) => {
                tracing::info!("reflector upload ended: {got} blobs received")
            }
            Err(e) => tracing::warn!("reflector refused the upload ({got} blobs received): {e}"),
        }
    }

    /// The whole exchange: handshake, sd blob, then data blobs until the client closes.
    async fn exchange(
        &self,
        conn: &mut Conn,
        got: &mut usize,
        stream_sd: &mut Option<(SdHash, Option<BlobHash>)>,
    ) -> Result<(), Refusal> {
        let wait = self.cfg.request_timeout;
        match conn.read_msg(decode_request, wait).await? {
            Request::Version(_) => {
                conn.write(&Response::Version(VERSION).encode(), wait)
                    .await?
            }
            _ => return Err(Refusal::NoHandshake),
        }
        let (sd, size) = match conn.read_msg(decode_request, wait).await? {
            Request::SdBlob { hash, size } => (SdHash::from(hash), size),
            _ => return Err(Refusal::OutOfOrder("the sd blob's offer")),
        };
        let desc = self.descriptor(conn, sd, size, got).await?;
        *stream_sd = Some((sd, desc.blobs().first().map(|b| b.hash)));
        loop {
            let (hash, size) = match conn.read_msg(decode_request, wait).await {
                Err(ReflectorError::Closed) => return Ok(()),
                Ok(Request::Blob { hash, size }) => (hash, size),
                Ok(_) => return Err(Refusal::OutOfOrder("a blob's offer")),
                Err(e) => return Err(e.into()),
            };
            if self.blob(conn, &desc, hash, size).await? {
                *got += 1;
            }
        }
    }

    /// Answers the sd blob's offer: takes the sd blob if new (and then every
    /// data blob is needed), or lists the data blobs still missing.
    async fn descriptor(
        &self,
        conn: &mut Conn,
        sd: SdHash,
        size: u64,
        got: &mut usize,
    ) -> Result<StreamDescriptor, Refusal> {
        let wait = self.cfg.request_timeout;
        let store = self.store.clone();
        let held = tokio::task::spawn_blocking(move || store.get(&sd.as_blob()))
            .await
            .map_err(|e| ReflectorError::Io(std::io::Error::other(e)))?
            .map_err(ReflectorError::from)?;
        if let Some(blob) = held {
            return self.known(conn, sd, &blob).await;
        }
        if size > MAX_BLOB_SIZE as u64 {
            return Err(Refusal::TooLarge(size));
        }
        let answer = Response::SendSdBlob {
            send: true,
            needed: Vec::new(),
        };
        conn.write(&answer.encode(), wait).await?;
        let bytes = conn
            .read_bytes(size as usize, self.cfg.blob_timeout)
            .await?;
        let checked = VerifiedBlob::verify(&sd.as_blob(), bytes)
            .map_err(|_| sd.as_blob())
            .and_then(|b| {
                StreamDescriptor::parse_verified(b.data(), &sd)
                    .map(|d| (b, d))
                    .map_err(|_| sd.as_blob())
            });
        let (blob, desc) = match checked {
            Ok(x) => x,
            Err(hash) => {
                conn.write(&Response::ReceivedSdBlob(false).encode(), wait)
                    .await?;
                return Err(Refusal::HashMismatch(hash));
            }
        };
        let total = desc.encrypted_size() + blob.len() as u64;
        if let Err(e) = self.check_quota(total) {
            conn.write(&Response::ReceivedSdBlob(false).encode(), wait)
                .await?;
            return Err(e);
        }
        self.put(blob).await?;
        *got += 1;
        conn.write(&Response::ReceivedSdBlob(true).encode(), wait)
            .await?;
        Ok(desc)
    }

    /// A stream whose sd blob is held: lists the data blobs still missing.
    async fn known(
        &self,
        conn: &mut Conn,
        sd: SdHash,
        blob: &VerifiedBlob,
    ) -> Result<StreamDescriptor, Refusal> {
        let desc = StreamDescriptor::parse_verified(blob.data(), &sd)
            .map_err(ReflectorError::Descriptor)?;
        let needed: Vec<_> = desc
            .blobs()
            .iter()
            .filter(|b| !self.store.contains(&b.hash))
            .collect();
        let total = desc.blobs().len();
        tracing::info!(sd = %sd.short(), "reflector needs {} of {total} data blobs", needed.len());
        self.check_quota(needed.iter().map(|b| u64::from(b.length)).sum())?;
        let needed = needed.iter().map(|b| b.hash).collect();
        let answer = Response::SendSdBlob {
            send: false,
            needed,
        };
        conn.write(&answer.encode(), self.cfg.request_timeout)
            .await?;
        Ok(desc)
    }

    /// Answers one blob's offer; `true` if its bytes were received and stored.
    async fn blob(
        &self,
        conn: &mut Conn,
        desc: &StreamDescriptor,
        hash: BlobHash,
        size: u64,
    ) -> Result<bool, Refusal> {
        let wait = self.cfg.request_timeout;
        let listed = desc
            .blobs()
            .iter()
            .any(|b| b.hash == hash && u64::from(b.length) == size);
        if !listed || self.store.contains(&hash) {
            conn.write(&Response::SendBlob(false).encode(), wait)
                .await?;
            return Ok(false);
        }
        let cap = self.cfg.max_connection_bytes;
        if conn.read_total.saturating_add(size) > cap {
            return Err(Refusal::ConnectionCap(cap));
        }
        self.check_quota(size)?;
        conn.write(&Response::SendBlob(true).encode(), wait).await?;
        let bytes = conn
            .read_bytes(size as usize, self.cfg.blob_timeout)
            .await?;
        let Ok(blob) = VerifiedBlob::verify(&hash, bytes) else {
            conn.write(&Response::ReceivedBlob(false).encode(), wait)
                .await?;
            return Err(Refusal::HashMismatch(hash));
        };
        self.put(blob).await?;
        tracing::debug!(blob = %hash.short(), "reflector received blob");
        conn.write(&Response::ReceivedBlob(true).encode(), wait)
            .await?;
        Ok(true)
    }

    fn check_quota(&self, needed: u64) -> Result<(), Refusal> {
        let Some(max) = self.cfg.max_size else {
            return Ok(());
        };
        let held = self.store.stats().pinned_bytes;
        if held.saturating_add(needed) > max {
            return Err(Refusal::OverQuota { needed, held, max });
        }
        Ok(())
    }

    /// Stores a verified blob pinned, on the blocking pool.
    async fn put(&self, blob: VerifiedBlob) -> Result<(), Refusal> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.put(&blob, Keep::Pin))
            .await
            .map_err(|e| ReflectorError::Io(std::io::Error::other(e)))?
            .map_err(ReflectorError::from)?;
        self.received.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}
