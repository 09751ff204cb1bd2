//! One TCP connection to one hub, spoken as lbry-sdk speaks it.
//!
//! `server.version` goes first (a hub may refuse anything else before it)
//! and its negotiated protocol must be at least 0.65.0, as lbry-sdk
//! requires. Calls are made one at a time: each writes a request line and
//! reads lines until the reply with its id, skipping notifications (a hub
//! sends block headers whenever it likes). Every wait has a deadline, and a
//! line longer than [`MAX_LINE`] ends the connection instead of growing a
//! buffer without bound. After anything but a clean reply or error reply the
//! byte stream cannot be trusted to be in step, so the connection is marked
//! broken and the caller drops it.

use crate::wire::hub::jsonrpc::{
    self, decode_line, encode_request, FrameError, Incoming, RpcError, MAX_LINE,
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Why a connection or a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error("cannot connect")]
    Connect(#[source] std::io::Error),
    #[error("no connection within {0:?}")]
    ConnectTimeout(Duration),
    #[error("no answer to {method} within {after:?}")]
    Timeout { method: String, after: Duration },
    #[error("connection failed")]
    Io(#[source] std::io::Error),
    #[error("the hub closed the connection")]
    Closed,
    #[error("bad reply line")]
    Frame(#[source] FrameError),
    /// The hub answered with an error; the connection is still usable.
    #[error(transparent)]
    Rpc(RpcError),
    #[error("unusable server.version reply: {0}")]
    Version(String),
}

impl ConnError {
    /// The connection may still be used after this error.
    pub fn keeps_connection(&self) -> bool {
        matches!(self, ConnError::Rpc(_))
    }
}

/// An open, version-negotiated connection.
pub struct Conn {
    addr: String,
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    next_id: u64,
    last_used: Instant,
    /// `[hub_version, protocol]` as the hub said.
    pub server_version: (String, String),
}

impl Conn {
    /// Connects within `connect`, then negotiates the version within `call`.
    pub async fn open(addr: &str, connect: Duration, call: Duration) -> Result<Conn, ConnError> {
        let stream = timeout(connect, TcpStream::connect(addr))
            .await
            .map_err(|_| ConnError::ConnectTimeout(connect))?
            .map_err(ConnError::Connect)?;
        let _ = stream.set_nodelay(true);
        let (r, w) = stream.into_split();
        let mut conn = Conn {
            addr: addr.to_string(),
            reader: BufReader::with_capacity(64 << 10, r),
            writer: w,
            next_id: 0,
            last_used: Instant::now(),
            server_version: (String::new(), String::new()),
        };
        let params = json!([jsonrpc::CLIENT_NAME, jsonrpc::PROTOCOL_VERSION]);
        let v = conn.call("server.version", &params, call).await?;
        conn.server_version = check_version(&v)?;
        tracing::debug!(hub = %conn.addr, version = ?conn.server_version, "hub connected");
        Ok(conn)
    }

    /// The address this connection was opened to.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// How long the connection has been idle.
    pub fn idle(&self) -> Duration {
        self.last_used.elapsed()
    }

    /// Calls `method` and waits at most `deadline` for its reply.
    pub async fn call(
        &mut self,
        method: &str,
        params: &Value,
        deadline: Duration,
    ) -> Result<Value, ConnError> {
        let id = self.next_id;
        self.next_id += 1;
        self.last_used = Instant::now();
        let line = encode_request(id, method, params);
        tracing::trace!(hub = %self.addr, id, method, "call");
        let exchange = async {
            self.writer
                .write_all(line.as_bytes())
                .await
                .map_err(ConnError::Io)?;
            self.read_reply(id).await
        };
        let result = timeout(deadline, exchange)
            .await
            .map_err(|_| ConnError::Timeout {
                method: method.to_string(),
                after: deadline,
            })?;
        self.last_used = Instant::now();
        result
    }

    async fn read_reply(&mut self, id: u64) -> Result<Value, ConnError> {
        loop {
            let line = read_line(&mut self.reader).await?;
            match decode_line(&line).map_err(ConnError::Frame)? {
                Incoming::Notification { method } => {
                    tracing::trace!(hub = %self.addr, %method, "notification skipped");
                }
                Incoming::Reply { id: got, result } if got == id => {
                    return result.map_err(ConnError::Rpc);
                }
                Incoming::Reply { id: got, .. } => {
                    return Err(ConnError::Frame(FrameError::NotRpc(if got < id {
                        "a reply to an earlier request"
                    } else {
                        "a reply to a request not made"
                    })));
                }
            }
        }
    }
}

/// Reads one `\n`-terminated line, refusing lines over [`MAX_LINE`].
async fn read_line(reader: &mut BufReader<OwnedReadHalf>) -> Result<Vec<u8>, ConnError> {
    let mut line = Vec::new();
    loop {
        let buf = reader.fill_buf().await.map_err(ConnError::Io)?;
        if buf.is_empty() {
            return Err(ConnError::Closed);
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        if line.len() + take > MAX_LINE + 1 {
            return Err(ConnError::Frame(FrameError::TooLong {
                len: line.len() + take,
                max: MAX_LINE,
            }));
        }
        line.extend_from_slice(&buf[..take]);
        reader.consume(take);
        if done {
            return Ok(line);
        }
    }
}

/// `[hub_version, protocol]`, with the protocol at least 0.65.0.
fn check_version(v: &Value) -> Result<(String, String), ConnError> {
    let bad = || ConnError::Version(truncated(v));
    let arr = v.as_array().ok_or_else(bad)?;
    let (Some(Value::String(hub)), Some(Value::String(proto))) = (arr.first(), arr.get(1)) else {
        return Err(bad());
    };
    match jsonrpc::parse_version(proto) {
        Some(p) if p >= (0, 65, 0) => Ok((hub.clone(), proto.clone())),
        _ => Err(ConnError::Version(format!(
            "protocol {proto:?} is older than 0.65.0"
        ))),
    }
}

fn truncated(v: &Value) -> String {
    let mut s = v.to_string();
    if s.len() > 120 {
        let mut cut = 120;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_below_0_65_are_refused() {
        assert!(check_version(&json!(["0.107.0", "0.113.0"])).is_ok());
        assert!(check_version(&json!(["x", "0.64.9"])).is_err());
        assert!(check_version(&json!("0.113.0")).is_err());
        assert!(check_version(&json!([1, 2])).is_err());
    }
}
