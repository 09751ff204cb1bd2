//! The tolerant, strict reader: any key order in, a validated descriptor out.
//!
//! Order of checks: size, JSON, field presence and types, then lbry-sdk's
//! rules 2–5 of docs/protocol.md §2.4 in its order, then our value rules (hex,
//! key and IV sizes, blob hashes, blob lengths), and last rule 6, the stream
//! hash. Nothing is re-serialized: the sd hash was taken over the raw bytes.

use super::{BlobInfo, SdError, StreamDescriptor, MAX_ENTRIES};
use crate::blob::{StreamKey, BLOCK, MAX_BLOB_SIZE};
use crate::hash::{BlobHash, SdHash};
use serde_json::{Map, Value};

/// One `blobs` entry with its types checked and its values not yet.
pub(super) struct RawEntry {
    pub(super) blob_hash: Option<Value>,
    pub(super) blob_num: u64,
    pub(super) iv: String,
    pub(super) length: u64,
}

/// The descriptor's fields with their types checked and values not yet.
pub(super) struct RawTop {
    pub(super) stream_name: String,
    pub(super) key_text: String,
    pub(super) suggested: String,
    pub(super) written_hash: String,
    pub(super) entries: Vec<RawEntry>,
}

pub(super) fn parse(bytes: &[u8], sd_hash: SdHash) -> Result<StreamDescriptor, SdError> {
    if bytes.len() > MAX_BLOB_SIZE {
        return Err(SdError::TooLarge(bytes.len()));
    }
    // A well-formed descriptor is read straight into its fields; whatever
    // that path does not take is read as a value tree, which says why.
    let RawTop {
        stream_name,
        key_text,
        suggested,
        written_hash,
        entries,
    } = match super::read_typed::top(bytes) {
        Some(top) => top,
        None => value_tree(bytes)?,
    };

    check_lbry_rules(&entries)?;

    let stream_name = decode_name("stream_name", &stream_name)?;
    let suggested_file_name = decode_name("suggested_file_name", &suggested)?;
    let key_bytes = hex::decode(&key_text).map_err(SdError::KeyHex)?;
    let key = StreamKey::new(&key_bytes).map_err(|_| SdError::KeyLength(key_bytes.len()))?;

    let mut blobs = Vec::with_capacity(entries.len().saturating_sub(1));
    let mut iv_texts = Vec::with_capacity(entries.len());
    let mut terminator_iv = [0; BLOCK];
    let last = entries.len().saturating_sub(1);
    for (index, entry) in entries.into_iter().enumerate() {
        let iv = decode_iv(index, &entry.iv)?;
        if index < last {
            blobs.push(data_blob(index, &entry, iv)?);
        } else {
            terminator_iv = iv;
        }
        iv_texts.push(entry.iv);
    }

    let sd = StreamDescriptor {
        stream_name,
        suggested_file_name,
        key,
        key_text,
        blobs,
        iv_texts,
        terminator_iv,
        stream_hash: written_hash,
        sd_hash,
    };
    let computed = sd.compute_stream_hash();
    if computed != sd.stream_hash {
        return Err(SdError::StreamHashMismatch {
            written: clip(&sd.stream_hash),
            computed,
        });
    }
    Ok(sd)
}

/// The fields of any JSON the typed path did not take, or the first thing
/// wrong with it.
pub(super) fn value_tree(bytes: &[u8]) -> Result<RawTop, SdError> {
    // serde_json checks UTF-8 and limits nesting depth, so hostile input
    // cannot exhaust the stack.
    let value: Value = serde_json::from_slice(bytes).map_err(|e| SdError::Json(e.to_string()))?;
    let mut top = match value {
        Value::Object(map) => map,
        other => return Err(SdError::NotAnObject(describe(&other))),
    };
    Ok(RawTop {
        stream_name: take_string(&mut top, "stream_name")?,
        key_text: take_string(&mut top, "key")?,
        suggested: take_string(&mut top, "suggested_file_name")?,
        written_hash: take_string(&mut top, "stream_hash")?,
        entries: take_entries(&mut top)?,
    })
}

/// lbry-sdk's rules 2–5 (docs/protocol.md §2.4), in its order.
fn check_lbry_rules(entries: &[RawEntry]) -> Result<(), SdError> {
    let Some((terminator, data)) = entries.split_last() else {
        return Err(SdError::NoTerminator);
    };
    let last = data.len();
    if terminator.length != 0 {
        return Err(SdError::LastNotTerminator {
            index: last,
            length: terminator.length,
        });
    }
    if let Some(index) = data.iter().position(|e| e.length == 0) {
        return Err(SdError::EmptyDataBlob { index });
    }
    if terminator.blob_hash.is_some() {
        return Err(SdError::TerminatorHasHash { index: last });
    }
    for (index, e) in entries.iter().enumerate() {
        if e.blob_num != index as u64 {
            return Err(SdError::BlobNumMismatch {
                index,
                blob_num: e.blob_num,
            });
        }
    }
    Ok(())
}

/// The value rules for one data blob (rules 2–5 have passed).
fn data_blob(index: usize, e: &RawEntry, iv: [u8; BLOCK]) -> Result<BlobInfo, SdError> {
    let hash_text = match &e.blob_hash {
        Some(Value::String(s)) => s,
        Some(other) => {
            return Err(SdError::EntryFieldType {
                index,
                field: "blob_hash",
                expected: "a string",
                got: describe(other),
            })
        }
        None => {
            return Err(SdError::EntryMissingField {
                index,
                field: "blob_hash",
            })
        }
    };
    let hash: BlobHash = hash_text
        .parse()
        .map_err(|error| SdError::BlobHash { index, error })?;
    if e.length > MAX_BLOB_SIZE as u64 {
        return Err(SdError::BlobTooLarge {
            index,
            length: e.length,
        });
    }
    if e.length % BLOCK as u64 != 0 {
        return Err(SdError::BlobLengthNotBlocks {
            index,
            length: e.length,
        });
    }
    // Both fit: blob_num == index < MAX_ENTRIES and length <= MAX_BLOB_SIZE.
    Ok(BlobInfo {
        blob_num: u32::try_from(e.blob_num).unwrap_or(u32::MAX),
        hash,
        iv,
        length: u32::try_from(e.length).unwrap_or(u32::MAX),
    })
}

fn take_entries(top: &mut Map<String, Value>) -> Result<Vec<RawEntry>, SdError> {
    let list = match top.remove("blobs") {
        Some(Value::Array(list)) => list,
        Some(other) => {
            return Err(SdError::FieldType {
                field: "blobs",
                expected: "an array",
                got: describe(&other),
            })
        }
        None => return Err(SdError::MissingField("blobs")),
    };
    if list.is_empty() {
        return Err(SdError::NoTerminator);
    }
    if list.len() > MAX_ENTRIES {
        return Err(SdError::TooManyBlobs {
            count: list.len(),
            max: MAX_ENTRIES,
        });
    }
    list.into_iter()
        .enumerate()
        .map(|(index, v)| match v {
            Value::Object(mut m) => Ok(RawEntry {
                blob_num: entry_uint(&mut m, index, "blob_num")?,
                iv: entry_string(&mut m, index, "iv")?,
                length: entry_uint(&mut m, index, "length")?,
                blob_hash: m.remove("blob_hash"),
            }),
            other => Err(SdError::EntryNotAnObject {
                index,
                got: describe(&other),
            }),
        })
        .collect()
}

fn take_string(top: &mut Map<String, Value>, field: &'static str) -> Result<String, SdError> {
    match top.remove(field) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(SdError::FieldType {
            field,
            expected: "a string",
            got: describe(&other),
        }),
        None => Err(SdError::MissingField(field)),
    }
}

fn entry_string(
    m: &mut Map<String, Value>,
    index: usize,
    field: &'static str,
) -> Result<String, SdError> {
    match m.remove(field) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(SdError::EntryFieldType {
            index,
            field,
            expected: "a string",
            got: describe(&other),
        }),
        None => Err(SdError::EntryMissingField { index, field }),
    }
}

/// A non-negative JSON integer. Floats (even `1.0`), negatives and booleans
/// are refused, although Python would compare some of them equal to ints.
fn entry_uint(
    m: &mut Map<String, Value>,
    index: usize,
    field: &'static str,
) -> Result<u64, SdError> {
    let v = m
        .remove(field)
        .ok_or(SdError::EntryMissingField { index, field })?;
    v.as_u64().ok_or_else(|| SdError::EntryFieldType {
        index,
        field,
        expected: "a non-negative integer",
        got: describe(&v),
    })
}

fn decode_name(field: &'static str, text: &str) -> Result<Vec<u8>, SdError> {
    hex::decode(text).map_err(|error| SdError::NameHex { field, error })
}

fn decode_iv(index: usize, text: &str) -> Result<[u8; BLOCK], SdError> {
    if text.len() != 2 * BLOCK {
        return Err(SdError::IvLength {
            index,
            chars: text.chars().count(),
        });
    }
    let mut iv = [0u8; BLOCK];
    hex::decode_to_slice(text, &mut iv).map_err(|error| SdError::IvHex { index, error })?;
    Ok(iv)
}

/// What a JSON value is, for error messages (numbers are shown, being short).
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {:?}", clip(s)),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// At most 100 characters of an untrusted string, for error messages.
fn clip(s: &str) -> String {
    match s.char_indices().nth(100) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_owned(),
    }
}
