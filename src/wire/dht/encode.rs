//! Datagrams to bytes, in lbry-sdk's exact shapes.
//!
//! Every dict a message holds is the last element of its container: the
//! kwargs dict ends the args list, the args list is key 4 (the last key), a
//! findValue result dict is key 3 of a response (the last key). The bencode
//! encoder checks this again, so a future shape that breaks the rule fails
//! loudly in tests instead of being misread by Python peers.

use super::{
    Body, Datagram, EncodeError, FindValueResult, RemoteError, Request, Response, RpcId,
    MAX_DATAGRAM, PROTOCOL_VERSION,
};
use crate::hash::NodeId;
use crate::wire::bencode::{self, Key, Value};
use std::collections::BTreeMap;

/// Encodes `d`; fails rather than produce more than [`MAX_DATAGRAM`] bytes.
pub fn encode(d: &Datagram) -> Result<Vec<u8>, EncodeError> {
    let (kind, three, four) = match &d.body {
        Body::Request(r) => {
            let (name, args) = request_args(r)?;
            (0, Value::bytes(name), Some(Value::List(args)))
        }
        Body::Response(r) => (1, response_value(r)?, None),
        Body::Error(RemoteError { exception, message }) => {
            (2, Value::bytes(exception), Some(Value::bytes(message)))
        }
    };
    finish(d.rpc_id, &d.node_id, kind, three, four)
}

/// Encodes a findValue answer, dropping peers (then contacts) from the end
/// until it fits in [`MAX_DATAGRAM`]. Returns the bytes and what they hold;
/// `pages` is left as given.
pub fn encode_find_value_fitting(
    rpc_id: RpcId,
    node_id: NodeId,
    mut result: FindValueResult,
) -> Result<(Vec<u8>, FindValueResult), EncodeError> {
    loop {
        match finish(rpc_id, &node_id, 1, find_value_value(&result)?, None) {
            Ok(bytes) => return Ok((bytes, result)),
            // The guard trims one entry; when nothing is left to trim, give up.
            Err(EncodeError::TooLarge { .. })
                if result.peers.pop().is_some()
                    || result.contacts.as_mut().and_then(Vec::pop).is_some() => {}
            Err(e) => return Err(e),
        }
    }
}

fn finish(
    rpc_id: RpcId,
    node_id: &NodeId,
    kind: i64,
    three: Value,
    four: Option<Value>,
) -> Result<Vec<u8>, EncodeError> {
    let mut map = BTreeMap::from([
        (Key::Int(0), Value::Int(kind)),
        (Key::Int(1), Value::bytes(rpc_id.0)),
        (Key::Int(2), Value::bytes(node_id.as_bytes())),
        (Key::Int(3), three),
    ]);
    if let Some(four) = four {
        map.insert(Key::Int(4), four);
    }
    let out = bencode::encode(&Value::Dict(map))?;
    if out.len() > MAX_DATAGRAM {
        return Err(EncodeError::TooLarge { len: out.len() });
    }
    Ok(out)
}

fn kwargs(extra: Option<(&str, Value)>) -> Value {
    let mut kw = BTreeMap::from([(Key::from("protocolVersion"), Value::Int(PROTOCOL_VERSION))]);
    if let Some((k, v)) = extra {
        kw.insert(Key::from(k), v);
    }
    Value::Dict(kw)
}

fn request_args(r: &Request) -> Result<(&'static str, Vec<Value>), EncodeError> {
    let name = r.kind().name();
    let args = match r {
        Request::Ping => vec![kwargs(None)],
        Request::FindNode { key } => vec![Value::bytes(key.as_bytes()), kwargs(None)],
        Request::FindValue { key, page } => vec![
            Value::bytes(key.as_bytes()),
            kwargs(Some(("p", Value::Int(i64::from(*page))))),
        ],
        Request::Store(s) => {
            if s.port == 0 || s.port == u16::MAX {
                return Err(EncodeError::BadPort {
                    field: "store",
                    port: s.port,
                });
            }
            vec![
                Value::bytes(s.key.as_bytes()),
                Value::bytes(s.token),
                Value::Int(i64::from(s.port)),
                Value::bytes(s.original_publisher.as_bytes()),
                Value::Int(s.age),
                kwargs(None),
            ]
        }
    };
    Ok((name, args))
}

fn response_value(r: &Response) -> Result<Value, EncodeError> {
    Ok(match r {
        Response::Pong => Value::bytes("pong"),
        Response::Ok => Value::bytes("OK"),
        Response::Contacts(c) => contacts_value(c)?,
        Response::FindValue(f) => find_value_value(f)?,
    })
}

fn find_value_value(f: &FindValueResult) -> Result<Value, EncodeError> {
    let mut map = BTreeMap::from([
        (Key::from("p"), Value::Int(i64::from(f.pages))),
        (Key::from("protocolVersion"), Value::Int(PROTOCOL_VERSION)),
        (Key::from("token"), Value::bytes(f.token)),
    ]);
    if let Some(c) = &f.contacts {
        map.insert(Key::from("contacts"), contacts_value(c)?);
    }
    if !f.peers.is_empty() {
        let peers = f
            .peers
            .iter()
            .map(|p| p.to_bytes().map(Value::bytes))
            .collect::<Result<_, _>>()?;
        map.insert(Key::from(&f.key.as_bytes()[..]), Value::List(peers));
    }
    Ok(Value::Dict(map))
}

fn contacts_value(c: &[super::Contact]) -> Result<Value, EncodeError> {
    c.iter()
        .map(|c| c.to_value())
        .collect::<Result<_, _>>()
        .map(Value::List)
}
