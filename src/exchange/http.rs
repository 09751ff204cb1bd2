//! HTTP blob sources: `GET URL/blob?hash=<hex>` as Odysee's blob storage
//! serves it (docs/protocol.md §3.9), one more kind of candidate for the
//! fetcher next to blob-exchange peers.
//!
//! The answer is held to what a peer's is: a 404 says the source lacks the
//! blob; any other status, a body over [`MAX_BLOB_SIZE`], a body cut short
//! of its `Content-Length`, or bytes that do not hash to the blob asked for
//! is an error naming what went wrong. Connect, silence and whole-blob
//! deadlines are the blob-exchange client's; redirects are followed at most
//! [`MAX_REDIRECTS`] times. TLS is rustls (no system OpenSSL).

use super::client::ClientConfig;
use crate::blob::{BlobReceiver, VerifiedBlob, MAX_BLOB_SIZE};
use crate::fetch::{HttpUrl, PeerError};
use crate::hash::BlobHash;
use std::sync::OnceLock;
use tokio::time::{timeout, timeout_at, Instant};
use tracing::Instrument;

/// Redirects followed per request, at most.
pub const MAX_REDIRECTS: usize = 3;

/// Fetches blobs from HTTP sources; the underlying client is built when first used.
pub struct HttpBlobs {
    cfg: ClientConfig,
    client: OnceLock<Result<reqwest::Client, String>>,
}

impl HttpBlobs {
    pub fn new(cfg: ClientConfig) -> Self {
        Self {
            cfg,
            client: OnceLock::new(),
        }
    }

    fn client(&self) -> Result<&reqwest::Client, PeerError> {
        let built = self.client.get_or_init(|| {
            reqwest::Client::builder()
                .connect_timeout(self.cfg.connect_timeout)
                .read_timeout(self.cfg.body_timeout)
                .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
                .user_agent(concat!("lbrymount/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| format!("cannot set up the HTTP client: {e}"))
        });
        built.as_ref().map_err(|e| PeerError::Protocol(e.clone()))
    }

    /// Downloads and verifies one blob from the source at `base`.
    pub async fn fetch(
        &self,
        base: HttpUrl,
        hash: BlobHash,
        expected_len: Option<u64>,
    ) -> Result<VerifiedBlob, PeerError> {
        let span = tracing::info_span!("fetch", peer = %base, blob = %hash.short());
        let result = self
            .get(base, hash, expected_len)
            .instrument(span.clone())
            .await;
        span.in_scope(|| match &result {
            Ok(blob) => tracing::debug!(bytes = blob.len(), "fetched"),
            Err(e) => tracing::debug!(error = %e, "fetch failed"),
        });
        result
    }

    async fn get(
        &self,
        base: HttpUrl,
        hash: BlobHash,
        expected_len: Option<u64>,
    ) -> Result<VerifiedBlob, PeerError> {
        let url = format!("{base}/blob?hash={}", hash.to_hex());
        let deadline = Instant::now() + self.cfg.body_deadline;
        let client = self.client()?;
        let answer = timeout(self.cfg.header_timeout, client.get(&url).send())
            .await
            .map_err(|_| PeerError::Timeout("waiting for the HTTP answer"))?
            .map_err(request_error)?;
        let status = answer.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(PeerError::NotAvailable);
        }
        if !status.is_success() {
            return Err(PeerError::Protocol(format!("HTTP status {status}")));
        }
        let announced = answer.content_length();
        if let Some(n) = announced.filter(|n| *n > MAX_BLOB_SIZE as u64) {
            return Err(over_cap(n));
        }
        let received = timeout_at(deadline, read_body(answer, announced))
            .await
            .map_err(|_| PeerError::Timeout("receiving the blob (overall deadline)"))??;
        verify(received, &hash, expected_len)
    }
}

/// Reads the body into a receiver, hashing as it lands, refusing more than
/// [`MAX_BLOB_SIZE`] bytes and a body cut short of its announced length.
async fn read_body(
    mut answer: reqwest::Response,
    announced: Option<u64>,
) -> Result<BlobReceiver, PeerError> {
    let mut rx = BlobReceiver::with_capacity(announced.unwrap_or(0) as usize);
    loop {
        let chunk = match answer.chunk().await {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) if e.is_timeout() => return Err(PeerError::Timeout("receiving the blob")),
            Err(e) => {
                return Err(match announced {
                    Some(expected) => PeerError::ShortRead {
                        got: rx.len() as u64,
                        expected,
                    },
                    None => PeerError::Protocol(format!("reading the HTTP body: {e}")),
                })
            }
        };
        if rx.len() + chunk.len() > MAX_BLOB_SIZE {
            return Err(over_cap((rx.len() + chunk.len()) as u64));
        }
        rx.push(&chunk);
    }
    match announced {
        Some(expected) if (rx.len() as u64) < expected => Err(PeerError::ShortRead {
            got: rx.len() as u64,
            expected,
        }),
        _ => Ok(rx),
    }
}

/// The blob if its bytes hash right; a length other than the descriptor's
/// blames the descriptor when the hash verifies, the source otherwise.
fn verify(
    rx: BlobReceiver,
    hash: &BlobHash,
    expected_len: Option<u64>,
) -> Result<VerifiedBlob, PeerError> {
    let got = rx.len() as u64;
    match (rx.finish(hash), expected_len) {
        (Ok(_), Some(expected)) if expected != got => Err(PeerError::DescriptorLength {
            expected,
            actual: got,
        }),
        (Ok(blob), _) => Ok(blob),
        (Err(_), Some(expected)) if expected != got => {
            Err(PeerError::WrongLength { expected, got })
        }
        (Err(actual), _) => Err(PeerError::HashMismatch { actual }),
    }
}

fn over_cap(n: u64) -> PeerError {
    PeerError::Protocol(format!(
        "HTTP body of {n} bytes or more, over the 2 MiB blob maximum"
    ))
}

fn request_error(e: reqwest::Error) -> PeerError {
    if e.is_timeout() {
        PeerError::Timeout("waiting for the HTTP answer")
    } else if e.is_connect() {
        PeerError::Connect(error_chain(&e))
    } else if e.is_redirect() {
        PeerError::Protocol(format!("more than {MAX_REDIRECTS} redirects"))
    } else {
        PeerError::Protocol(error_chain(&e))
    }
}

/// The error and its causes on one line (reqwest's own message is terse).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}
