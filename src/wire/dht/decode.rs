//! Bytes to datagrams, in the two steps the module doc describes.

use super::peer::{node_id, port_of};
use super::{
    CompactPeer, Contact, FindValueResult, Invalid, MethodKind, RawBody, RawDatagram, RemoteError,
    Request, Response, RpcId, StoreArgs, Token, ID_LEN, RPC_ID_LEN,
};
use crate::wire::bencode::{self, Key, Value};
use std::collections::BTreeMap;

/// Checks the header and the payload's shape; see the module doc.
pub fn decode(buf: &[u8]) -> Result<RawDatagram, Invalid> {
    let top = bencode::decode(buf)?;
    let d = top.as_dict().ok_or(Invalid::NotADict)?;
    let kind = field(d, 0)
        .ok_or(Invalid::Missing("datagram type (key 0)"))?
        .as_int()
        .ok_or(Invalid::WrongType {
            field: "datagram type",
            expected: "an integer",
        })?;
    if !(0..=2).contains(&kind) {
        return Err(Invalid::BadType(kind));
    }
    let rpc = bytes(d, 1, "rpc id")?;
    let rpc_id = RpcId(rpc.try_into().map_err(|_| Invalid::BadLength {
        field: "rpc id",
        expected: RPC_ID_LEN,
        got: rpc.len(),
    })?);
    let node_id = node_id(
        field(d, 2).ok_or(Invalid::Missing("node id (key 2)"))?,
        "node id",
    )?;
    let body = match kind {
        0 => request_body(d)?,
        1 => RawBody::Response(
            field(d, 3)
                .ok_or(Invalid::Missing("result (key 3)"))?
                .clone(),
        ),
        _ => RawBody::Error(RemoteError {
            exception: text(d, 3, "exception type")?,
            message: text(d, 4, "error message")?,
        }),
    };
    Ok(RawDatagram {
        rpc_id,
        node_id,
        body,
    })
}

/// Field `i` under the int key or its string spelling (lbry.go uses `"0".."4"`);
/// if a datagram holds both, the int key wins.
fn field(d: &BTreeMap<Key, Value>, i: i64) -> Option<&Value> {
    d.get(&Key::Int(i))
        .or_else(|| d.get(&Key::Bytes(i.to_string().into_bytes())))
}

fn bytes<'a>(d: &'a BTreeMap<Key, Value>, i: i64, name: &'static str) -> Result<&'a [u8], Invalid> {
    field(d, i)
        .ok_or(Invalid::Missing(name))?
        .as_bytes()
        .ok_or(Invalid::WrongType {
            field: name,
            expected: "a byte string",
        })
}

fn text(d: &BTreeMap<Key, Value>, i: i64, name: &'static str) -> Result<String, Invalid> {
    String::from_utf8(bytes(d, i, name)?.to_vec()).map_err(|_| Invalid::NotUtf8(name))
}

fn request_body(d: &BTreeMap<Key, Value>) -> Result<RawBody, Invalid> {
    let name = bytes(d, 3, "method")?;
    let method = MethodKind::from_name(name)
        .ok_or_else(|| Invalid::UnknownMethod(String::from_utf8_lossy(name).into_owned()))?;
    // Python treats missing args as `[]`.
    let mut args = match field(d, 4) {
        None => Vec::new(),
        Some(v) => v
            .as_list()
            .ok_or(Invalid::WrongType {
                field: "args",
                expected: "a list",
            })?
            .to_vec(),
    };
    let kwargs = match args.last() {
        Some(Value::Dict(_)) => match args.pop() {
            Some(Value::Dict(kw)) => kw,
            _ => BTreeMap::new(),
        },
        _ => BTreeMap::new(),
    };
    Ok(RawBody::Request {
        method,
        args,
        kwargs,
    })
}

/// Types a request's arguments. Unknown keyword arguments are ignored.
pub fn parse_request(
    method: MethodKind,
    args: &[Value],
    kwargs: &BTreeMap<Key, Value>,
) -> Result<Request, Invalid> {
    let count = |expected: usize| {
        if args.len() == expected {
            Ok(())
        } else {
            Err(Invalid::ArgCount {
                method: method.name(),
                expected,
                got: args.len(),
            })
        }
    };
    match method {
        MethodKind::Ping => count(0).map(|()| Request::Ping),
        MethodKind::FindNode => {
            count(1)?;
            Ok(Request::FindNode {
                key: node_id(&args[0], "findNode key")?,
            })
        }
        MethodKind::FindValue => {
            count(1)?;
            let page = match kwargs.get(&Key::from("p")) {
                None => 0,
                Some(v) => u32_of(v, "findValue page")?,
            };
            Ok(Request::FindValue {
                key: node_id(&args[0], "findValue key")?,
                page,
            })
        }
        MethodKind::Store => {
            count(5)?;
            let port = port_of(&args[2], "store port")?;
            if port == u16::MAX {
                // lbry-sdk's `0 < port < 65535`.
                return Err(Invalid::OutOfRange {
                    field: "store port",
                    value: i64::from(port),
                });
            }
            Ok(Request::Store(StoreArgs {
                key: node_id(&args[0], "store blob hash")?,
                token: token(&args[1])?,
                port,
                original_publisher: node_id(&args[3], "store publisher id")?,
                age: args[4].as_int().ok_or(Invalid::WrongType {
                    field: "store age",
                    expected: "an integer",
                })?,
            }))
        }
    }
}

/// Types the result of a response, given the request it answers.
pub fn parse_response(result: &Value, answering: &Request) -> Result<Response, Invalid> {
    let name = answering.kind().name();
    match answering {
        Request::Ping if result.as_bytes() == Some(b"pong") => Ok(Response::Pong),
        Request::Store(_) if result.as_bytes() == Some(b"OK") => Ok(Response::Ok),
        Request::Ping | Request::Store(_) => Err(Invalid::UnexpectedResult(name)),
        Request::FindNode { .. } => contacts(result).map(Response::Contacts),
        Request::FindValue { key, .. } => {
            let d = result.as_dict().ok_or(Invalid::UnexpectedResult(name))?;
            let token = token(
                d.get(&Key::from("token"))
                    .ok_or(Invalid::Missing("token"))?,
            )?;
            let contacts = d.get(&Key::from("contacts")).map(contacts).transpose()?;
            let pages = match d.get(&Key::from("p")) {
                None => 0,
                Some(v) => u32_of(v, "findValue pages")?,
            };
            let peers = match d.get(&Key::Bytes(key.as_bytes().to_vec())) {
                None => Vec::new(),
                Some(v) => v
                    .as_list()
                    .ok_or(Invalid::WrongType {
                        field: "findValue peers",
                        expected: "a list",
                    })?
                    .iter()
                    .map(|p| {
                        let b = p.as_bytes().ok_or(Invalid::WrongType {
                            field: "compact peer",
                            expected: "a byte string",
                        })?;
                        CompactPeer::from_bytes(b)
                    })
                    .collect::<Result<_, _>>()?,
            };
            Ok(Response::FindValue(FindValueResult {
                key: *key,
                token,
                contacts,
                peers,
                pages,
            }))
        }
    }
}

fn contacts(v: &Value) -> Result<Vec<Contact>, Invalid> {
    v.as_list()
        .ok_or(Invalid::WrongType {
            field: "contacts",
            expected: "a list",
        })?
        .iter()
        .map(Contact::from_value)
        .collect()
}

fn token(v: &Value) -> Result<Token, Invalid> {
    let b = v.as_bytes().ok_or(Invalid::WrongType {
        field: "token",
        expected: "a byte string",
    })?;
    b.try_into().map_err(|_| Invalid::BadLength {
        field: "token",
        expected: ID_LEN,
        got: b.len(),
    })
}

fn u32_of(v: &Value, field: &'static str) -> Result<u32, Invalid> {
    let n = v.as_int().ok_or(Invalid::WrongType {
        field,
        expected: "an integer",
    })?;
    u32::try_from(n).map_err(|_| Invalid::OutOfRange { field, value: n })
}
