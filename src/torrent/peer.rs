//! One connection to a BitTorrent peer, fetching pieces on demand.
//!
//! `connect` does the handshake (the peer must name our infohash);
//! `fetch_piece` says it is interested, waits to be unchoked, pipelines
//! 16 KiB requests for the piece, and checks its SHA-1 before handing it
//! over, so a peer that sends corrupt data gets `Corrupt`, never a read.
//! Every wait has the caller's deadline; a block nobody asked for, or of
//! the wrong size, ends the connection.

use crate::wire::krpc::Id20;
use crate::wire::peer_wire::{
    self, decode_handshake, encode_handshake, Handshake, Message, BLOCK, HANDSHAKE_LEN,
};
use crate::wire::ut_metadata::{self, MetaMsg, OUR_UT_METADATA};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

/// The BEP 10 bit, in reserved byte 5.
const EXTENSION_BIT: u8 = 0x10;

/// Requests in flight at once on one connection.
const PIPELINE: u32 = 32;

#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("cannot connect: {0}")]
    Connect(std::io::Error),
    #[error("no answer within the deadline")]
    Timeout,
    #[error("the peer closed the connection")]
    Closed,
    #[error("the peer serves another torrent")]
    WrongTorrent,
    #[error("protocol violation: {0}")]
    Protocol(String),
    #[error("the peer does not have piece {0}")]
    NoPiece(u32),
    #[error("piece {0} failed its SHA-1 check")]
    Corrupt(u32),
    #[error("the peer cannot give the torrent's metadata: {0}")]
    NoMetadata(&'static str),
    #[error("the metadata the peer sent does not hash to the infohash")]
    BadMetadata,
}

impl From<peer_wire::Invalid> for PeerError {
    fn from(e: peer_wire::Invalid) -> Self {
        PeerError::Protocol(e.to_string())
    }
}

pub struct PeerConn {
    stream: TcpStream,
    buf: Vec<u8>,
    have: Option<Vec<u8>>,
    choked: bool,
    interested: bool,
    /// The peer's extension handshake (BEP 10), once it came.
    ext: Option<ut_metadata::ExtHandshake>,
    /// Whether the peer set the extension bit in its handshake.
    speaks_ext: bool,
    pub remote_id: Id20,
}

impl PeerConn {
    /// Connects and exchanges handshakes, within `deadline`.
    pub async fn connect(
        addr: SocketAddr,
        info_hash: Id20,
        peer_id: Id20,
        deadline: Duration,
    ) -> Result<Self, PeerError> {
        let until = Instant::now() + deadline;
        let mut stream = timeout_at(until, TcpStream::connect(addr))
            .await
            .map_err(|_| PeerError::Timeout)?
            .map_err(PeerError::Connect)?;
        let _ = stream.set_nodelay(true);
        let mut reserved = [0u8; 8];
        reserved[5] = EXTENSION_BIT;
        let ours = Handshake {
            reserved,
            info_hash,
            peer_id,
        };
        let io = async {
            stream.write_all(&encode_handshake(&ours)).await?;
            let mut b = [0u8; HANDSHAKE_LEN];
            stream.read_exact(&mut b).await?;
            Ok::<_, std::io::Error>(b)
        };
        let b = timeout_at(until, io)
            .await
            .map_err(|_| PeerError::Timeout)?
            .map_err(|_| PeerError::Closed)?;
        let theirs = decode_handshake(&b)?;
        if theirs.info_hash != info_hash {
            return Err(PeerError::WrongTorrent);
        }
        let mut conn = PeerConn {
            stream,
            buf: Vec::new(),
            have: None,
            choked: true,
            interested: false,
            ext: None,
            speaks_ext: theirs.reserved[5] & EXTENSION_BIT != 0,
            remote_id: theirs.peer_id,
        };
        if conn.speaks_ext {
            let payload = ut_metadata::encode_handshake(None);
            conn.send(&Message::Extended { id: 0, payload }, until)
                .await?;
        }
        Ok(conn)
    }

    async fn send(&mut self, m: &Message, until: Instant) -> Result<(), PeerError> {
        let mut out = Vec::new();
        peer_wire::encode(m, &mut out);
        timeout_at(until, self.stream.write_all(&out))
            .await
            .map_err(|_| PeerError::Timeout)?
            .map_err(|_| PeerError::Closed)
    }

    /// The next message, tracking choke state and what the peer has.
    async fn next(&mut self, until: Instant) -> Result<Message, PeerError> {
        loop {
            if let Some((m, used)) = peer_wire::decode(&self.buf)? {
                self.buf.drain(..used);
                match &m {
                    Message::Choke => self.choked = true,
                    Message::Unchoke => self.choked = false,
                    Message::Bitfield(bits) => self.have = Some(bits.clone()),
                    Message::Have(i) => self.set_have(*i),
                    Message::Extended { id: 0, payload } => {
                        let ext = ut_metadata::decode_handshake(payload)
                            .map_err(|e| PeerError::Protocol(e.to_string()))?;
                        self.ext = Some(ext);
                    }
                    _ => {}
                }
                return Ok(m);
            }
            let mut chunk = [0u8; 64 * 1024];
            let n = timeout_at(until, self.stream.read(&mut chunk))
                .await
                .map_err(|_| PeerError::Timeout)?
                .map_err(|_| PeerError::Closed)?;
            if n == 0 {
                return Err(PeerError::Closed);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn set_have(&mut self, i: u32) {
        let byte = (i / 8) as usize;
        if let Some(bits) = &mut self.have {
            if byte < bits.len() {
                bits[byte] |= 0x80 >> (i % 8);
            }
        }
    }

    fn has(&self, i: u32) -> bool {
        match &self.have {
            None => true,
            Some(bits) => bits
                .get((i / 8) as usize)
                .is_some_and(|b| b & (0x80 >> (i % 8)) != 0),
        }
    }

    /// Fetches the torrent's `info` dict from the peer (BEP 9) and checks
    /// that it hashes to `info_hash`.
    pub async fn fetch_metadata(
        &mut self,
        info_hash: &Id20,
        deadline: Duration,
    ) -> Result<Vec<u8>, PeerError> {
        let until = Instant::now() + deadline;
        if !self.speaks_ext {
            return Err(PeerError::NoMetadata("no extension protocol"));
        }
        while self.ext.is_none() {
            self.next(until).await?;
        }
        let ext = self.ext.clone().unwrap_or_default();
        let ut = ext
            .ut_metadata
            .ok_or(PeerError::NoMetadata("no ut_metadata"))?;
        let size = ext
            .metadata_size
            .ok_or(PeerError::NoMetadata("no metadata_size"))? as usize;
        let pieces = size.div_ceil(ut_metadata::PIECE);
        for i in 0..pieces {
            let payload = ut_metadata::encode(&MetaMsg::Request(i as u32));
            self.send(&Message::Extended { id: ut, payload }, until)
                .await?;
        }
        let mut info = vec![0u8; size];
        let mut got = vec![false; pieces];
        let mut left = pieces;
        while left > 0 {
            let Message::Extended {
                id: OUR_UT_METADATA,
                payload,
            } = self.next(until).await?
            else {
                continue;
            };
            match ut_metadata::decode(&payload).map_err(|e| PeerError::Protocol(e.to_string()))? {
                MetaMsg::Data {
                    piece,
                    total_size,
                    data,
                } => {
                    let (i, at) = (piece as usize, piece as usize * ut_metadata::PIECE);
                    let want = ut_metadata::PIECE.min(size.saturating_sub(at));
                    if total_size as usize != size || i >= pieces || data.len() != want {
                        return Err(PeerError::Protocol(format!("bad metadata piece {piece}")));
                    }
                    if !std::mem::replace(&mut got[i], true) {
                        info[at..at + want].copy_from_slice(&data);
                        left -= 1;
                    }
                }
                MetaMsg::Reject(_) => return Err(PeerError::NoMetadata("the peer refused")),
                MetaMsg::Request(_) => {}
            }
        }
        if &super::sha1(&info) != info_hash {
            return Err(PeerError::BadMetadata);
        }
        Ok(info)
    }

    /// Fetches piece `index` of `len` bytes and checks it against `sha1`.
    pub async fn fetch_piece(
        &mut self,
        index: u32,
        len: u32,
        sha1: &Id20,
        deadline: Duration,
    ) -> Result<Vec<u8>, PeerError> {
        let until = Instant::now() + deadline;
        if !self.interested {
            self.send(&Message::Interested, until).await?;
            self.interested = true;
        }
        while self.choked {
            self.next(until).await?;
        }
        if !self.has(index) {
            return Err(PeerError::NoPiece(index));
        }
        let piece = self.download(index, len, until).await?;
        if &super::sha1(&piece) != sha1 {
            return Err(PeerError::Corrupt(index));
        }
        Ok(piece)
    }

    async fn download(
        &mut self,
        index: u32,
        len: u32,
        until: Instant,
    ) -> Result<Vec<u8>, PeerError> {
        let blocks = len.div_ceil(BLOCK) as usize;
        let block_len = |b: usize| BLOCK.min(len - b as u32 * BLOCK) as usize;
        let mut piece = vec![0u8; len as usize];
        let mut todo: std::collections::VecDeque<usize> = (0..blocks).collect();
        let (mut requested, mut got) = (vec![false; blocks], vec![false; blocks]);
        let (mut inflight, mut done) = (0u32, 0usize);
        while done < blocks {
            while inflight < PIPELINE && !self.choked {
                let Some(b) = todo.pop_front() else { break };
                let (begin, length) = (b as u32 * BLOCK, block_len(b) as u32);
                self.send(
                    &Message::Request {
                        index,
                        begin,
                        length,
                    },
                    until,
                )
                .await?;
                requested[b] = true;
                inflight += 1;
            }
            match self.next(until).await? {
                Message::Piece {
                    index: i,
                    begin,
                    data,
                } => {
                    let b = (begin / BLOCK) as usize;
                    let asked = i == index && begin % BLOCK == 0 && b < blocks && requested[b];
                    if !asked || data.len() != block_len(b) {
                        return Err(PeerError::Protocol(format!(
                            "unrequested block at {begin} of piece {i}"
                        )));
                    }
                    requested[b] = false;
                    inflight -= 1;
                    if !std::mem::replace(&mut got[b], true) {
                        piece[begin as usize..begin as usize + data.len()].copy_from_slice(&data);
                        done += 1;
                    }
                }
                Message::Choke => {
                    // A choke drops our requests (BEP 3): ask again once unchoked.
                    for (b, r) in requested.iter_mut().enumerate().filter(|(_, r)| **r) {
                        *r = false;
                        todo.push_back(b);
                    }
                    inflight = 0;
                }
                _ => {}
            }
        }
        Ok(piece)
    }
}
