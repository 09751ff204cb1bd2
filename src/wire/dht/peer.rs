//! The two ways a datagram names another node: contact triples (DHT nodes,
//! with their UDP port) and 54-byte compact addresses (blob servers, with
//! their TCP port). Only IPv4 exists in LBRY's DHT.

use super::{EncodeError, Invalid, ID_LEN};
use crate::hash::NodeId;
use crate::wire::bencode::Value;
use std::net::Ipv4Addr;

/// Length of a compact address: 4 IPv4 bytes, 2-byte big-endian port, node id.
pub const COMPACT_PEER_LEN: usize = 4 + 2 + ID_LEN;

/// A blob server as findValue lists it (`make_compact_address`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CompactPeer {
    pub ip: Ipv4Addr,
    /// Port of the blob exchange server; never 0.
    pub tcp_port: u16,
    /// Id of the node that announced the blob.
    pub node_id: NodeId,
}

impl CompactPeer {
    /// The 54 wire bytes; refuses port 0 as Python's `make_compact_address` does.
    pub fn to_bytes(&self) -> Result<[u8; COMPACT_PEER_LEN], EncodeError> {
        if self.tcp_port == 0 {
            return Err(EncodeError::BadPort {
                field: "compact peer",
                port: 0,
            });
        }
        let mut out = [0u8; COMPACT_PEER_LEN];
        out[..4].copy_from_slice(&self.ip.octets());
        out[4..6].copy_from_slice(&self.tcp_port.to_be_bytes());
        out[6..].copy_from_slice(self.node_id.as_bytes());
        Ok(out)
    }

    /// Reads 54 bytes; any other length (a 5-octet address, a 47-byte id) or
    /// port 0 is refused.
    pub fn from_bytes(b: &[u8]) -> Result<Self, Invalid> {
        let arr: &[u8; COMPACT_PEER_LEN] = b.try_into().map_err(|_| Invalid::BadLength {
            field: "compact peer",
            expected: COMPACT_PEER_LEN,
            got: b.len(),
        })?;
        let tcp_port = u16::from_be_bytes([arr[4], arr[5]]);
        if tcp_port == 0 {
            return Err(Invalid::OutOfRange {
                field: "compact peer port",
                value: 0,
            });
        }
        let mut id = [0u8; ID_LEN];
        id.copy_from_slice(&arr[6..]);
        Ok(CompactPeer {
            ip: Ipv4Addr::new(arr[0], arr[1], arr[2], arr[3]),
            tcp_port,
            node_id: NodeId::from_bytes(id),
        })
    }
}

/// A DHT node as findNode and findValue list it: `[node_id, "a.b.c.d", udp_port]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Contact {
    pub node_id: NodeId,
    pub ip: Ipv4Addr,
    /// Never 0.
    pub udp_port: u16,
}

impl Contact {
    pub(super) fn to_value(self) -> Result<Value, EncodeError> {
        if self.udp_port == 0 {
            return Err(EncodeError::BadPort {
                field: "contact",
                port: 0,
            });
        }
        Ok(Value::List(vec![
            Value::bytes(self.node_id.as_bytes()),
            Value::bytes(self.ip.to_string()),
            Value::Int(i64::from(self.udp_port)),
        ]))
    }

    pub(super) fn from_value(v: &Value) -> Result<Self, Invalid> {
        let wrong = Invalid::WrongType {
            field: "contact",
            expected: "a list [node_id, ip, port]",
        };
        let [id, ip, port] = v.as_list().ok_or(wrong.clone())? else {
            return Err(wrong);
        };
        let node_id = node_id(id, "contact node id")?;
        let ip_bytes = ip.as_bytes().ok_or(Invalid::WrongType {
            field: "contact ip",
            expected: "a dotted-quad string",
        })?;
        let ip_text = String::from_utf8_lossy(ip_bytes);
        let ip = ip_text
            .parse::<Ipv4Addr>()
            .map_err(|_| Invalid::BadIp(ip_text.into_owned()))?;
        let udp_port = port_of(port, "contact port")?;
        Ok(Contact {
            node_id,
            ip,
            udp_port,
        })
    }
}

/// A 48-byte id held in a byte-string value.
pub(super) fn node_id(v: &Value, field: &'static str) -> Result<NodeId, Invalid> {
    let b = v.as_bytes().ok_or(Invalid::WrongType {
        field,
        expected: "a byte string",
    })?;
    let arr: [u8; ID_LEN] = b.try_into().map_err(|_| Invalid::BadLength {
        field,
        expected: ID_LEN,
        got: b.len(),
    })?;
    Ok(NodeId::from_bytes(arr))
}

/// A port in `1..=65535` held in an int value.
pub(super) fn port_of(v: &Value, field: &'static str) -> Result<u16, Invalid> {
    let n = v.as_int().ok_or(Invalid::WrongType {
        field,
        expected: "an integer",
    })?;
    match u16::try_from(n) {
        Ok(p) if p != 0 => Ok(p),
        _ => Err(Invalid::OutOfRange { field, value: n }),
    }
}
