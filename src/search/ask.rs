//! Asking one peer for the streams whose names match a query, over the blob
//! exchange port (docs/protocol.md §11.3).
//!
//! Every step has a deadline (connect, send, the whole answer) and the
//! answer is read with a byte cap, so a peer that stalls, trickles or
//! answers with a million streams costs at most [`MAX_ANSWER_BYTES`] and the
//! deadline. An LBRY peer closes the connection without a word; that is
//! reported as such, not as a fault.

use crate::wire::search::{decode_answer, encode_request, Answer};
use crate::wire::{Invalid, WireError};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest answer read from one peer; 100 streams with long names fit.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Why a peer gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    #[error("no answer within {} s", .0.as_secs_f64())]
    Timeout(Duration),
    #[error("cannot connect: {0}")]
    Connect(std::io::Error),
    #[error("connection failed: {0}")]
    Io(std::io::Error),
    #[error("closed the connection without answering (not an lbrymount node?)")]
    Closed,
    #[error("malformed answer: {0}")]
    Malformed(Invalid),
}

/// Asks `peer` for streams matching `text`, within `deadline`.
pub async fn ask(peer: SocketAddr, text: &str, deadline: Duration) -> Result<Answer, AskError> {
    tokio::time::timeout(deadline, ask_inner(peer, text))
        .await
        .unwrap_or(Err(AskError::Timeout(deadline)))
}

async fn ask_inner(peer: SocketAddr, text: &str) -> Result<Answer, AskError> {
    let mut stream = TcpStream::connect(peer).await.map_err(AskError::Connect)?;
    stream
        .write_all(&encode_request(text))
        .await
        .map_err(AskError::Io)?;
    let mut buf: Vec<u8> = Vec::with_capacity(8 * 1024);
    const CHUNK: usize = 8 * 1024;
    let mut chunk = [0u8; CHUNK];
    loop {
        let room = (MAX_ANSWER_BYTES + 1 - buf.len()).min(CHUNK);
        let n = stream
            .read(&mut chunk[..room])
            .await
            .map_err(AskError::Io)?;
        if n == 0 {
            return Err(AskError::Closed);
        }
        buf.extend_from_slice(&chunk[..n]);
        match decode_answer(&buf, MAX_ANSWER_BYTES) {
            Ok(answer) => return Ok(answer),
            Err(WireError::Incomplete) => {}
            Err(WireError::Invalid(e)) => return Err(AskError::Malformed(e)),
        }
    }
}
