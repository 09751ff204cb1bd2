//! One server connection: read a request, answer it, send the blob, repeat.
//!
//! Strictly one request at a time: a request is read only after the previous
//! answer and blob are fully sent, so output never interleaves. Anything
//! lbry-sdk's server would not accept closes this connection and nothing
//! else: a request of 1200 bytes or more, bytes that are not a JSON object, no
//! recognised key, an invalid `requested_blob`, or a second request in the same read.
//! The one key lbry-sdk does not know that we answer is lbrymount's name
//! search (docs/protocol.md §11.3), answered from the server's name index.

use super::send::{self, send_blob, Drain};
use super::server::{NameSearch, ServedStore, ServerConfig, ServerStats};
use crate::blob::MAX_BLOB_SIZE;
use crate::hash::BlobHash;
use crate::store::RawBlob;
use crate::wire::exchange::{decode_request, BlobRequest, BlobResponse, MAX_REQUEST_SIZE};
use crate::wire::search;
use crate::wire::{Invalid, WireError};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{timeout, Instant};
use tracing::{debug, warn, Instrument};

/// What every connection task of one server shares.
pub(super) struct Shared {
    pub store: Arc<dyn ServedStore>,
    pub names: Option<Arc<dyn NameSearch>>,
    pub cfg: ServerConfig,
    pub stats: Arc<ServerStats>,
}

/// One request read from a connection.
enum Incoming {
    Blob(BlobRequest),
    /// lbrymount's name search: the query text.
    Search(String),
}

/// How a connection ended without fault on our side.
#[derive(Debug)]
pub(super) enum ConnEnd {
    PeerClosed,
    Idle,
    Shutdown,
}

/// Why a connection was dropped.
#[derive(Debug, thiserror::Error)]
pub(super) enum ConnError {
    #[error("bad request: {0}")]
    BadRequest(Invalid),
    #[error("reading the request: {0}")]
    Read(io::Error),
    #[error("sending the answer for {blob}: {error}")]
    Send { blob: String, error: io::Error },
    #[error("timed out sending the answer for {0}")]
    SendTimeout(String),
    #[error("the peer stopped reading: {unread} bytes sent to it unread for {} s", stall.as_secs_f64())]
    NotReading {
        unread: u64,
        stall: std::time::Duration,
    },
}

/// Serves one connection until the peer leaves, idles out, misbehaves, or the server stops.
pub(super) async fn serve(
    mut stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) -> Result<ConnEnd, ConnError> {
    debug!("connection accepted");
    let mut buf = [0u8; MAX_REQUEST_SIZE];
    let mut filled = 0;
    let mut idle_deadline = Instant::now() + shared.cfg.idle_timeout;
    let stall = shared.cfg.stall_timeout;
    // Watches a sent blob leave the kernel's send queue (see `send::Drain`).
    let mut drain: Option<Drain> = None;
    loop {
        let check_at = drain.as_ref().map(Drain::check_at);
        let request = tokio::select! {
            biased;
            // An error means the server is gone: stop as well.
            _ = stop.wait_for(|stopping| *stopping) => return Ok(ConnEnd::Shutdown),
            () = tokio::time::sleep_until(idle_deadline) => return Ok(ConnEnd::Idle),
            () = tokio::time::sleep_until(check_at.unwrap_or(idle_deadline)), if check_at.is_some() => {
                drain = match drain.take().map(|d| d.check(&stream, stall)) {
                    Some(Err(unread)) => return Err(ConnError::NotReading { unread, stall }),
                    Some(Ok(next)) => next,
                    None => None,
                };
                continue;
            }
            read = read_request(&mut stream, &mut buf, &mut filled) => match read {
                Ok(Some(request)) => request,
                Ok(None) => return Ok(ConnEnd::PeerClosed),
                Err(e) => {
                    if matches!(e, ConnError::BadRequest(_)) {
                        ServerStats::add(&shared.stats.bad_requests, 1);
                    }
                    return Err(e);
                }
            },
        };
        ServerStats::add(&shared.stats.requests, 1);
        let request = match request {
            Incoming::Blob(r) => r,
            Incoming::Search(text) => {
                answer_search(&mut stream, &shared, text).await?;
                continue;
            }
        };
        // Like lbry-sdk, only a blob transfer counts as activity; queries do not.
        if answer(&mut stream, peer, &shared, &request).await? {
            idle_deadline = Instant::now() + shared.cfg.idle_timeout;
            drain = Drain::start(&stream, stall);
        }
    }
}

/// Reads until the buffer holds one complete request; `None` when the peer closed.
async fn read_request(
    stream: &mut TcpStream,
    buf: &mut [u8; MAX_REQUEST_SIZE],
    filled: &mut usize,
) -> Result<Option<Incoming>, ConnError> {
    loop {
        // `decode_request` refuses a full buffer, so there is always room here.
        let n = stream
            .read(&mut buf[*filled..])
            .await
            .map_err(ConnError::Read)?;
        if n == 0 {
            return Ok(None);
        }
        *filled += n;
        match decode_request(&buf[..*filled]) {
            Ok(request) => {
                *filled = 0;
                return Ok(Some(Incoming::Blob(request)));
            }
            Err(WireError::Invalid(Invalid::NoKnownKey)) => {
                let text = match search::decode_request(&buf[..*filled]) {
                    Ok(Some(text)) => text,
                    Ok(None) => return Err(ConnError::BadRequest(Invalid::NoKnownKey)),
                    Err(WireError::Invalid(e)) => return Err(ConnError::BadRequest(e)),
                    Err(WireError::Incomplete) => continue,
                };
                *filled = 0;
                return Ok(Some(Incoming::Search(text)));
            }
            Err(WireError::Incomplete) => {}
            Err(WireError::Invalid(e)) => return Err(ConnError::BadRequest(e)),
        }
    }
}

/// Answers one request; true when a blob was sent.
async fn answer(
    stream: &mut TcpStream,
    peer: SocketAddr,
    shared: &Shared,
    request: &BlobRequest,
) -> Result<bool, ConnError> {
    let raw = match request.requested_blob {
        Some(hash) => open_blob(shared, hash).await,
        None => None,
    };
    let len = raw.as_ref().map(raw_len);
    let address = &shared.cfg.lbrycrd_address;
    let response = BlobResponse::answer(request, |h| shared.store.contains(h), len, address);
    if response.is_empty() {
        // lbry-sdk sends nothing at all here (a bare download request for a blob it lacks).
        return Ok(false);
    }
    let header = response.encode();
    let (deadline, stall) = (shared.cfg.send_timeout, shared.cfg.stall_timeout);
    let Some((hash, raw)) = request.requested_blob.zip(raw) else {
        let what = || "a query".to_owned();
        return match timeout(deadline, send::write_all(stream, &header, stall)).await {
            Ok(Ok(())) => Ok(false),
            Ok(Err(error)) => Err(ConnError::Send {
                blob: what(),
                error,
            }),
            Err(_) => Err(ConnError::SendTimeout(what())),
        };
    };
    let span = tracing::info_span!("send", blob = %hash.short());
    let sent = timeout(deadline, send_blob(stream, &header, raw, stall))
        .instrument(span)
        .await;
    match sent {
        Ok(Ok(bytes)) => {
            ServerStats::add(&shared.stats.blobs_served, 1);
            ServerStats::add(&shared.stats.bytes_served, bytes);
            debug!(blob = %hash.short(), %peer, bytes, "served blob");
            Ok(true)
        }
        Ok(Err(error)) => Err(ConnError::Send {
            blob: hash.short(),
            error,
        }),
        Err(_) => Err(ConnError::SendTimeout(hash.short())),
    }
}

/// Answers a name search from the index (off the async threads), at most
/// [`search::MAX_HITS`] streams; no index answers an empty list.
async fn answer_search(
    stream: &mut TcpStream,
    shared: &Shared,
    text: String,
) -> Result<(), ConnError> {
    let hits = match shared.names.clone() {
        Some(names) => crate::blocking::run(move || names.search(&text, search::MAX_HITS))
            .await
            .unwrap_or_default(),
        None => Vec::new(),
    };
    debug!(hits = hits.len(), "answered a name search");
    let bytes = search::encode_answer(&hits);
    let deadline = shared.cfg.send_timeout;
    match timeout(
        deadline,
        send::write_all(stream, &bytes, shared.cfg.stall_timeout),
    )
    .await
    {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(ConnError::Send {
            blob: "a search answer".into(),
            error,
        }),
        Err(_) => Err(ConnError::SendTimeout("a search answer".into())),
    }
}

/// Opens a blob for sending, off the async threads (store I/O is blocking).
/// A blob the store cannot open is answered as absent, and the failure logged.
async fn open_blob(shared: &Shared, hash: BlobHash) -> Option<RawBlob> {
    let store = shared.store.clone();
    let opened = crate::blocking::run(move || {
        let raw = store.open_raw(&hash);
        if let Ok(Some(RawBlob::File(file, len))) = &raw {
            prefetch(file, *len);
        }
        raw
    });
    match opened.await {
        Ok(Ok(Some(raw))) if raw_len(&raw) <= MAX_BLOB_SIZE as u64 => Some(raw),
        Ok(Ok(Some(raw))) => {
            let len = raw_len(&raw);
            warn!(blob = %hash.short(), len, "stored blob is larger than 2 MiB, not serving it");
            None
        }
        Ok(Ok(None)) => None,
        Ok(Err(e)) => {
            warn!(blob = %hash.short(), error = %e, "cannot open blob to serve it");
            None
        }
        Err(e) => {
            warn!(blob = %hash.short(), error = %e, "opening blob failed");
            None
        }
    }
}

/// Pulls the blob into the page cache here, on the blocking thread, so the
/// `sendfile` that follows on an async thread does not wait for the disk.
fn prefetch(file: &std::fs::File, len: u64) {
    use std::os::fd::AsRawFd;
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    // SAFETY: readahead(2) on a file descriptor we own for the whole call. A
    // failure only means the send will read from disk itself.
    unsafe { libc::readahead(file.as_raw_fd(), 0, len) };
}

fn raw_len(raw: &RawBlob) -> u64 {
    match raw {
        RawBlob::File(_, len) => *len,
        RawBlob::Bytes(bytes) => bytes.len() as u64,
    }
}
