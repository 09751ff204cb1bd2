//! Uploading one stream to a reflector, as lbry-sdk's
//! `ManagedStream.upload_to_reflector` does: handshake, offer the sd blob,
//! send it if asked, then offer only the blobs the reflector still needs
//! (all of the stream's after a fresh sd blob). Resumable by construction:
//! the reflector's `needed_blobs` is what is missing, so a run cut short is
//! finished by the next, and a complete stream costs one round trip.

use super::conn::Conn;
use super::ReflectorError;
use crate::hash::{BlobHash, SdHash};
use crate::sd::StreamDescriptor;
use crate::store::ReadBlob;
use crate::wire::reflector::{decode_response, Request, Response, VERSION};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

/// Deadlines of a client.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Connecting, name resolution included.
    pub connect: Duration,
    /// Each answer (lbry-sdk: 180 s per request, 30 s after sending bytes).
    pub answer: Duration,
    /// Sending one blob's bytes.
    pub send: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            answer: Duration::from_secs(60),
            send: Duration::from_secs(120),
        }
    }
}

/// What one upload did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reflected {
    /// Blobs sent (the sd blob included).
    pub blobs_sent: usize,
    /// Bytes of blobs sent.
    pub bytes_sent: u64,
    /// Blobs of the stream (sd blob included).
    pub blobs_total: usize,
}

/// Uploads the stream `sd` from `store` to the reflector at `addr`
/// (`HOST:PORT`); `progress` gets the bytes of each blob sent.
pub async fn reflect<S: ReadBlob + Send + Sync + 'static>(
    store: Arc<S>,
    addr: &str,
    sd: SdHash,
    cfg: &ClientConfig,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Reflected, ReflectorError> {
    let sd_blob = load(&store, sd.as_blob()).await?;
    let desc =
        StreamDescriptor::parse_verified(&sd_blob, &sd).map_err(ReflectorError::Descriptor)?;
    let mut conn = connect(addr, cfg.connect).await?;
    conn.write(&Request::Version(VERSION).encode(), cfg.send)
        .await?;
    match conn.read_msg(decode_response, cfg.answer).await? {
        Response::Version(VERSION) => {}
        Response::Version(v) => return Err(ReflectorError::Version(v)),
        other => return Err(unexpected(other)),
    }
    let mut done = Reflected {
        blobs_total: desc.blobs().len() + 1,
        ..Reflected::default()
    };
    let offer = Request::SdBlob {
        hash: sd.as_blob(),
        size: sd_blob.len() as u64,
    };
    conn.write(&offer.encode(), cfg.send).await?;
    let needed = match conn.read_msg(decode_response, cfg.answer).await? {
        Response::SendSdBlob { send: true, .. } => {
            conn.write(&sd_blob, cfg.send).await?;
            match conn.read_msg(decode_response, cfg.answer).await? {
                Response::ReceivedSdBlob(true) => {}
                Response::ReceivedSdBlob(false) => return Err(ReflectorError::SdRefused),
                other => return Err(unexpected(other)),
            }
            sent(&mut done, sd_blob.len(), progress);
            desc.blobs().iter().map(|b| b.hash).collect()
        }
        Response::SendSdBlob {
            send: false,
            needed,
        } => needed,
        other => return Err(unexpected(other)),
    };
    tracing::info!(sd = %sd.short(), needed = needed.len(), "reflector needs {} blobs", needed.len());
    for hash in needed {
        send_blob(&mut conn, &store, &desc, hash, cfg, &mut done, progress).await?;
    }
    Ok(done)
}

/// Offers one blob the reflector needs and sends it if it still wants it.
async fn send_blob<S: ReadBlob + Send + Sync + 'static>(
    conn: &mut Conn,
    store: &Arc<S>,
    desc: &StreamDescriptor,
    hash: BlobHash,
    cfg: &ClientConfig,
    done: &mut Reflected,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(), ReflectorError> {
    // Only the stream's own blobs: a reflector cannot make us send others.
    if !desc.blobs().iter().any(|b| b.hash == hash) {
        tracing::warn!(blob = %hash.short(), "reflector asked for a blob not in the stream");
        return Ok(());
    }
    let data = load(store, hash).await?;
    let offer = Request::Blob {
        hash,
        size: data.len() as u64,
    };
    conn.write(&offer.encode(), cfg.send).await?;
    match conn.read_msg(decode_response, cfg.answer).await? {
        Response::SendBlob(true) => {}
        Response::SendBlob(false) => return Ok(()),
        other => return Err(unexpected(other)),
    }
    conn.write(&data, cfg.send).await?;
    match conn.read_msg(decode_response, cfg.answer).await? {
        Response::ReceivedBlob(true) => {
            tracing::info!(blob = %hash.short(), bytes = data.len(), "sent blob");
            sent(done, data.len(), progress);
            Ok(())
        }
        Response::ReceivedBlob(false) => Err(ReflectorError::BlobRefused(hash)),
        other => Err(unexpected(other)),
    }
}

fn sent(done: &mut Reflected, len: usize, progress: &(dyn Fn(u64) + Sync)) {
    done.blobs_sent += 1;
    done.bytes_sent += len as u64;
    progress(len as u64);
}

fn unexpected(r: Response) -> ReflectorError {
    ReflectorError::Unexpected(String::from_utf8_lossy(&r.encode()).into_owned())
}

/// A blob's bytes from the store (re-verified), on the blocking pool.
async fn load<S: ReadBlob + Send + Sync + 'static>(
    store: &Arc<S>,
    hash: BlobHash,
) -> Result<Vec<u8>, ReflectorError> {
    let store = store.clone();
    let got = tokio::task::spawn_blocking(move || store.get(&hash))
        .await
        .map_err(|e| ReflectorError::Io(std::io::Error::other(e)))??;
    got.map(|b| b.into_data())
        .ok_or(ReflectorError::Missing(hash))
}

async fn connect(addr: &str, deadline: Duration) -> Result<Conn, ReflectorError> {
    let attempt = async {
        let mut last = None;
        for a in tokio::net::lookup_host(addr).await? {
            match TcpStream::connect(a).await {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("no address")))
    };
    let stream = tokio::time::timeout(deadline, attempt)
        .await
        .map_err(|_| ReflectorError::Timeout("the connection"))?
        .map_err(|source| ReflectorError::Connect {
            addr: addr.to_string(),
            source,
        })?;
    let _ = stream.set_nodelay(true);
    Ok(Conn::new(stream))
}
