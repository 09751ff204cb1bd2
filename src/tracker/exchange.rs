//! One request and its answer over UDP, with BEP-15's retries inside our
//! deadline: the request is sent again after `RETRY_BASE · 2^n` without an
//! answer, each wait cut to what is left of the deadline. Datagrams that
//! are not the answer (another transaction id, garbage) are ignored; an
//! error answer ends the exchange with the tracker's message.

use crate::wire::tracker::{decode_response, Response, MAX_DATAGRAM};
use std::future::Future;
use std::io;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::Instant;

/// The first wait for an answer; it doubles with each retry.
pub const RETRY_BASE: Duration = Duration::from_secs(2);
/// BEP-15's largest exponent.
const MAX_DOUBLINGS: u32 = 8;

/// Why talking to a tracker failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackerError {
    #[error("no answer before the deadline")]
    Timeout,
    #[error("cannot resolve the tracker: {0}")]
    Resolve(String),
    #[error("network error: {0}")]
    Io(String),
    #[error("the tracker refused: {0}")]
    Refused(String),
    #[error("the tracker answered with the wrong kind of message")]
    Unexpected,
}

impl TrackerError {
    pub fn io(e: io::Error) -> Self {
        TrackerError::Io(e.to_string())
    }
}

/// Where datagrams go and come from: a connected UDP socket, or in tests
/// a channel whose timing paused tokio time controls.
pub trait Transport: Sync {
    fn send(&self, bytes: &[u8]) -> impl Future<Output = io::Result<()>> + Send;
    fn recv(&self, buf: &mut [u8]) -> impl Future<Output = io::Result<usize>> + Send;
}

impl Transport for UdpSocket {
    async fn send(&self, bytes: &[u8]) -> io::Result<()> {
        UdpSocket::send(self, bytes).await.map(drop)
    }
    async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        UdpSocket::recv(self, buf).await
    }
}

/// Sends `request` until the answer with `transaction_id` arrives or
/// `deadline` passes.
pub async fn exchange<T: Transport>(
    t: &T,
    request: &[u8],
    transaction_id: u32,
    deadline: Instant,
) -> Result<Response, TrackerError> {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut attempt = 0u32;
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Err(TrackerError::Timeout);
        }
        let wait = (RETRY_BASE * 2u32.pow(attempt.min(MAX_DOUBLINGS))).min(deadline - now);
        t.send(request).await.map_err(TrackerError::io)?;
        let until = now + wait;
        loop {
            let len = match tokio::time::timeout_at(until, t.recv(&mut buf)).await {
                Err(_) => break,
                // ICMP unreachable on a connected socket: the tracker is not
                // there now; the next attempt may find it.
                Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    tokio::time::sleep_until(until).await;
                    break;
                }
                Ok(Err(e)) => return Err(TrackerError::io(e)),
                Ok(Ok(len)) => len,
            };
            match decode_response(&buf[..len]) {
                Ok(r) if r.transaction_id() == transaction_id => {
                    return match r {
                        Response::Error { message, .. } => Err(TrackerError::Refused(message)),
                        r => Ok(r),
                    };
                }
                // Stray or hostile datagrams do not end the wait.
                _ => continue,
            }
        }
        attempt += 1;
    }
}

#[cfg(test)]
#[path = "exchange_tests.rs"]
mod tests;
