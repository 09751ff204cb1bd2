//! A whole torrent from a list of peers, piece by piece in order, for
//! `lbrymount get` of a torrent: each piece is SHA-1-checked by
//! [`PeerConn`] before it is handed on; a peer that fails (no answer,
//! corrupt data, no such piece) is dropped for the next one, and a piece
//! that no peer could give ends the download with each peer's reason.
//! One piece is in memory at a time.

use super::metainfo::Metainfo;
use super::peer::{PeerConn, PeerError};
use super::window::Want;
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
    metadata_bytes(info_hash, peers, deadline)
        .await
        .map(|(m, _)| m)
}

/// [`metadata`], with the info dict's bytes (to keep).
pub async fn metadata_bytes(
    info_hash: Id20,
    peers: &[SocketAddr],
    deadline: Duration,
) -> Result<(Metainfo, Vec<u8>), DownloadError> {
    let mut reasons = Vec::new();
    for addr in peers {
        let got = async {
            let mut c = PeerConn::connect(*addr, info_hash, peer_id(), deadline).await?;
            let info = c.fetch_metadata(&info_hash, deadline).await?;
            let m = super::metainfo::parse_info(&info)
                .map_err(|e| PeerError::Protocol(e.to_string()))?;
            Ok::<_, PeerError>((m, info))
        };
        match got.await {
            Ok(m) => return Ok(m),
            Err(e) => reasons.push(format!("{addr}: {e}")),
        }
    }
    Err(DownloadError::NoMetadata(reasons))
}

/// Fetches every piece in order and hands each to `sink` with its offset
/// in the torrent. One peer at a time, the request pipeline kept full across
/// pieces; when a peer fails, the next takes over from the first piece
/// missing, and a piece every peer failed ends the download.
pub async fn pieces(
    m: &Metainfo,
    peers: &[SocketAddr],
    deadline: Duration,
    mut sink: impl FnMut(u64, &[u8]) -> anyhow::Result<()>,
) -> Result<(), DownloadError> {
    if peers.is_empty() {
        return Err(DownloadError::NoPeers);
    }
    let mut next = 0usize;
    let mut failed_at: Option<(usize, Vec<String>)> = None;
    let mut sink_error = None;
    for addr in peers.iter().cycle() {
        if next == m.pieces.len() {
            return Ok(());
        }
        let wants = (next..m.pieces.len()).map(|i| Want {
            index: i as u32,
            len: m.piece_len(i as u32) as u32,
            sha1: m.pieces[i],
        });
        let run = async {
            let mut c = PeerConn::connect(*addr, m.info_hash, peer_id(), deadline).await?;
            c.fetch_run(wants.collect(), deadline, |index, piece| {
                let at = u64::from(index) * m.piece_length;
                sink(at, &piece).map_err(|e| {
                    let why = format!("{e:#}");
                    sink_error = Some(e);
                    why
                })?;
                next = index as usize + 1;
                Ok(())
            })
            .await
        };
        let Err(e) = run.await else { continue };
        if let Some(e) = sink_error.take() {
            return Err(DownloadError::Sink(e));
        }
        tracing::info!(peer = %addr, piece = next, error = %e, "peer failed; trying the next");
        let reasons = match &mut failed_at {
            Some((at, reasons)) if *at == next => reasons,
            _ => &mut failed_at.insert((next, Vec::new())).1,
        };
        reasons.push(format!("{addr}: {e}"));
        if reasons.len() >= peers.len() {
            let reasons = std::mem::take(reasons);
            return Err(DownloadError::AllFailed {
                piece: next as u32,
                reasons,
            });
        }
    }
    Ok(())
}
