//! DHT datagrams (docs/protocol.md §4.2–4.3): typed messages to bytes and back.
//!
//! A datagram is a bencoded dict `{0: type, 1: rpc_id, 2: node_id, 3: …, 4: …}`.
//! What key 3 of a *response* means depends on the request it answers (a
//! findNode result and a findValue result are both "some bencode value"), and
//! only the rpc layer knows that. So decoding happens in two steps:
//!
//! 1. [`decode`] checks everything that needs no context (type, id lengths,
//!    method name, args shape, error strings) and returns a [`RawDatagram`]
//!    whose header is typed. The rpc layer can already match the rpc id, and
//!    answer a request whose arguments are bad with an error datagram.
//! 2. [`parse_request`] types a request's arguments; [`parse_response`] types
//!    a result given the [`Request`] it answers (a findValue's peers sit under
//!    the requested key). [`RawDatagram::typed`] does either.
//!
//! [`encode`] takes a typed [`Datagram`] and produces exactly what lbry-sdk
//! produces, `protocolVersion: 1` included; the message shapes are built so
//! that a dict is always last in its container, and the bencode encoder
//! refuses anything else anyway. Nothing over [`MAX_DATAGRAM`] bytes is ever
//! returned; [`encode_find_value_fitting`] drops peers until a findValue
//! answer fits.
//!
//! Decoding is as tolerant as Python where Python is tolerant (string keys
//! `"0".."4"`, unknown keys, args without the trailing dict, a missing `p`)
//! and strict elsewhere. Acceptance rules for addresses (public IPv4, ports
//! ≥ 1024) are routing policy and live with the routing table, not here.
//!
//! PURE: bytes in, values out.

mod decode;
mod encode;
mod peer;

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;

pub use decode::{decode, parse_request, parse_response};
pub use encode::{encode, encode_find_value_fitting};
pub use peer::{CompactPeer, Contact, COMPACT_PEER_LEN};

use super::bencode::{self, Key, Value};
use crate::hash::NodeId;
use std::collections::BTreeMap;

/// Length of an rpc id.
pub const RPC_ID_LEN: usize = 20;
/// Length of node ids, keys and tokens.
pub const ID_LEN: usize = crate::hash::HASH_LEN;
/// Python refuses to send a bigger datagram; so do we.
pub const MAX_DATAGRAM: usize = 1400;
/// The `protocolVersion` every request and findValue answer carries.
pub const PROTOCOL_VERSION: i64 = 1;

/// The 20 random bytes that pair a response with its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RpcId(pub [u8; RPC_ID_LEN]);

/// A store token: proof to a node that we asked it for the key recently.
pub type Token = [u8; ID_LEN];

/// The four RPCs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MethodKind {
    Ping,
    Store,
    FindNode,
    FindValue,
}

impl MethodKind {
    /// The method name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            MethodKind::Ping => "ping",
            MethodKind::Store => "store",
            MethodKind::FindNode => "findNode",
            MethodKind::FindValue => "findValue",
        }
    }

    pub fn from_name(name: &[u8]) -> Option<Self> {
        [Self::Ping, Self::Store, Self::FindNode, Self::FindValue]
            .into_iter()
            .find(|m| m.name().as_bytes() == name)
    }
}

/// Arguments of a `store` (v1 layout: five positional args).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreArgs {
    /// The blob's DHT key (`NodeId::of_blob`).
    pub key: NodeId,
    pub token: Token,
    /// TCP port of the blob server; `0 < port < 65535`, as Python checks.
    pub port: u16,
    /// Ignored by lbry-sdk, which records the datagram's sender instead.
    pub original_publisher: NodeId,
    /// Always 0 from lbry-sdk.
    pub age: i64,
}

/// A typed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Ping,
    Store(StoreArgs),
    FindNode { key: NodeId },
    FindValue { key: NodeId, page: u32 },
}

impl Request {
    pub fn kind(&self) -> MethodKind {
        match self {
            Request::Ping => MethodKind::Ping,
            Request::Store(_) => MethodKind::Store,
            Request::FindNode { .. } => MethodKind::FindNode,
            Request::FindValue { .. } => MethodKind::FindValue,
        }
    }
}

/// The answer to a findValue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindValueResult {
    /// The requested key; on the wire it is the dict key of `peers`.
    pub key: NodeId,
    pub token: Token,
    /// Closest contacts; lbry-sdk sends them only for page 0.
    pub contacts: Option<Vec<Contact>>,
    /// Blob servers for `key` on the requested page (absent on the wire when empty).
    pub peers: Vec<CompactPeer>,
    /// Number of pages (`p`), 0 when there are no peers.
    pub pages: u32,
}

/// A typed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// `b"pong"`, the answer to ping.
    Pong,
    /// `b"OK"`, the answer to store.
    Ok,
    /// The answer to findNode.
    Contacts(Vec<Contact>),
    FindValue(FindValueResult),
}

/// An error datagram: Python's exception type and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteError {
    /// e.g. `<class 'ValueError'>`.
    pub exception: String,
    /// e.g. `Invalid token`.
    pub message: String,
}

/// What a typed datagram carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Request(Request),
    Response(Response),
    Error(RemoteError),
}

/// A typed datagram, as we send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    pub rpc_id: RpcId,
    /// The sender's node id.
    pub node_id: NodeId,
    pub body: Body,
}

/// What a datagram carries before its request or result is typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawBody {
    Request {
        method: MethodKind,
        /// Positional arguments (the trailing dict removed).
        args: Vec<Value>,
        /// The trailing dict of keyword arguments (`protocolVersion`, `p`), or empty.
        kwargs: BTreeMap<Key, Value>,
    },
    Response(Value),
    Error(RemoteError),
}

/// A datagram whose header is checked and whose payload is not yet typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawDatagram {
    pub rpc_id: RpcId,
    pub node_id: NodeId,
    pub body: RawBody,
}

impl RawDatagram {
    /// Types the payload. `answering` is the pending request a response
    /// answers (found by rpc id); it is needed for responses only.
    pub fn typed(self, answering: Option<&Request>) -> Result<Datagram, Invalid> {
        let body = match self.body {
            RawBody::Request {
                method,
                args,
                kwargs,
            } => Body::Request(parse_request(method, &args, &kwargs)?),
            RawBody::Response(result) => {
                let request = answering.ok_or(Invalid::UnsolicitedResponse)?;
                Body::Response(parse_response(&result, request)?)
            }
            RawBody::Error(e) => Body::Error(e),
        };
        Ok(Datagram {
            rpc_id: self.rpc_id,
            node_id: self.node_id,
            body,
        })
    }
}

/// Why bytes are not a datagram we accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("bad bencode: {0}")]
    Bencode(#[from] bencode::Invalid),
    #[error("a datagram must be a bencoded dict")]
    NotADict,
    #[error("missing {0}")]
    Missing(&'static str),
    #[error("{field} must be {expected}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
    #[error("datagram type {0} is not 0, 1 or 2")]
    BadType(i64),
    #[error("{field} is {got} bytes, expected {expected}")]
    BadLength {
        field: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("unknown method {0:?}")]
    UnknownMethod(String),
    #[error("{method} takes {expected} positional args, got {got}")]
    ArgCount {
        method: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("{field} out of range: {value}")]
    OutOfRange { field: &'static str, value: i64 },
    #[error("invalid IPv4 address {0:?}")]
    BadIp(String),
    #[error("{0} is not UTF-8")]
    NotUtf8(&'static str),
    #[error("unexpected result to {0}")]
    UnexpectedResult(&'static str),
    #[error("a response that answers no pending request")]
    UnsolicitedResponse,
}

/// Why a datagram cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("datagram would be {len} bytes, over the {MAX_DATAGRAM}-byte limit")]
    TooLarge { len: usize },
    #[error("{field} port {port} would be rejected by Python peers")]
    BadPort { field: &'static str, port: u16 },
    #[error(transparent)]
    Bencode(#[from] bencode::EncodeError),
}
