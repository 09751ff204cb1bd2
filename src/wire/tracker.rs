//! BEP-15, the UDP tracker protocol, as LBRY uses it (docs/protocol.md §8).
//!
//! lbry-sdk (`lbry/torrent/tracker.py`) announces every stream it holds to
//! UDP trackers and asks them for peers, with the first 20 bytes of the sd
//! hash as the info_hash and its blob server's TCP port as the port. A
//! tracker answers with the peers' IPv4 addresses and ports. Three requests
//! and answers matter: connect (which gets a connection id valid for about a
//! minute), announce (which both registers us and returns peers) and error.
//!
//! Pure: bytes in, typed values out. Decoding never panics and never
//! allocates more than the datagram holds; the peer list is cut at
//! [`MAX_PEERS`].

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

/// The magic constant a connect request starts with.
pub const PROTOCOL_ID: u64 = 0x0417_2710_1980;
/// Largest datagram we read: an announce answer with [`MAX_PEERS`] peers fits.
pub const MAX_DATAGRAM: usize = 20 + 6 * MAX_PEERS;
/// Peers kept from one announce answer, at most.
pub const MAX_PEERS: usize = 200;
/// Longest error message kept (bytes; cut at a char boundary).
pub const MAX_MESSAGE: usize = 256;

const CONNECT: u32 = 0;
const ANNOUNCE: u32 = 1;
const ERROR: u32 = 3;

/// The event an announce reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    None = 0,
    Completed = 1,
    Started = 2,
    Stopped = 3,
}

/// An announce request: we hold (or look for) `info_hash` and serve it on `port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announce {
    pub connection_id: u64,
    pub transaction_id: u32,
    pub info_hash: [u8; 20],
    pub peer_id: [u8; 20],
    /// Bytes left to download: 0 for a seeder.
    pub left: u64,
    pub event: Event,
    pub key: u32,
    /// Peers wanted; -1 lets the tracker choose.
    pub num_want: i32,
    pub port: u16,
}

/// What a tracker answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    Connect {
        transaction_id: u32,
        connection_id: u64,
    },
    Announce {
        transaction_id: u32,
        /// Seconds until the next announce, as the tracker asks.
        interval: u32,
        leechers: u32,
        seeders: u32,
        peers: Vec<SocketAddr>,
    },
    Error {
        transaction_id: u32,
        message: String,
    },
}

impl Response {
    pub fn transaction_id(&self) -> u32 {
        match self {
            Response::Connect { transaction_id, .. }
            | Response::Announce { transaction_id, .. }
            | Response::Error { transaction_id, .. } => *transaction_id,
        }
    }
}

/// Why a datagram is not a tracker answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackerWireError {
    #[error("tracker answer too short ({0} bytes)")]
    Short(usize),
    #[error("unknown tracker action {0}")]
    Action(u32),
    #[error("not a tracker request")]
    NotRequest,
}

/// The 16 bytes of a connect request.
pub fn connect_request(transaction_id: u32) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&PROTOCOL_ID.to_be_bytes());
    out[8..12].copy_from_slice(&CONNECT.to_be_bytes());
    out[12..].copy_from_slice(&transaction_id.to_be_bytes());
    out
}

/// The 98 bytes of an announce request (IPv4: the tracker takes our address
/// from the datagram, so the IP field is 0).
pub fn announce_request(a: &Announce) -> [u8; 98] {
    let mut out = [0u8; 98];
    out[..8].copy_from_slice(&a.connection_id.to_be_bytes());
    out[8..12].copy_from_slice(&ANNOUNCE.to_be_bytes());
    out[12..16].copy_from_slice(&a.transaction_id.to_be_bytes());
    out[16..36].copy_from_slice(&a.info_hash);
    out[36..56].copy_from_slice(&a.peer_id);
    // downloaded (56..64) stays 0
    out[64..72].copy_from_slice(&a.left.to_be_bytes());
    // uploaded (72..80) stays 0
    out[80..84].copy_from_slice(&(a.event as u32).to_be_bytes());
    // IP address (84..88) stays 0: the sender's
    out[88..92].copy_from_slice(&a.key.to_be_bytes());
    out[92..96].copy_from_slice(&a.num_want.to_be_bytes());
    out[96..98].copy_from_slice(&a.port.to_be_bytes());
    out
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at + 8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_be_bytes(a))
}

/// Decodes a tracker's answer. Extra bytes after a connect answer and a
/// trailing partial peer entry are ignored; peers past [`MAX_PEERS`] are cut.
pub fn decode_response(b: &[u8]) -> Result<Response, TrackerWireError> {
    let short = || TrackerWireError::Short(b.len());
    let action = u32_at(b, 0).ok_or_else(short)?;
    let transaction_id = u32_at(b, 4).ok_or_else(short)?;
    match action {
        CONNECT => Ok(Response::Connect {
            transaction_id,
            connection_id: u64_at(b, 8).ok_or_else(short)?,
        }),
        ANNOUNCE => {
            let interval = u32_at(b, 8).ok_or_else(short)?;
            let leechers = u32_at(b, 12).ok_or_else(short)?;
            let seeders = u32_at(b, 16).ok_or_else(short)?;
            let peers = b[20..]
                .chunks_exact(6)
                .take(MAX_PEERS)
                .map(|c| {
                    let ip = Ipv4Addr::new(c[0], c[1], c[2], c[3]);
                    SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be_bytes([c[4], c[5]])))
                })
                .collect();
            Ok(Response::Announce {
                transaction_id,
                interval,
                leechers,
                seeders,
                peers,
            })
        }
        ERROR => Ok(Response::Error {
            transaction_id,
            message: bounded_text(&b[8..]),
        }),
        other => Err(TrackerWireError::Action(other)),
    }
}

/// At most [`MAX_MESSAGE`] bytes of `b`, as text (invalid UTF-8 replaced).
fn bounded_text(b: &[u8]) -> String {
    let text = String::from_utf8_lossy(&b[..b.len().min(MAX_MESSAGE)]);
    text.chars().filter(|c| !c.is_control()).collect()
}

// ---- The tracker's side, for tests and a future tracker of our own ----

/// A request as a tracker reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Connect { transaction_id: u32 },
    Announce(Announce),
}

/// Decodes a request sent to a tracker.
pub fn decode_request(b: &[u8]) -> Result<Request, TrackerWireError> {
    let short = || TrackerWireError::Short(b.len());
    let first = u64_at(b, 0).ok_or_else(short)?;
    let action = u32_at(b, 8).ok_or_else(short)?;
    let transaction_id = u32_at(b, 12).ok_or_else(short)?;
    match action {
        CONNECT if first == PROTOCOL_ID => Ok(Request::Connect { transaction_id }),
        ANNOUNCE if b.len() >= 98 => {
            let mut info_hash = [0u8; 20];
            info_hash.copy_from_slice(&b[16..36]);
            let mut peer_id = [0u8; 20];
            peer_id.copy_from_slice(&b[36..56]);
            let event = match u32_at(b, 80).unwrap_or(0) {
                1 => Event::Completed,
                2 => Event::Started,
                3 => Event::Stopped,
                _ => Event::None,
            };
            Ok(Request::Announce(Announce {
                connection_id: first,
                transaction_id,
                info_hash,
                peer_id,
                left: u64_at(b, 64).unwrap_or(0),
                event,
                key: u32_at(b, 88).unwrap_or(0),
                num_want: u32_at(b, 92).unwrap_or(0) as i32,
                port: u16::from_be_bytes([b[96], b[97]]),
            }))
        }
        ANNOUNCE => Err(short()),
        _ => Err(TrackerWireError::NotRequest),
    }
}

/// Encodes a tracker's answer (IPv4 peers only; others are left out).
pub fn encode_response(r: &Response) -> Vec<u8> {
    let mut out = Vec::with_capacity(20);
    match r {
        Response::Connect {
            transaction_id,
            connection_id,
        } => {
            out.extend_from_slice(&CONNECT.to_be_bytes());
            out.extend_from_slice(&transaction_id.to_be_bytes());
            out.extend_from_slice(&connection_id.to_be_bytes());
        }
        Response::Announce {
            transaction_id,
            interval,
            leechers,
            seeders,
            peers,
        } => {
            for v in [ANNOUNCE, *transaction_id, *interval, *leechers, *seeders] {
                out.extend_from_slice(&v.to_be_bytes());
            }
            for p in peers.iter().take(MAX_PEERS) {
                if let SocketAddr::V4(v4) = p {
                    out.extend_from_slice(&v4.ip().octets());
                    out.extend_from_slice(&v4.port().to_be_bytes());
                }
            }
        }
        Response::Error {
            transaction_id,
            message,
        } => {
            out.extend_from_slice(&ERROR.to_be_bytes());
            out.extend_from_slice(&transaction_id.to_be_bytes());
            out.extend_from_slice(message.as_bytes());
        }
    }
    out
}

#[cfg(test)]
#[path = "tracker_tests.rs"]
mod tests;
