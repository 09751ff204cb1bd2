//! Blob exchange messages (docs/protocol.md §3): the request a client sends and the
//! header a server answers with, as lbry-sdk writes and reads them.
//!
//! Decoding is two-phase: [`frame::object_end`](super::frame::object_end)
//! finds where the JSON object ends (or says more bytes are needed), then the
//! delimited bytes are parsed and checked. `Err(WireError::Incomplete)` means
//! "read more"; `Err(WireError::Invalid(_))` means the connection should be
//! dropped: no amount of extra bytes will fix it.
//!
//! What we accept is what lbry-sdk accepts, so that every LBRY peer can talk
//! to us; what we write is exactly what lbry-sdk writes (key order, spacing),
//! so that no LBRY peer can tell us apart.
//!
//! PURE: no sockets, no clock.

use super::frame::{object_end, skip_space, Invalid, WireError};
use super::pyjson::write_object;
use crate::hash::BlobHash;
use serde_json::{Map, Value};

/// A request is refused once this many bytes are buffered (lbry-sdk's `MAX_REQUEST_SIZE`).
pub const MAX_REQUEST_SIZE: usize = 1200;
/// Largest response header a client accepts. A real one is ~300 bytes and
/// at most ~1.3 KiB (`available_blobs` answers a query of at most 10 hashes);
/// the client rescans the buffer on each read, so a small limit also bounds
/// what a peer trickling one byte at a time can cost.
pub const MAX_RESPONSE_HEADER: usize = 8 * 1024;
/// The only price answer lbry-sdk clients accept.
pub const RATE_ACCEPTED: &str = "RATE_ACCEPTED";
/// Most hashes in one availability query that keep it under [`MAX_REQUEST_SIZE`].
pub const MAX_HASHES_PER_QUERY: usize = 10;

/// A client's request. Each field is one of lbry-sdk's four sub-requests.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BlobRequest {
    /// Availability query: which of these blobs does the server have?
    pub requested_blobs: Option<Vec<BlobHash>>,
    /// Asks for the server's payment address (the value is ignored; we send `true`).
    pub lbrycrd_address: bool,
    /// The offered price; lbry-sdk sends `0.0`. Any offer is accepted, as
    /// lbry-sdk's server does: one that is not a number decodes as NaN.
    pub blob_data_payment_rate: Option<f64>,
    /// Download request: send this blob.
    pub requested_blob: Option<BlobHash>,
}

/// `incoming_blob`: the blob's bytes (exactly `length`) follow the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IncomingBlob {
    pub blob_hash: BlobHash,
    pub length: u64,
}

/// A server's response header.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BlobResponse {
    pub incoming_blob: Option<IncomingBlob>,
    /// `"RATE_ACCEPTED"` from every lbry-sdk server.
    pub blob_data_payment_rate: Option<String>,
    /// The requested blobs the server has.
    pub available_blobs: Option<Vec<BlobHash>>,
    /// Any JSON value: the server's address string, or `true` (the quirk
    /// in docs/protocol.md §3.3).
    pub lbrycrd_address: Option<Value>,
}

fn hash_list(hashes: &[BlobHash]) -> Value {
    Value::Array(hashes.iter().map(|h| Value::String(h.to_hex())).collect())
}

impl BlobRequest {
    /// lbry-sdk's standard download request (`make_request_for_blob_hash`), 295 bytes.
    pub fn download(hash: BlobHash) -> Self {
        Self {
            requested_blobs: Some(vec![hash]),
            lbrycrd_address: true,
            blob_data_payment_rate: Some(0.0),
            requested_blob: Some(hash),
        }
    }

    /// lbry-sdk's availability query (`BlobAvailabilityRequest`). At most
    /// [`MAX_HASHES_PER_QUERY`] hashes fit in one request.
    pub fn availability(hashes: Vec<BlobHash>) -> Self {
        Self {
            requested_blobs: Some(hashes),
            lbrycrd_address: true,
            ..Self::default()
        }
    }

    /// The request as lbry-sdk serialises it. A non-finite rate is written as `0.0`.
    pub fn encode(&self) -> Vec<u8> {
        let mut fields = Vec::with_capacity(4);
        if let Some(hashes) = &self.requested_blobs {
            fields.push(("requested_blobs", hash_list(hashes)));
        }
        if self.lbrycrd_address {
            fields.push(("lbrycrd_address", Value::Bool(true)));
        }
        if let Some(rate) = self.blob_data_payment_rate {
            let rate = if rate.is_finite() { rate } else { 0.0 };
            fields.push(("blob_data_payment_rate", Value::from(rate)));
        }
        if let Some(hash) = self.requested_blob {
            fields.push(("requested_blob", Value::String(hash.to_hex())));
        }
        let mut out = String::with_capacity(300);
        write_object(&mut out, &fields);
        out.into_bytes()
    }
}

/// Decodes a request from everything a server has buffered on a connection.
///
/// Whitespace may surround the object. Anything else after it (a second,
/// pipelined request) is `Invalid`, as is a buffer of [`MAX_REQUEST_SIZE`]
/// bytes or more. Unknown keys next to a recognised one are ignored, like
/// lbry-sdk does; a request without any recognised key is refused. Any
/// offered rate is taken, and `requested_blobs` is read as lbry-sdk reads it
/// (see `requested_blobs` below): both are answered where lbry-sdk answers.
pub fn decode_request(buf: &[u8]) -> Result<BlobRequest, WireError> {
    if buf.len() >= MAX_REQUEST_SIZE {
        return Err(Invalid::TooLarge {
            limit: MAX_REQUEST_SIZE,
        }
        .into());
    }
    let end = object_end(buf)?.ok_or(WireError::Incomplete)?;
    if end + skip_space(&buf[end..]) != buf.len() {
        return Err(Invalid::TrailingData.into());
    }
    let map = parse_object(&buf[..end])?;
    let mut req = BlobRequest::default();
    let mut known = false;
    if let Some(v) = map.get("requested_blobs") {
        req.requested_blobs = Some(requested_blobs(v)?);
        known = true;
    }
    if map.contains_key("lbrycrd_address") {
        req.lbrycrd_address = true;
        known = true;
    }
    if let Some(v) = map.get("blob_data_payment_rate") {
        // lbry-sdk's server answers RATE_ACCEPTED to any offer, even one that
        // is not a number: blobs are free.
        req.blob_data_payment_rate = Some(v.as_f64().unwrap_or(f64::NAN));
        known = true;
    }
    if let Some(v) = map.get("requested_blob") {
        req.requested_blob = Some(parse_hash("requested_blob", v)?);
        known = true;
    }
    if !known {
        return Err(Invalid::NoKnownKey.into());
    }
    Ok(req)
}

impl BlobResponse {
    /// The answer lbry-sdk's server gives to `req` (`handle_request`).
    ///
    /// `has` says whether a blob is present; `incoming_len` is the length of
    /// `req.requested_blob` when we have it and will send it. Only the keys the
    /// request warrants appear. The answer is empty (nothing to send, as with
    /// lbry-sdk) when the request was only a download of a blob we lack.
    pub fn answer(
        req: &BlobRequest,
        has: impl Fn(&BlobHash) -> bool,
        incoming_len: Option<u64>,
        address: &str,
    ) -> Self {
        let incoming_blob = req
            .requested_blob
            .zip(incoming_len)
            .map(|(blob_hash, length)| IncomingBlob { blob_hash, length });
        let sending = |h: &BlobHash| incoming_blob.is_some_and(|i| i.blob_hash == *h);
        let available_blobs = req.requested_blobs.as_ref().map(|wanted| {
            let mut found: Vec<BlobHash> = Vec::new();
            for h in wanted {
                if (sending(h) || has(h)) && !found.contains(h) {
                    found.push(*h);
                }
            }
            found
        });
        let lbrycrd_address = if req.lbrycrd_address {
            Some(Value::String(address.to_owned()))
        } else if req.requested_blobs.is_some() {
            Some(Value::Bool(true))
        } else {
            None
        };
        Self {
            incoming_blob,
            blob_data_payment_rate: req.blob_data_payment_rate.map(|_| RATE_ACCEPTED.to_owned()),
            available_blobs,
            lbrycrd_address,
        }
    }

    /// True when no key would be sent.
    pub fn is_empty(&self) -> bool {
        self.incoming_blob.is_none()
            && self.blob_data_payment_rate.is_none()
            && self.available_blobs.is_none()
            && self.lbrycrd_address.is_none()
    }

    /// The header as lbry-sdk writes it: keys in the order `incoming_blob,
    /// blob_data_payment_rate, available_blobs, lbrycrd_address`.
    pub fn encode(&self) -> Vec<u8> {
        let mut fields = Vec::with_capacity(4);
        if let Some(inc) = &self.incoming_blob {
            let mut m = Map::new();
            m.insert("blob_hash".into(), Value::String(inc.blob_hash.to_hex()));
            m.insert("length".into(), Value::from(inc.length));
            fields.push(("incoming_blob", Value::Object(m)));
        }
        if let Some(rate) = &self.blob_data_payment_rate {
            fields.push(("blob_data_payment_rate", Value::String(rate.clone())));
        }
        if let Some(hashes) = &self.available_blobs {
            fields.push(("available_blobs", hash_list(hashes)));
        }
        if let Some(addr) = &self.lbrycrd_address {
            fields.push(("lbrycrd_address", addr.clone()));
        }
        let mut out = String::with_capacity(320);
        write_object(&mut out, &fields);
        out.into_bytes()
    }
}

/// Decodes a response header from the start of what a client has received.
///
/// Returns the header and its length in bytes; blob bytes, if any, start
/// right there. The header must end within `limit` bytes. Keys are checked
/// like lbry-sdk's client does: only the four response keys are allowed. An
/// `incoming_blob` that carries an `error` instead of a blob is read as no
/// `incoming_blob`, which is how lbry-sdk's client treats it.
pub fn decode_response(buf: &[u8], limit: usize) -> Result<(BlobResponse, usize), WireError> {
    let window = &buf[..buf.len().min(limit)];
    let end = match object_end(window)? {
        Some(end) => end,
        None if buf.len() >= limit => return Err(Invalid::TooLarge { limit }.into()),
        None => return Err(WireError::Incomplete),
    };
    let map = parse_object(&buf[..end])?;
    if map.is_empty() {
        return Err(Invalid::NoKnownKey.into());
    }
    let mut resp = BlobResponse::default();
    for (key, value) in map {
        match key.as_str() {
            "incoming_blob" => resp.incoming_blob = parse_incoming(&value)?,
            "blob_data_payment_rate" => {
                let rate = value.as_str().ok_or(Invalid::BadValue {
                    key: "blob_data_payment_rate",
                    expected: "a string",
                })?;
                resp.blob_data_payment_rate = Some(rate.to_owned());
            }
            "available_blobs" => {
                resp.available_blobs = Some(parse_hashes("available_blobs", &value)?);
            }
            "lbrycrd_address" => resp.lbrycrd_address = Some(value),
            _ => return Err(Invalid::UnknownKey(key).into()),
        }
    }
    Ok((resp, end))
}

fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, Invalid> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        // `object_end` only delimits text starting with `{`.
        Ok(_) => Err(Invalid::Json("not an object".into())),
        Err(e) => Err(Invalid::Json(e.to_string())),
    }
}

fn parse_hash(key: &'static str, v: &Value) -> Result<BlobHash, Invalid> {
    let s = v.as_str().ok_or(Invalid::BadValue {
        key,
        expected: "a blob hash string",
    })?;
    s.parse().map_err(|source| Invalid::BadHash { key, source })
}

/// `requested_blobs` as lbry-sdk's server reads it: it iterates the value and
/// looks each item up among the blobs it holds. So an item that is not a blob
/// hash (another case, another length, a number, `null`) is a blob it does not
/// hold, and a string or an object is iterated like a list (of characters, of
/// keys). Only the hashes are kept: the answer lists held blobs only.
///
/// Refused, where lbry-sdk's server closes the connection or never answers:
/// an empty value (its `assert`), a number, `true`/`false` or `null` (no
/// length), and a list or object inside the list (unhashable).
fn requested_blobs(v: &Value) -> Result<Vec<BlobHash>, Invalid> {
    const SHAPE: Invalid = Invalid::BadValue {
        key: "requested_blobs",
        expected: "a non-empty list of blob hashes",
    };
    let items: Vec<&str> = match v {
        Value::Array(items) if items.is_empty() => return Err(Invalid::EmptyRequestedBlobs),
        Value::Array(items) => {
            let mut strings = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(s) => strings.push(s.as_str()),
                    Value::Array(_) | Value::Object(_) => return Err(SHAPE),
                    _ => {}
                }
            }
            strings
        }
        Value::Object(keys) if !keys.is_empty() => keys.keys().map(String::as_str).collect(),
        // Single characters are never a blob hash.
        Value::String(s) if !s.is_empty() => Vec::new(),
        _ => return Err(SHAPE),
    };
    Ok(items.into_iter().filter_map(|s| s.parse().ok()).collect())
}

fn parse_hashes(key: &'static str, v: &Value) -> Result<Vec<BlobHash>, Invalid> {
    let items = v.as_array().ok_or(Invalid::BadValue {
        key,
        expected: "a list of blob hashes",
    })?;
    items.iter().map(|item| parse_hash(key, item)).collect()
}

fn parse_incoming(v: &Value) -> Result<Option<IncomingBlob>, Invalid> {
    const SHAPE: Invalid = Invalid::BadValue {
        key: "incoming_blob",
        expected: "an object with `blob_hash` and `length`",
    };
    let obj = v.as_object().ok_or(SHAPE)?;
    if obj.contains_key("error") {
        return Ok(None);
    }
    let blob_hash = parse_hash("incoming_blob", obj.get("blob_hash").ok_or(SHAPE)?)?;
    let length = obj.get("length").and_then(Value::as_u64).ok_or(SHAPE)?;
    Ok(Some(IncomingBlob { blob_hash, length }))
}

#[cfg(test)]
#[path = "exchange_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "exchange_pay_tests.rs"]
mod pay_tests;
