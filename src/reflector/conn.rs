//! One reflector connection as messages and raw blob bytes, each read or
//! written within a deadline.
//!
//! The protocol has no framing but JSON's own (docs/protocol.md §9), so the
//! connection keeps what it read past a message's end: the start of the next
//! message, or of the blob bytes that follow an acknowledgement. Both sides
//! use this; only the codec (`decode`) differs.

use super::ReflectorError;
use crate::wire::{Invalid, WireError};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How much is read from the socket at a time.
const READ_CHUNK: usize = 64 * 1024;

/// A decoder of one message: the message and the bytes it took.
pub type Decode<T> = fn(&[u8]) -> Result<(T, usize), WireError>;

pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Bytes read from the peer so far (messages and blobs).
    pub read_total: u64,
}

impl Conn {
    pub fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            buf: Vec::new(),
            read_total: 0,
        }
    }

    /// Reads one message decoded by `decode`, within `deadline`.
    pub async fn read_msg<T>(
        &mut self,
        decode: Decode<T>,
        deadline: Duration,
    ) -> Result<T, ReflectorError> {
        tokio::time::timeout(deadline, async {
            loop {
                match decode(&self.buf) {
                    Ok((msg, used)) => {
                        self.buf.drain(..used);
                        return Ok(msg);
                    }
                    Err(WireError::Incomplete) => self.fill().await?,
                    Err(WireError::Invalid(e)) => return Err(ReflectorError::Protocol(e)),
                }
            }
        })
        .await
        .map_err(|_| ReflectorError::Timeout("a message"))?
    }

    /// Reads exactly `len` raw bytes, within `deadline`.
    pub async fn read_bytes(
        &mut self,
        len: usize,
        deadline: Duration,
    ) -> Result<Vec<u8>, ReflectorError> {
        tokio::time::timeout(deadline, async {
            let mut out = Vec::with_capacity(len);
            let take = self.buf.len().min(len);
            out.extend(self.buf.drain(..take));
            out.resize(len, 0);
            let mut have = take;
            while have < len {
                let n = self.stream.read(&mut out[have..]).await?;
                if n == 0 {
                    return Err(ReflectorError::Closed);
                }
                have += n;
                self.read_total += n as u64;
            }
            Ok(out)
        })
        .await
        .map_err(|_| ReflectorError::Timeout("blob bytes"))?
    }

    /// Writes `bytes` whole, within `deadline`.
    pub async fn write(&mut self, bytes: &[u8], deadline: Duration) -> Result<(), ReflectorError> {
        tokio::time::timeout(deadline, self.stream.write_all(bytes))
            .await
            .map_err(|_| ReflectorError::Timeout("sending"))??;
        Ok(())
    }

    async fn fill(&mut self) -> Result<(), ReflectorError> {
        if self.buf.len() > crate::wire::reflector::MAX_RESPONSE {
            let limit = crate::wire::reflector::MAX_RESPONSE;
            return Err(ReflectorError::Protocol(Invalid::TooLarge { limit }));
        }
        let mut chunk = vec![0u8; READ_CHUNK];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(ReflectorError::Closed);
        }
        self.read_total += n as u64;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}
