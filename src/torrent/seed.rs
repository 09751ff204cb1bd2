//! Serving cached pieces back to the swarm: one incoming peer connection.
//!
//! The peer's handshake must name a torrent this node has open; we answer
//! with our handshake and a bitfield of the pieces in the store, unchoke a
//! peer that says it is interested, and answer each request from the store
//! (never from the network: a piece we do not hold is not offered, and a
//! request for one, or for a range outside its piece, is dropped). One
//! request is answered at a time, so a connection holds at most one block
//! in memory; a peer silent for [`IDLE`] is dropped.
//!
//! A peer that sets the extension bit (BEP 10) gets our extension handshake
//! with the metadata's size, and its `ut_metadata` requests (BEP 9) are
//! answered from the info dict's bytes: a node that found us in the DHT
//! with only the infohash can open the torrent from us alone.

use super::swarm::Swarm;
use crate::wire::krpc::Id20;
use crate::wire::peer_wire::{self, decode_handshake, encode_handshake, Handshake, Message};
use crate::wire::peer_wire::{EXTENSION_BIT, HANDSHAKE_LEN};
use crate::wire::ut_metadata::{self, MetaMsg, OUR_UT_METADATA};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// A peer that sends nothing for this long is dropped.
const IDLE: Duration = Duration::from_secs(120);
/// The largest block a peer may ask for (BEP 3 clients ask for 16 KiB).
const MAX_REQUEST: u32 = 128 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("the peer was silent for too long")]
    Idle,
    #[error("protocol violation: {0}")]
    Protocol(#[from] peer_wire::Invalid),
    #[error("the peer asked for a torrent this node does not have open")]
    UnknownTorrent,
}

/// An open torrent as it is served: its swarm (pieces) and its info
/// dict's exact bytes (metadata).
#[derive(Clone)]
pub struct Served {
    pub swarm: Arc<Swarm>,
    pub info: Arc<[u8]>,
}

/// Serves one connection until the peer leaves or misbehaves; `find`
/// names the open torrent for an infohash.
pub async fn serve<F>(mut stream: TcpStream, peer_id: Id20, find: F) -> Result<(), SeedError>
where
    F: Fn(&Id20) -> Option<Served>,
{
    let _ = stream.set_nodelay(true);
    let mut hs = [0u8; HANDSHAKE_LEN];
    timeout(IDLE, stream.read_exact(&mut hs))
        .await
        .map_err(|_| SeedError::Idle)??;
    let theirs = decode_handshake(&hs)?;
    let served = find(&theirs.info_hash).ok_or(SeedError::UnknownTorrent)?;
    let mut reserved = [0u8; 8];
    reserved[5] = EXTENSION_BIT;
    let ours = Handshake {
        reserved,
        info_hash: theirs.info_hash,
        peer_id,
    };
    stream.write_all(&encode_handshake(&ours)).await?;
    // The bitfield first (BEP 3), then our extension handshake.
    send(&mut stream, &Message::Bitfield(served.swarm.bitfield())).await?;
    if theirs.reserved[5] & EXTENSION_BIT != 0 {
        let payload = ut_metadata::encode_handshake(Some(served.info.len() as u64));
        send(&mut stream, &Message::Extended { id: 0, payload }).await?;
    }
    answer_all(&mut stream, &served).await
}

/// Answers the peer's messages, one at a time, until it leaves.
async fn answer_all(stream: &mut TcpStream, served: &Served) -> Result<(), SeedError> {
    let mut buf = Vec::new();
    // The peer's id for `ut_metadata`, from its extension handshake.
    let mut their_ut = None;
    loop {
        match next(stream, &mut buf).await? {
            Message::Extended { id: 0, payload } => {
                their_ut = ut_metadata::peer_id_of_ut_metadata(&payload);
            }
            Message::Extended { id, payload } if id == OUR_UT_METADATA => {
                let (Some(ut), Ok(MetaMsg::Request(piece))) =
                    (their_ut, ut_metadata::decode(&payload))
                else {
                    continue;
                };
                let payload = ut_metadata::encode(&ut_metadata::answer(&served.info, piece));
                send(stream, &Message::Extended { id: ut, payload }).await?;
            }
            Message::Interested => send(stream, &Message::Unchoke).await?,
            Message::Request {
                index,
                begin,
                length,
            } if length <= MAX_REQUEST => {
                let Some(data) = served.swarm.stored_block(index, begin, length).await else {
                    tracing::debug!(index, begin, length, "request for a piece not held");
                    continue;
                };
                let data = data.to_vec();
                send(stream, &Message::Piece { index, begin, data }).await?;
            }
            _ => {}
        }
    }
}

async fn send(stream: &mut TcpStream, m: &Message) -> Result<(), SeedError> {
    let mut out = Vec::new();
    peer_wire::encode(m, &mut out);
    timeout(IDLE, stream.write_all(&out))
        .await
        .map_err(|_| SeedError::Idle)??;
    Ok(())
}

/// The next message (the codec bounds its length).
async fn next(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Message, SeedError> {
    loop {
        if let Some((m, used)) = peer_wire::decode(buf)? {
            buf.drain(..used);
            return Ok(m);
        }
        let mut chunk = [0u8; 16 * 1024];
        let n = timeout(IDLE, stream.read(&mut chunk))
            .await
            .map_err(|_| SeedError::Idle)??;
        if n == 0 {
            return Err(SeedError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}
