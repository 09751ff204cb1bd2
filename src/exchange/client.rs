//! `ExchangeClient`: asks one peer for one blob, the way lbry-sdk's client
//! does (docs/protocol.md §3.5–3.6), and implements `fetch::BlobPeer`.
//!
//! One request per connection at a time; a connection that completed a clean
//! exchange goes back to a small pool for the next blob, any failure drops
//! it. Each phase has its own deadline (connect, header, body). The body is
//! read straight into a buffer sized from the announced length and hashed
//! read by read as it lands, so hashing overlaps the transfer and never holds
//! an async worker for more than one bounded read's worth (`READ_CHUNK`).
//! Every failure maps to one `PeerError` so the fetcher can tell a slow peer
//! from a lying one. A length announced against the descriptor's is read
//! anyway: if the bytes hash right, the descriptor is what lies.

use super::pool::{peek, Peek, Pool};
use crate::blob::{BlobReceiver, VerifiedBlob, MAX_BLOB_SIZE};
use crate::fetch::{BlobPeer, BoxFuture, PeerAddr, PeerError};
use crate::hash::BlobHash;
use crate::wire::exchange::{
    decode_response, BlobRequest, BlobResponse, IncomingBlob, MAX_HASHES_PER_QUERY,
    MAX_RESPONSE_HEADER, RATE_ACCEPTED,
};
use crate::wire::WireError;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tracing::{debug, Instrument};

/// Most bytes taken from the socket, and hashed, per read: large enough to
/// keep syscalls few, small enough that hashing one read (about 0.3 ms of
/// SHA-384) does not hold up other tasks on the worker.
const READ_CHUNK: usize = 128 * 1024;

/// Deadlines and limits of the client.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// TCP connect (lbry-sdk: 3 s).
    pub connect_timeout: Duration,
    /// From sending a request to holding the whole answer header (lbry-sdk: 30 s).
    pub header_timeout: Duration,
    /// Longest silence while receiving the blob bytes: a slow peer that keeps
    /// sending is not cut off, a stalled one is (lbry-sdk: 30 s for the whole blob).
    pub body_timeout: Duration,
    /// Longest time for the whole blob, however steadily it trickles in
    /// (lbry-sdk gives a data blob 300 s overall).
    pub body_deadline: Duration,
    /// Largest answer header accepted.
    pub max_header: usize,
    /// Idle connections older than this are not reused (lbry-sdk servers close after 30 s).
    pub pool_max_idle: Duration,
    /// Idle connections kept per peer; 0 disables reuse.
    pub pool_per_peer: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(3),
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
            body_deadline: Duration::from_secs(300),
            max_header: MAX_RESPONSE_HEADER,
            pool_max_idle: Duration::from_secs(20),
            pool_per_peer: 4,
        }
    }
}

/// The blob exchange client, also asking HTTP blob sources as the fetcher's
/// [`BlobPeer`]; cheap to share (`Arc`) between many fetches.
pub struct ExchangeClient {
    cfg: ClientConfig,
    pool: Pool,
    http: super::http::HttpBlobs,
}

/// A failed exchange, and whether the peer never answered at all (then a
/// reused connection was probably closed while idle, and a fresh one may work).
struct Failed {
    error: PeerError,
    unanswered: bool,
}

impl From<PeerError> for Failed {
    fn from(error: PeerError) -> Self {
        Failed {
            error,
            unanswered: false,
        }
    }
}

type Exchange<T> = Result<T, Failed>;

impl ExchangeClient {
    pub fn new(cfg: ClientConfig) -> Self {
        let pool = Pool::new(cfg.pool_max_idle, cfg.pool_per_peer);
        let http = super::http::HttpBlobs::new(cfg.clone());
        Self { cfg, pool, http }
    }

    /// Downloads and verifies one blob from `peer`.
    pub async fn fetch(
        &self,
        peer: SocketAddr,
        hash: BlobHash,
        expected_len: Option<u64>,
    ) -> Result<VerifiedBlob, PeerError> {
        let span = tracing::info_span!("fetch", %peer, blob = %hash.short());
        let download = Download {
            request: BlobRequest::download(hash).encode(),
            hash,
            expected_len,
        };
        let result = self
            .with_connection(peer, &download)
            .instrument(span.clone())
            .await;
        span.in_scope(|| match &result {
            Ok(blob) => debug!(bytes = blob.len(), "fetched"),
            Err(e) => debug!(error = %e, "fetch failed"),
        });
        result
    }

    /// Which of `hashes` the peer has (availability queries only, no download).
    pub async fn available(
        &self,
        peer: SocketAddr,
        hashes: &[BlobHash],
    ) -> Result<Vec<BlobHash>, PeerError> {
        let mut found = Vec::new();
        for chunk in hashes.chunks(MAX_HASHES_PER_QUERY) {
            let query = Query {
                request: BlobRequest::availability(chunk.to_vec()).encode(),
            };
            let have = self
                .with_connection(peer, &query)
                .instrument(tracing::info_span!("query", %peer))
                .await?;
            found.extend(have.into_iter().filter(|h| chunk.contains(h)));
        }
        Ok(found)
    }

    /// Idle pooled connections to `peer`.
    pub fn idle_connections(&self, peer: SocketAddr) -> usize {
        self.pool.idle(peer)
    }

    /// Runs one exchange on a pooled or new connection, retrying once on a
    /// fresh connection when a pooled one turns out to be dead. The connection
    /// returns to the pool only after a clean exchange.
    async fn with_connection<O: Op>(&self, peer: SocketAddr, op: &O) -> Result<O::Out, PeerError> {
        let (mut stream, reused) = match self.pool.take(peer) {
            Some(stream) => (stream, true),
            None => (self.connect(peer).await?, false),
        };
        let mut result = op.run(self, &mut stream).await;
        if reused && matches!(&result, Err(f) if f.unanswered) {
            debug!("pooled connection was dead, retrying on a new one");
            stream = self.connect(peer).await?;
            result = op.run(self, &mut stream).await;
        }
        match result {
            Ok(out) => {
                self.pool.put(peer, stream);
                Ok(out)
            }
            Err(failed) => Err(failed.error),
        }
    }

    async fn connect(&self, peer: SocketAddr) -> Result<TcpStream, PeerError> {
        match timeout(self.cfg.connect_timeout, TcpStream::connect(peer)).await {
            Err(_) => Err(PeerError::Timeout("connecting")),
            Ok(Err(e)) => Err(PeerError::Connect(e.to_string())),
            Ok(Ok(stream)) => {
                // Requests are single small writes; don't let Nagle hold them.
                let _ = stream.set_nodelay(true);
                Ok(stream)
            }
        }
    }

    /// Sends a request and reads the answer header; returns it with the bytes
    /// received after it (the start of the blob, if any).
    async fn ask(
        &self,
        stream: &mut TcpStream,
        request: &[u8],
    ) -> Exchange<(BlobResponse, Vec<u8>)> {
        let exchange = async {
            if stream.write_all(request).await.is_err() {
                return Err(unanswered(
                    "peer closed the connection before the request was sent",
                ));
            }
            let mut buf: Vec<u8> = Vec::with_capacity(8192);
            loop {
                if buf.capacity() - buf.len() < 1024 {
                    buf.reserve(8192);
                }
                let n = match stream.read_buf(&mut buf).await {
                    Ok(n) => n,
                    Err(e) if buf.is_empty() => {
                        return Err(unanswered(&format!("reading the answer: {e}")))
                    }
                    Err(e) => return Err(protocol(&format!("reading the answer header: {e}"))),
                };
                if n == 0 {
                    return Err(if buf.is_empty() {
                        unanswered("peer closed the connection without answering")
                    } else {
                        protocol("peer closed the connection in the middle of the header")
                    });
                }
                match decode_response(&buf, self.cfg.max_header) {
                    Ok((response, used)) => return Ok((response, buf.split_off(used))),
                    Err(WireError::Incomplete) => {}
                    Err(WireError::Invalid(e)) => {
                        return Err(protocol(&format!("bad answer: {e}")))
                    }
                }
            }
        };
        match timeout(self.cfg.header_timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(PeerError::Timeout("waiting for header").into()),
        }
    }

    /// Reads exactly `length` blob bytes, `pending` being those already
    /// received, hashing each read as it lands, and checks them against `hash`.
    async fn read_body(
        &self,
        stream: &mut TcpStream,
        hash: &BlobHash,
        length: u64,
        pending: &[u8],
    ) -> Exchange<VerifiedBlob> {
        // `check_download` bounded `length` by MAX_BLOB_SIZE.
        let len = length as usize;
        if pending.len() > len {
            return Err(protocol(&format!(
                "peer sent {} bytes beyond the announced {length}",
                pending.len() - len
            )));
        }
        let mut blob = BlobReceiver::with_capacity(len);
        blob.push(pending);
        let idle = self.cfg.body_timeout;
        let body = async {
            let download = super::rate::download();
            while blob.len() < len {
                download.ready().await;
                let spare = blob.spare(download.chunk(READ_CHUNK));
                match timeout(idle, stream.read(spare)).await {
                    Err(_) => return Err(PeerError::Timeout("receiving blob: peer went silent")),
                    Ok(Ok(0) | Err(_)) => return Ok(false),
                    Ok(Ok(n)) => {
                        download.charge(n as u64);
                        blob.commit(n)
                    }
                }
            }
            Ok(true)
        };
        match timeout(self.cfg.body_deadline, body).await {
            Err(_) => Err(PeerError::Timeout("receiving blob").into()),
            Ok(Err(e)) => Err(e.into()),
            Ok(Ok(false)) => Err(PeerError::ShortRead {
                got: blob.len() as u64,
                expected: length,
            }
            .into()),
            // A peer that closes after a complete blob is fine; it is just not reused.
            Ok(Ok(true)) if peek(stream) == Peek::Unexpected => {
                Err(protocol("peer sent more bytes than the announced length"))
            }
            Ok(Ok(true)) => blob
                .finish(hash)
                .map_err(|actual| PeerError::HashMismatch { actual }.into()),
        }
    }
}

fn protocol(msg: &str) -> Failed {
    PeerError::Protocol(msg.to_owned()).into()
}

fn unanswered(msg: &str) -> Failed {
    Failed {
        error: PeerError::Protocol(msg.to_owned()),
        unanswered: true,
    }
}

/// One request/answer exchange on a connection.
trait Op {
    type Out;
    fn run(
        &self,
        client: &ExchangeClient,
        stream: &mut TcpStream,
    ) -> impl std::future::Future<Output = Exchange<Self::Out>> + Send;
}

/// The standard download request, answer checks, body, hash check.
struct Download {
    request: Vec<u8>,
    hash: BlobHash,
    expected_len: Option<u64>,
}

impl Op for Download {
    type Out = VerifiedBlob;
    async fn run(&self, client: &ExchangeClient, stream: &mut TcpStream) -> Exchange<VerifiedBlob> {
        let (response, pending) = client.ask(stream, &self.request).await?;
        let incoming = check_download(&response, self.hash)?;
        let body = client
            .read_body(stream, &self.hash, incoming.length, &pending)
            .await;
        let got = incoming.length;
        match self.expected_len {
            // A length against the descriptor's: the blob itself says who lies.
            Some(expected) if expected != got => Err(match body {
                Ok(_) => PeerError::DescriptorLength {
                    expected,
                    actual: got,
                },
                Err(_) => PeerError::WrongLength { expected, got },
            }
            .into()),
            _ => body,
        }
    }
}

/// An availability query: an answer header and nothing after it.
struct Query {
    request: Vec<u8>,
}

impl Op for Query {
    type Out = Vec<BlobHash>;
    async fn run(
        &self,
        client: &ExchangeClient,
        stream: &mut TcpStream,
    ) -> Exchange<Vec<BlobHash>> {
        let (response, pending) = client.ask(stream, &self.request).await?;
        if !pending.is_empty() || response.incoming_blob.is_some() {
            return Err(protocol("blob bytes sent for an availability query"));
        }
        response
            .available_blobs
            .ok_or_else(|| protocol("answer has no available_blobs"))
    }
}

/// lbry-sdk's acceptance rules for a download answer (docs/protocol.md §3.6).
fn check_download(response: &BlobResponse, hash: BlobHash) -> Exchange<IncomingBlob> {
    let available = response.available_blobs.as_deref();
    let incoming = response.incoming_blob;
    match (incoming, available) {
        (None, None | Some([])) => return Err(PeerError::NotAvailable.into()),
        (_, Some(list)) if !list.is_empty() && list != [hash] => {
            return Err(protocol("available_blobs does not match the request"))
        }
        (_, None) => return Err(protocol("answer has no available_blobs")),
        _ => {}
    }
    if response.blob_data_payment_rate.as_deref() != Some(RATE_ACCEPTED) {
        return Err(protocol("price not accepted (blob_data_payment_rate)"));
    }
    let incoming = incoming.ok_or(PeerError::NotAvailable)?;
    if incoming.blob_hash != hash {
        return Err(protocol(&format!(
            "peer offered blob {} instead",
            incoming.blob_hash.short()
        )));
    }
    if incoming.length > MAX_BLOB_SIZE as u64 {
        return Err(protocol(&format!(
            "peer announced {} bytes, more than the 2 MiB maximum",
            incoming.length
        )));
    }
    Ok(incoming)
}

impl BlobPeer for ExchangeClient {
    fn fetch_blob(
        &self,
        peer: PeerAddr,
        hash: BlobHash,
        expected_len: Option<u64>,
    ) -> BoxFuture<'_, Result<VerifiedBlob, PeerError>> {
        match peer {
            PeerAddr::Tcp(addr) => Box::pin(self.fetch(addr, hash, expected_len)),
            PeerAddr::Http(base) => Box::pin(self.http.fetch(base, hash, expected_len)),
        }
    }
}
