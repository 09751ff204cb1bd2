//! Peers that speak the real blob-exchange protocol but misbehave on purpose.
//!
//! ```ignore
//! let blob = encrypted_blob(1000);
//! let peer = FakePeer::start(Mode::Corrupt, blob_map([&blob])).await;
//! let err = client.fetch(peer.addr(), *blob.hash(), Some(blob.len() as u64)).await;
//! assert!(matches!(err, Err(PeerError::HashMismatch { .. })));
//! assert_eq!(peer.requests(), 1);
//! ```
//!
//! The peer listens on 127.0.0.1 (any free port), reads requests with the
//! crate's request decoder, and writes answers by hand in lbry-sdk's exact
//! format, so client tests do not depend on our own answer encoder. It stops
//! when dropped, closing every connection.

use lbrymount::blob::{encrypt, StreamKey, VerifiedBlob};
use lbrymount::hash::BlobHash;
use lbrymount::wire::exchange::{decode_request, BlobRequest};
use lbrymount::wire::WireError;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// The payment address the fake answers with.
pub const FAKE_ADDRESS: &str = "bFakeAddress";

/// How the peer (mis)behaves once it has read a download request for a blob it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Serves correctly, any number of blobs per connection.
    Good,
    /// Serves the blob with one byte flipped.
    Corrupt,
    /// Reads the request and never answers.
    Stall,
    /// Sends the header and half the bytes, then never sends more.
    StallMidBlob,
    /// Sends the header and half the bytes, then closes.
    DisconnectMidBlob,
    /// Announces 16 bytes more than the blob has, then sends the blob.
    WrongLength,
    /// Answers with bytes that are not JSON.
    Garbage,
    /// Answers like lbry-sdk when it lacks the blob: no `incoming_blob`.
    Refuse,
    /// Serves correctly but slowly: the blob in ten pieces, 100 ms apart.
    Trickle,
    /// Serves one blob per connection, then closes on the next request
    /// without answering (an lbry-sdk server whose idle timer just fired).
    OneBlobPerConnection,
    /// Serves the first N blobs it is asked for (over all connections), then
    /// never answers again: a stream that stalls partway.
    StallAfter(usize),
    /// The first answer for each blob is cut off: the header and half the
    /// bytes, then the connection closes. Later requests are served correctly.
    TruncateFirst,
}

/// A misbehaving peer on 127.0.0.1; stops on drop.
pub struct FakePeer {
    addr: SocketAddr,
    requests: Arc<AtomicUsize>,
    connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

struct Ctx {
    mode: Mode,
    blobs: HashMap<BlobHash, Vec<u8>>,
    requests: Arc<AtomicUsize>,
    /// Blobs sent, over all connections.
    sent: AtomicUsize,
    /// Blobs whose first answer was already cut off (`TruncateFirst`).
    truncated: std::sync::Mutex<std::collections::HashSet<BlobHash>>,
}

impl FakePeer {
    /// Starts serving `blobs` (hash -> bytes) in `mode`.
    pub async fn start(mode: Mode, blobs: HashMap<BlobHash, Vec<u8>>) -> FakePeer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let requests = Arc::new(AtomicUsize::new(0));
        let connections = Arc::new(AtomicUsize::new(0));
        let ctx = Arc::new(Ctx {
            mode,
            blobs,
            requests: requests.clone(),
            sent: AtomicUsize::new(0),
            truncated: Default::default(),
        });
        let accepted = connections.clone();
        let task = tokio::spawn(async move {
            // Dropping the set (when this task is aborted) aborts every connection.
            let mut conns = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                accepted.fetch_add(1, Ordering::SeqCst);
                conns.spawn(serve(stream, ctx.clone()));
            }
        });
        FakePeer {
            addr,
            requests,
            connections,
            task,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Complete requests read so far, over all connections.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for FakePeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A real blob: `plain_len` random bytes encrypted like lbry-sdk does.
pub fn encrypted_blob(plain_len: usize) -> VerifiedBlob {
    let plain: Vec<u8> = (0..plain_len).map(|_| rand::random::<u8>()).collect();
    let iv: [u8; 16] = rand::random();
    VerifiedBlob::from_bytes(encrypt(&StreamKey::random(), &iv, &plain))
}

/// The map `FakePeer::start` wants.
pub fn blob_map<'a>(
    blobs: impl IntoIterator<Item = &'a VerifiedBlob>,
) -> HashMap<BlobHash, Vec<u8>> {
    blobs
        .into_iter()
        .map(|b| (*b.hash(), b.data().to_vec()))
        .collect()
}

async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<BlobRequest> {
    loop {
        let mut chunk = [0u8; 1200];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        match decode_request(buf) {
            Ok(request) => {
                buf.clear();
                return Some(request);
            }
            Err(WireError::Incomplete) => {}
            Err(WireError::Invalid(_)) => return None,
        }
    }
}

fn list(hashes: &[BlobHash]) -> String {
    let quoted: Vec<String> = hashes.iter().map(|h| format!("\"{h}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

async fn serve(mut stream: TcpStream, ctx: Arc<Ctx>) {
    let mut buf = Vec::new();
    let mut served = 0;
    while let Some(request) = read_request(&mut stream, &mut buf).await {
        ctx.requests.fetch_add(1, Ordering::SeqCst);
        let Some(hash) = request.requested_blob else {
            let wanted = request.requested_blobs.unwrap_or_default();
            let have: Vec<BlobHash> = wanted
                .into_iter()
                .filter(|h| ctx.blobs.contains_key(h))
                .collect();
            let answer = format!(
                r#"{{"available_blobs": {}, "lbrycrd_address": "{FAKE_ADDRESS}"}}"#,
                list(&have)
            );
            if stream.write_all(answer.as_bytes()).await.is_err() {
                return;
            }
            continue;
        };
        let refuse = format!(
            r#"{{"blob_data_payment_rate": "RATE_ACCEPTED", "available_blobs": [], "lbrycrd_address": "{FAKE_ADDRESS}"}}"#
        );
        let data = match ctx.blobs.get(&hash) {
            Some(data) if ctx.mode != Mode::Refuse => data,
            _ => {
                if stream.write_all(refuse.as_bytes()).await.is_err() {
                    return;
                }
                continue;
            }
        };
        let header = |length: usize| {
            format!(
                r#"{{"incoming_blob": {{"blob_hash": "{hash}", "length": {length}}}, "blob_data_payment_rate": "RATE_ACCEPTED", "available_blobs": ["{hash}"], "lbrycrd_address": "{FAKE_ADDRESS}"}}"#
            )
        };
        if let Mode::StallAfter(n) = ctx.mode {
            if ctx.sent.fetch_add(1, Ordering::SeqCst) >= n {
                return std::future::pending().await;
            }
        }
        let half = &data[..data.len() / 2];
        let cut = ctx.mode == Mode::TruncateFirst
            && ctx.truncated.lock().expect("truncated set").insert(hash);
        let out: Vec<u8> = match ctx.mode {
            Mode::TruncateFirst if cut => [header(data.len()).as_bytes(), half].concat(),
            Mode::Stall => return std::future::pending().await,
            Mode::Garbage => b"HTTP/1.1 400 Bad Request\r\n\r\nnot json".to_vec(),
            Mode::OneBlobPerConnection if served > 0 => return,
            Mode::Trickle => {
                if stream
                    .write_all(header(data.len()).as_bytes())
                    .await
                    .is_err()
                {
                    return;
                }
                for piece in data.chunks(data.len().div_ceil(10).max(1)) {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    if stream.write_all(piece).await.is_err() {
                        return;
                    }
                }
                Vec::new()
            }
            Mode::Good
            | Mode::Refuse
            | Mode::OneBlobPerConnection
            | Mode::StallAfter(_)
            | Mode::TruncateFirst => [header(data.len()).as_bytes(), data].concat(),
            Mode::Corrupt => {
                let mut bad = data.clone();
                let mid = bad.len() / 2;
                bad[mid] ^= 0x01;
                [header(data.len()).as_bytes(), &bad].concat()
            }
            Mode::WrongLength => [header(data.len() + 16).as_bytes(), data].concat(),
            Mode::StallMidBlob | Mode::DisconnectMidBlob => {
                [header(data.len()).as_bytes(), half].concat()
            }
        };
        if stream.write_all(&out).await.is_err() {
            return;
        }
        served += 1;
        match ctx.mode {
            Mode::DisconnectMidBlob => return,
            Mode::TruncateFirst if cut => return,
            Mode::StallMidBlob => return std::future::pending().await,
            _ => {}
        }
    }
}
