//! A whole torrent from a list of peers, piece by piece in order, for
//! `lbrymount get` of a torrent: each piece is SHA-1-checked by
//! [`PeerConn`] before it is handed on; a peer that fails (no answer,
//! corrupt data, no such piece) is dropped for the next one, and a piece
//! that no peer could give ends the download with each peer's reason.
//! One piece is in memory at a time.

use super::metainfo::Metainfo;
use super::peer::{PeerConn, PeerError};
use crate::wire::krpc::Id20;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("no peer to ask (give --peer HOST:PORT)")]
    NoPeers,
    #[error("no peer gave piece {piece}:\n{}", reasons.join("\n"))]
    AllFailed { piece: u32, reasons: Vec<String> },
    #[error("no peer gave the torrent's metadata:\n{}", .0.join("\n"))]
    NoMetadata(Vec<String>),
    #[error(transparent)]
    Sink(anyhow::Error),
}

/// Our peer id: a client prefix and random bytes (BEP 20).
pub fn peer_id() -> Id20 {
    let mut id: Id20 = rand::random();
    id[..8].copy_from_slice(b"-LM0001-");
    id
}

/// The torrent's info dict from the first peer that gives one that hashes
/// to `info_hash`.
pub async fn metadata(
    info_hash: Id20,
    peers: &[SocketAddr],
    deadline: Duration,
) -> Result<Metainfo, DownloadError> {
    let mut reasons = Vec::new();
    for addr in peers {
        let got = async {
            let mut c = PeerConn::connect(*addr, info_hash, peer_id(), deadline).await?;
            let info = c.fetch_metadata(&info_hash, deadline).await?;
            super::metainfo::parse_info(&info).map_err(|e| PeerError::Protocol(e.to_string()))
        };
        match got.await {
            Ok(m) => return Ok(m),
            Err(e) => reasons.push(format!("{addr}: {e}")),
        }
    }
    Err(DownloadError::NoMetadata(reasons))
}

/// Fetches every piece in order and hands each to `sink` with its offset
/// in the torrent.
pub async fn pieces(
    m: &Metainfo,
    peers: &[SocketAddr],
    deadline: Duration,
    mut sink: impl FnMut(u64, &[u8]) -> anyhow::Result<()>,
) -> Result<(), DownloadError> {
    if peers.is_empty() {
        return Err(DownloadError::NoPeers);
    }
    let mut conn: Option<PeerConn> = None;
    let mut at = 0usize;
    for (i, sha) in m.pieces.iter().enumerate() {
        let index = i as u32;
        let len = m.piece_len(index) as u32;
        let mut reasons = Vec::new();
        let piece = loop {
            if reasons.len() >= peers.len() {
                return Err(DownloadError::AllFailed {
                    piece: index,
                    reasons,
                });
            }
            let addr = peers[at % peers.len()];
            let got = async {
                if conn.is_none() {
                    conn = Some(PeerConn::connect(addr, m.info_hash, peer_id(), deadline).await?);
                }
                match conn.as_mut() {
                    Some(c) => c.fetch_piece(index, len, sha, deadline).await,
                    None => Err(PeerError::Closed),
                }
            };
            match got.await {
                Ok(p) => break p,
                Err(e) => {
                    tracing::info!(peer = %addr, piece = index, error = %e, "peer failed; trying the next");
                    reasons.push(format!("{addr}: {e}"));
                    conn = None;
                    at += 1;
                }
            }
        };
        sink(u64::from(index) * m.piece_length, &piece).map_err(DownloadError::Sink)?;
    }
    Ok(())
}
