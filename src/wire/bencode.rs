//! LBRY's flavour of bencode, the encoding of every DHT datagram.
//!
//! It differs from BitTorrent's in two ways that matter on the wire:
//! dictionary keys may be integers as well as byte strings (a datagram is
//! `{0: type, 1: rpc_id, ...}`), and Python's decoder does not consume the
//! closing `e` of a nested dictionary, so a value that *ends in* a dict (a
//! dict, or a list whose last element ends in a dict) is only read correctly
//! when it is the last element of its container (the nested-dict quirk of docs/protocol.md §4.2).
//!
//! * The encoder is canonical (ints before byte strings, each sorted like
//!   Python sorts them) and refuses, with [`EncodeError::DictNotLast`], any
//!   shape a Python peer would misread. Python cannot sort a dict that mixes
//!   int and byte-string keys at all; we put ints first so such a dict still
//!   has one encoding, though no protocol message uses one.
//! * The decoder reads standard bencode correctly, including shapes Python
//!   rejects such as `d1:ald1:bi1ee1:xe1:zi5ee` (being more lenient when
//!   receiving costs nothing; every message Python sends decodes the same).
//!   It is strict and total otherwise: no leading zeros, no `-0`, no `+`,
//!   no whitespace in numbers (Python's `int()` would take those, but no
//!   encoder emits them), integers must fit an `i64`, nesting is capped at
//!   [`MAX_DEPTH`], duplicate keys (Python keeps the last) and non-scalar
//!   keys are refused. Bytes after the first complete value are ignored, as
//!   Python ignores them.
//!
//! A UDP datagram is always whole, so running out of bytes is
//! [`Invalid::Truncated`], not "incomplete": more bytes will never come.
//!
//! PURE: bytes in, values out.

use std::collections::BTreeMap;

/// Deepest nesting of lists and dicts the decoder accepts. Datagrams nest at
/// most four levels (findNode result: dict, list, triple); the cap keeps a
/// hostile `llll…` from exhausting the stack.
pub const MAX_DEPTH: usize = 32;

/// A dictionary key: LBRY uses integer keys for datagram fields and byte
/// strings everywhere else. The derived order (ints first, each numerically
/// or bytewise) is the encoding order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    Int(i64),
    Bytes(Vec<u8>),
}

impl From<i64> for Key {
    fn from(i: i64) -> Self {
        Key::Int(i)
    }
}

impl From<&[u8]> for Key {
    fn from(b: &[u8]) -> Self {
        Key::Bytes(b.to_vec())
    }
}

impl From<&str> for Key {
    fn from(s: &str) -> Self {
        Key::Bytes(s.as_bytes().to_vec())
    }
}

/// A bencoded value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Dict(BTreeMap<Key, Value>),
}

impl Value {
    /// A byte-string value.
    pub fn bytes(b: impl AsRef<[u8]>) -> Self {
        Value::Bytes(b.as_ref().to_vec())
    }
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }
    pub fn as_dict(&self) -> Option<&BTreeMap<Key, Value>> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }
    /// Whether Python's decoder leaves this value's last `e` unconsumed, so
    /// it must be the last element of whatever contains it.
    pub fn ends_in_dict(&self) -> bool {
        match self {
            Value::Dict(_) => true,
            Value::List(l) => l.last().is_some_and(Value::ends_in_dict),
            _ => false,
        }
    }
}

/// Why bytes are not bencode we accept. `at` is a byte offset into the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("no bytes to decode")]
    Empty,
    #[error("input ends inside a value")]
    Truncated,
    #[error("unexpected byte {byte:#04x} at {at}")]
    UnexpectedByte { at: usize, byte: u8 },
    #[error("malformed number at {at} (digits only, no leading zeros, no -0)")]
    BadNumber { at: usize },
    #[error("number at {at} does not fit 64 bits")]
    Overflow { at: usize },
    #[error("nesting deeper than {MAX_DEPTH} at {at}")]
    TooDeep { at: usize },
    #[error("dict key at {at} is not an integer or a byte string")]
    BadKey { at: usize },
    #[error("duplicate dict key at {at}")]
    DuplicateKey { at: usize },
}

/// Why a value cannot be sent to a Python peer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error(
        "a dict (or a list ending in one) is not last in its container; Python would misread it"
    )]
    DictNotLast,
}

/// Decodes the first value in `buf`; bytes after it are ignored.
pub fn decode(buf: &[u8]) -> Result<Value, Invalid> {
    decode_prefix(buf).map(|(v, _)| v)
}

/// Decodes the first value in `buf` and says how many bytes it used.
pub fn decode_prefix(buf: &[u8]) -> Result<(Value, usize), Invalid> {
    if buf.is_empty() {
        return Err(Invalid::Empty);
    }
    let mut d = Decoder { buf, pos: 0 };
    let v = d.value(0)?;
    Ok((v, d.pos))
}

struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Decoder<'_> {
    fn peek(&self) -> Result<u8, Invalid> {
        self.buf.get(self.pos).copied().ok_or(Invalid::Truncated)
    }

    fn value(&mut self, depth: usize) -> Result<Value, Invalid> {
        let at = self.pos;
        match self.peek()? {
            b'i' => {
                self.pos += 1;
                let n = self.number(b'e', true)?;
                Ok(Value::Int(n))
            }
            b'0'..=b'9' => self.byte_string().map(Value::Bytes),
            b'l' | b'd' if depth >= MAX_DEPTH => Err(Invalid::TooDeep { at }),
            b'l' => {
                self.pos += 1;
                let mut items = Vec::new();
                while self.peek()? != b'e' {
                    items.push(self.value(depth + 1)?);
                }
                self.pos += 1;
                Ok(Value::List(items))
            }
            b'd' => {
                self.pos += 1;
                let mut map = BTreeMap::new();
                while self.peek()? != b'e' {
                    let key_at = self.pos;
                    let key = match self.value(depth + 1)? {
                        Value::Int(i) => Key::Int(i),
                        Value::Bytes(b) => Key::Bytes(b),
                        _ => return Err(Invalid::BadKey { at: key_at }),
                    };
                    let value = self.value(depth + 1)?;
                    if map.insert(key, value).is_some() {
                        return Err(Invalid::DuplicateKey { at: key_at });
                    }
                }
                self.pos += 1;
                Ok(Value::Dict(map))
            }
            byte => Err(Invalid::UnexpectedByte { at, byte }),
        }
    }

    fn byte_string(&mut self) -> Result<Vec<u8>, Invalid> {
        let at = self.pos;
        let len = self.number(b':', false)?;
        let len = usize::try_from(len).map_err(|_| Invalid::Overflow { at })?;
        let end = self.pos.checked_add(len).ok_or(Invalid::Overflow { at })?;
        let bytes = self.buf.get(self.pos..end).ok_or(Invalid::Truncated)?;
        self.pos = end;
        Ok(bytes.to_vec())
    }

    /// Reads a decimal number up to `terminator` (consumed). Accumulates
    /// toward the sign so that `i64::MIN` is representable.
    fn number(&mut self, terminator: u8, signed: bool) -> Result<i64, Invalid> {
        let at = self.pos;
        let negative = signed && self.peek()? == b'-';
        if negative {
            self.pos += 1;
        }
        let digits_at = self.pos;
        let mut n: i64 = 0;
        loop {
            let b = self.peek()?;
            if b == terminator {
                break;
            }
            let digit = match b {
                b'0'..=b'9' => i64::from(b - b'0'),
                _ => return Err(Invalid::BadNumber { at }),
            };
            let step = n.checked_mul(10);
            n = if negative {
                step.and_then(|m| m.checked_sub(digit))
            } else {
                step.and_then(|m| m.checked_add(digit))
            }
            .ok_or(Invalid::Overflow { at })?;
            self.pos += 1;
        }
        let digits = &self.buf[digits_at..self.pos];
        let leading_zero = digits.len() > 1 && digits[0] == b'0';
        let minus_zero = negative && digits == b"0";
        if digits.is_empty() || leading_zero || minus_zero {
            return Err(Invalid::BadNumber { at });
        }
        self.pos += 1;
        Ok(n)
    }
}

/// Encodes `v` canonically, refusing shapes Python would misread.
pub fn encode(v: &Value) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    encode_into(v, &mut out)?;
    Ok(out)
}

/// Appends the encoding of `v` to `out`. On error `out` holds a partial
/// encoding and must be discarded.
pub fn encode_into(v: &Value, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    put_value(v, true, out)
}

/// Standard bencode (BitTorrent's, BEP 3): the same canonical encoding with
/// no Python shape rule, as every BitTorrent message and metainfo needs (a
/// KRPC query's `a` dict is not its last key).
pub fn encode_standard(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Infallible: the only error is the Python shape rule, which is off.
    let _ = put_value(v, false, &mut out);
    out
}

fn put_value(v: &Value, python: bool, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    match v {
        Value::Int(i) => out.extend_from_slice(format!("i{i}e").as_bytes()),
        Value::Bytes(b) => put_bytes(b, out),
        Value::List(items) => {
            out.push(b'l');
            for (i, item) in items.iter().enumerate() {
                if python && i + 1 < items.len() && item.ends_in_dict() {
                    return Err(EncodeError::DictNotLast);
                }
                put_value(item, python, out)?;
            }
            out.push(b'e');
        }
        Value::Dict(map) => {
            out.push(b'd');
            for (i, (key, value)) in map.iter().enumerate() {
                if python && i + 1 < map.len() && value.ends_in_dict() {
                    return Err(EncodeError::DictNotLast);
                }
                match key {
                    Key::Int(k) => out.extend_from_slice(format!("i{k}e").as_bytes()),
                    Key::Bytes(k) => put_bytes(k, out),
                }
                put_value(value, python, out)?;
            }
            out.push(b'e');
        }
    }
    Ok(())
}

fn put_bytes(b: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(b);
}

#[cfg(test)]
#[path = "bencode_tests.rs"]
pub(crate) mod tests;
