//! lbry-sdk's reflector protocol, version 2 (`lbry/stream/reflector/`), as a
//! pure codec.
//!
//! A reflector is a server that keeps published streams available while
//! their publisher is offline. The protocol has no length prefix and no
//! delimiter: each message is one JSON object, and lbry-sdk's server even
//! parses each TCP segment as a whole document. Raw blob bytes follow the
//! server's `send_sd_blob`/`send_blob: true`, exactly as many as announced.
//! So a message ends where its JSON object ends ([`super::frame::object_end`]),
//! and whatever follows belongs to the next message or to blob bytes.
//!
//! The client writes `json.dumps(…, sort_keys=True)`; the server plain
//! `json.dumps` (keys in insertion order). Both shapes are written here byte
//! for byte; any layout is read. Messages are bounded: a request at
//! [`MAX_REQUEST`], a response at [`MAX_RESPONSE`] (lbry-sdk's client limit).
//!
//! PURE: bytes in, typed values out (and back).

use super::frame::{object_end, Invalid, WireError};
use super::pyjson::write_object;
use crate::hash::BlobHash;
use serde_json::{Map, Value};

/// `REFLECTOR_V2` in lbry-sdk: the only version either side accepts.
pub const VERSION: u64 = 1;
/// Largest request a server reads (a request is about 150 bytes).
pub const MAX_REQUEST: usize = 4096;
/// Largest response a client reads (`MAX_RESPONSE_SIZE` in lbry-sdk).
pub const MAX_RESPONSE: usize = 2_000_000;

/// What a client sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `{"version": 1}`: the handshake.
    Version(u64),
    /// `{"sd_blob_hash": …, "sd_blob_size": …}`: the stream offered.
    SdBlob { hash: BlobHash, size: u64 },
    /// `{"blob_hash": …, "blob_size": …}`: one data blob offered.
    Blob { hash: BlobHash, size: u64 },
}

/// What a server answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// `{"version": 1}`.
    Version(u64),
    /// `{"send_sd_blob": true}`, or `false` with the data blobs still needed.
    SendSdBlob { send: bool, needed: Vec<BlobHash> },
    /// `{"received_sd_blob": …}` after the sd blob's bytes.
    ReceivedSdBlob(bool),
    /// `{"send_blob": …}`.
    SendBlob(bool),
    /// `{"received_blob": …}` after a blob's bytes.
    ReceivedBlob(bool),
}

impl Request {
    /// The bytes lbry-sdk's client writes (`sort_keys=True`).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = String::new();
        match self {
            Request::Version(v) => write_object(&mut out, &[("version", (*v).into())]),
            Request::SdBlob { hash, size } => write_object(
                &mut out,
                &[
                    ("sd_blob_hash", hash.to_hex().into()),
                    ("sd_blob_size", (*size).into()),
                ],
            ),
            Request::Blob { hash, size } => write_object(
                &mut out,
                &[
                    ("blob_hash", hash.to_hex().into()),
                    ("blob_size", (*size).into()),
                ],
            ),
        }
        out.into_bytes()
    }
}

impl Response {
    /// The bytes lbry-sdk's server writes (insertion order).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = String::new();
        match self {
            Response::Version(v) => write_object(&mut out, &[("version", (*v).into())]),
            Response::SendSdBlob { send: true, .. } => {
                write_object(&mut out, &[("send_sd_blob", true.into())])
            }
            Response::SendSdBlob {
                send: false,
                needed,
            } => {
                let list = needed.iter().map(|h| Value::from(h.to_hex())).collect();
                write_object(
                    &mut out,
                    &[
                        ("send_sd_blob", false.into()),
                        ("needed_blobs", Value::Array(list)),
                    ],
                )
            }
            Response::ReceivedSdBlob(b) => {
                write_object(&mut out, &[("received_sd_blob", (*b).into())])
            }
            Response::SendBlob(b) => write_object(&mut out, &[("send_blob", (*b).into())]),
            Response::ReceivedBlob(b) => write_object(&mut out, &[("received_blob", (*b).into())]),
        }
        out.into_bytes()
    }
}

/// Decodes the request at the start of `buf`; returns it and the bytes it took.
pub fn decode_request(buf: &[u8]) -> Result<(Request, usize), WireError> {
    let (obj, used) = object(buf, MAX_REQUEST)?;
    let req = if obj.contains_key("version") {
        Request::Version(uint(&obj, "version")?)
    } else if obj.contains_key("sd_blob_hash") {
        Request::SdBlob {
            hash: hash(&obj, "sd_blob_hash")?,
            size: uint(&obj, "sd_blob_size")?,
        }
    } else if obj.contains_key("blob_hash") {
        Request::Blob {
            hash: hash(&obj, "blob_hash")?,
            size: uint(&obj, "blob_size")?,
        }
    } else {
        return Err(Invalid::NoKnownKey.into());
    };
    Ok((req, used))
}

/// Decodes the response at the start of `buf`; returns it and the bytes it took.
pub fn decode_response(buf: &[u8]) -> Result<(Response, usize), WireError> {
    let (obj, used) = object(buf, MAX_RESPONSE)?;
    let resp = if obj.contains_key("version") {
        Response::Version(uint(&obj, "version")?)
    } else if obj.contains_key("send_sd_blob") {
        let needed = match obj.get("needed_blobs") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.parse().map_err(|source| Invalid::BadHash {
                        key: "needed_blobs",
                        source,
                    }),
                    _ => Err(bad("needed_blobs", "a list of blob hashes")),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(bad("needed_blobs", "a list of blob hashes").into()),
        };
        Response::SendSdBlob {
            send: flag(&obj, "send_sd_blob")?,
            needed,
        }
    } else if obj.contains_key("received_sd_blob") {
        Response::ReceivedSdBlob(flag(&obj, "received_sd_blob")?)
    } else if obj.contains_key("send_blob") {
        Response::SendBlob(flag(&obj, "send_blob")?)
    } else if obj.contains_key("received_blob") {
        Response::ReceivedBlob(flag(&obj, "received_blob")?)
    } else {
        return Err(Invalid::NoKnownKey.into());
    };
    Ok((resp, used))
}

/// The JSON object at the start of `buf`, at most `limit` bytes long.
fn object(buf: &[u8], limit: usize) -> Result<(Map<String, Value>, usize), WireError> {
    let end = match object_end(buf)? {
        Some(end) if end <= limit => end,
        Some(_) => return Err(Invalid::TooLarge { limit }.into()),
        None if buf.len() >= limit => return Err(Invalid::TooLarge { limit }.into()),
        None => return Err(WireError::Incomplete),
    };
    match serde_json::from_slice::<Value>(&buf[..end]) {
        Ok(Value::Object(map)) => Ok((map, end)),
        Ok(_) => Err(Invalid::NotAnObject(buf[0]).into()),
        Err(e) => Err(Invalid::Json(e.to_string()).into()),
    }
}

fn bad(key: &'static str, expected: &'static str) -> Invalid {
    Invalid::BadValue { key, expected }
}

fn uint(obj: &Map<String, Value>, key: &'static str) -> Result<u64, Invalid> {
    obj.get(key)
        .and_then(Value::as_u64)
        .ok_or(bad(key, "a non-negative integer"))
}

fn flag(obj: &Map<String, Value>, key: &'static str) -> Result<bool, Invalid> {
    obj.get(key)
        .and_then(Value::as_bool)
        .ok_or(bad(key, "true or false"))
}

fn hash(obj: &Map<String, Value>, key: &'static str) -> Result<BlobHash, Invalid> {
    let s = obj
        .get(key)
        .and_then(Value::as_str)
        .ok_or(bad(key, "a blob hash"))?;
    s.parse().map_err(|source| Invalid::BadHash { key, source })
}

#[cfg(test)]
#[path = "reflector_tests.rs"]
mod tests;
