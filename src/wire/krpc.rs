//! KRPC, the message format of BitTorrent's mainline DHT (BEP 5), with
//! BEP 51's `sample_infohashes` (docs/protocol.md §13).
//!
//! A datagram is one bencoded dict: `t` (transaction id, opaque bytes the
//! answer echoes), `y` (`q` query, `r` response, `e` error), and `q` + `a`
//! (method and arguments) or `r` (response values) or `e` (`[code, text]`).
//! A response does not name the query it answers: the caller matches it by
//! `t` and reads the fields it asked for.
//!
//! IPv4 only: `nodes` is 26-byte records (20-byte id, 4-byte IP, 2-byte
//! port), `values` 6-byte peers; `nodes6` and 18-byte values are skipped.
//!
//! PURE: bytes in, values out. Decoding is total and bounded: a datagram
//! over [`MAX_DATAGRAM`] bytes, a transaction id over [`MAX_TXN`] bytes, a
//! token over [`MAX_TOKEN`] bytes, or a field of the wrong type is an error.

use super::bencode::{self, encode_standard, Key, Value};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

/// A mainline node id or infohash: 20 bytes.
pub type Id20 = [u8; 20];

/// Largest datagram read or decoded.
pub const MAX_DATAGRAM: usize = 2048;
/// Longest transaction id accepted.
pub const MAX_TXN: usize = 32;
/// Longest announce token accepted.
pub const MAX_TOKEN: usize = 64;
/// Bytes of one compact IPv4 node record.
pub const NODE_LEN: usize = 26;

/// A query's method and arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    Ping,
    FindNode {
        target: Id20,
    },
    GetPeers {
        info_hash: Id20,
    },
    AnnouncePeer {
        info_hash: Id20,
        port: u16,
        implied_port: bool,
        token: Vec<u8>,
    },
    SampleInfohashes {
        target: Id20,
    },
    /// A method we do not know; answered with error 204.
    Unknown(Vec<u8>),
}

/// The values of a response (each present only if the answering node sent it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    pub id: Id20,
    pub nodes: Vec<(Id20, SocketAddrV4)>,
    pub values: Vec<SocketAddrV4>,
    pub token: Option<Vec<u8>>,
    pub samples: Vec<Id20>,
    pub num: Option<i64>,
    pub interval: Option<i64>,
}

/// What a datagram carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Query { id: Id20, query: Query },
    Response(Response),
    Error { code: i64, message: String },
}

/// One KRPC datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub txn: Vec<u8>,
    pub body: Body,
    /// BEP 43: the sender is read-only (a short-lived client), so it should
    /// not enter routing tables.
    pub read_only: bool,
}

/// Why bytes are not a KRPC message we accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("datagram of {0} bytes is over the limit")]
    TooLarge(usize),
    #[error("not bencode: {0}")]
    Bencode(#[from] bencode::Invalid),
    #[error("field {0} is missing or of the wrong type")]
    Field(&'static str),
    #[error("field {0} has a bad length")]
    Length(&'static str),
}

/// Encodes a message as standard bencode.
pub fn encode(m: &Message) -> Vec<u8> {
    let mut d = BTreeMap::new();
    d.insert(key("t"), Value::bytes(&m.txn));
    if m.read_only {
        d.insert(key("ro"), Value::Int(1));
    }
    match &m.body {
        Body::Query { id, query } => {
            let (name, mut args) = query_args(query);
            args.insert(key("id"), Value::bytes(id));
            d.insert(key("y"), Value::bytes(b"q"));
            d.insert(key("q"), Value::bytes(name));
            d.insert(key("a"), Value::Dict(args));
        }
        Body::Response(r) => {
            d.insert(key("y"), Value::bytes(b"r"));
            d.insert(key("r"), Value::Dict(response_dict(r)));
        }
        Body::Error { code, message } => {
            d.insert(key("y"), Value::bytes(b"e"));
            let e = vec![Value::Int(*code), Value::bytes(message.as_bytes())];
            d.insert(key("e"), Value::List(e));
        }
    }
    encode_standard(&Value::Dict(d))
}

fn key(s: &str) -> Key {
    Key::from(s)
}

fn query_args(q: &Query) -> (Vec<u8>, BTreeMap<Key, Value>) {
    let mut a = BTreeMap::new();
    let name: &[u8] = match q {
        Query::Ping => b"ping",
        Query::FindNode { target } => {
            a.insert(key("target"), Value::bytes(target));
            b"find_node"
        }
        Query::GetPeers { info_hash } => {
            a.insert(key("info_hash"), Value::bytes(info_hash));
            b"get_peers"
        }
        Query::AnnouncePeer {
            info_hash,
            port,
            implied_port,
            token,
        } => {
            a.insert(key("info_hash"), Value::bytes(info_hash));
            a.insert(key("port"), Value::Int(i64::from(*port)));
            a.insert(key("implied_port"), Value::Int(i64::from(*implied_port)));
            a.insert(key("token"), Value::bytes(token));
            b"announce_peer"
        }
        Query::SampleInfohashes { target } => {
            a.insert(key("target"), Value::bytes(target));
            b"sample_infohashes"
        }
        Query::Unknown(name) => name,
    };
    (name.to_vec(), a)
}

fn response_dict(r: &Response) -> BTreeMap<Key, Value> {
    let mut d = BTreeMap::new();
    d.insert(key("id"), Value::bytes(r.id));
    if !r.nodes.is_empty() {
        d.insert(key("nodes"), Value::Bytes(compact_nodes(&r.nodes)));
    }
    if !r.values.is_empty() {
        let v = r
            .values
            .iter()
            .map(|p| Value::Bytes(compact_peer(p).to_vec()));
        d.insert(key("values"), Value::List(v.collect()));
    }
    if let Some(t) = &r.token {
        d.insert(key("token"), Value::bytes(t));
    }
    if r.num.is_some() || !r.samples.is_empty() {
        d.insert(key("samples"), Value::Bytes(r.samples.concat()));
    }
    if let Some(n) = r.num {
        d.insert(key("num"), Value::Int(n));
    }
    if let Some(i) = r.interval {
        d.insert(key("interval"), Value::Int(i));
    }
    d
}

/// 26-byte records, one per node.
pub fn compact_nodes(nodes: &[(Id20, SocketAddrV4)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nodes.len() * NODE_LEN);
    for (id, addr) in nodes {
        out.extend_from_slice(id);
        out.extend_from_slice(&compact_peer(addr));
    }
    out
}

/// A peer as 4 bytes of IP and 2 of port, big-endian.
pub fn compact_peer(p: &SocketAddrV4) -> [u8; 6] {
    let mut b = [0u8; 6];
    b[..4].copy_from_slice(&p.ip().octets());
    b[4..].copy_from_slice(&p.port().to_be_bytes());
    b
}

fn peer_from(b: &[u8]) -> SocketAddrV4 {
    let ip = Ipv4Addr::new(b[0], b[1], b[2], b[3]);
    SocketAddrV4::new(ip, u16::from_be_bytes([b[4], b[5]]))
}

/// Decodes one datagram.
pub fn decode(buf: &[u8]) -> Result<Message, Invalid> {
    if buf.len() > MAX_DATAGRAM {
        return Err(Invalid::TooLarge(buf.len()));
    }
    let v = bencode::decode(buf)?;
    let d = v.as_dict().ok_or(Invalid::Field("message"))?;
    let txn = bytes(d, "t")?;
    if txn.len() > MAX_TXN {
        return Err(Invalid::Length("t"));
    }
    let body = match bytes(d, "y")? {
        b"q" => decode_query(d)?,
        b"r" => Body::Response(decode_response(dict(d, "r")?)?),
        b"e" => decode_error(d)?,
        _ => return Err(Invalid::Field("y")),
    };
    let read_only = get(d, "ro").and_then(Value::as_int) == Some(1);
    Ok(Message {
        txn: txn.to_vec(),
        body,
        read_only,
    })
}

type Dict = BTreeMap<Key, Value>;

fn get<'a>(d: &'a Dict, k: &str) -> Option<&'a Value> {
    d.get(&Key::Bytes(k.as_bytes().to_vec()))
}

fn bytes<'a>(d: &'a Dict, k: &'static str) -> Result<&'a [u8], Invalid> {
    get(d, k).and_then(Value::as_bytes).ok_or(Invalid::Field(k))
}

fn dict<'a>(d: &'a Dict, k: &'static str) -> Result<&'a Dict, Invalid> {
    get(d, k).and_then(Value::as_dict).ok_or(Invalid::Field(k))
}

fn id20(d: &Dict, k: &'static str) -> Result<Id20, Invalid> {
    bytes(d, k)?.try_into().map_err(|_| Invalid::Length(k))
}

fn decode_query(d: &Dict) -> Result<Body, Invalid> {
    let a = dict(d, "a")?;
    let id = id20(a, "id")?;
    let query = match bytes(d, "q")? {
        b"ping" => Query::Ping,
        b"find_node" => Query::FindNode {
            target: id20(a, "target")?,
        },
        b"get_peers" => Query::GetPeers {
            info_hash: id20(a, "info_hash")?,
        },
        b"sample_infohashes" => Query::SampleInfohashes {
            target: id20(a, "target")?,
        },
        b"announce_peer" => {
            let port = get(a, "port")
                .and_then(Value::as_int)
                .ok_or(Invalid::Field("port"))?;
            let token = bytes(a, "token")?;
            if token.len() > MAX_TOKEN {
                return Err(Invalid::Length("token"));
            }
            let implied = get(a, "implied_port").and_then(Value::as_int).unwrap_or(0) != 0;
            Query::AnnouncePeer {
                info_hash: id20(a, "info_hash")?,
                port: u16::try_from(port).map_err(|_| Invalid::Field("port"))?,
                implied_port: implied,
                token: token.to_vec(),
            }
        }
        other => Query::Unknown(other.iter().take(64).copied().collect()),
    };
    Ok(Body::Query { id, query })
}

fn decode_response(r: &Dict) -> Result<Response, Invalid> {
    let mut out = Response {
        id: id20(r, "id")?,
        ..Response::default()
    };
    if let Some(n) = get(r, "nodes") {
        let n = n.as_bytes().ok_or(Invalid::Field("nodes"))?;
        if n.len() % NODE_LEN != 0 {
            return Err(Invalid::Length("nodes"));
        }
        out.nodes = n
            .chunks_exact(NODE_LEN)
            .filter_map(|c| Some((c[..20].try_into().ok()?, peer_from(&c[20..]))))
            .collect();
    }
    if let Some(v) = get(r, "values") {
        let v = v.as_list().ok_or(Invalid::Field("values"))?;
        // 18-byte (IPv6) peers and anything else odd are skipped.
        out.values = v
            .iter()
            .filter_map(Value::as_bytes)
            .filter(|b| b.len() == 6)
            .map(peer_from)
            .collect();
    }
    if let Some(t) = get(r, "token") {
        let t = t.as_bytes().ok_or(Invalid::Field("token"))?;
        if t.len() > MAX_TOKEN {
            return Err(Invalid::Length("token"));
        }
        out.token = Some(t.to_vec());
    }
    if let Some(s) = get(r, "samples") {
        let s = s.as_bytes().ok_or(Invalid::Field("samples"))?;
        if s.len() % 20 != 0 {
            return Err(Invalid::Length("samples"));
        }
        out.samples = s
            .chunks_exact(20)
            .filter_map(|c| c.try_into().ok())
            .collect();
    }
    out.num = get(r, "num").and_then(Value::as_int);
    out.interval = get(r, "interval").and_then(Value::as_int);
    Ok(out)
}

fn decode_error(d: &Dict) -> Result<Body, Invalid> {
    let e = get(d, "e")
        .and_then(Value::as_list)
        .ok_or(Invalid::Field("e"))?;
    let code = e
        .first()
        .and_then(Value::as_int)
        .ok_or(Invalid::Field("e"))?;
    let message = e.get(1).and_then(Value::as_bytes).unwrap_or_default();
    let message = String::from_utf8_lossy(&message[..message.len().min(200)]).into_owned();
    Ok(Body::Error { code, message })
}

#[cfg(test)]
#[path = "krpc_tests.rs"]
mod tests;
