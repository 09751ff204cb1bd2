//! Why a stream descriptor was refused: one variant per rule.

use crate::hash::{HashError, SdHash};

/// Why bytes are not an acceptable stream descriptor.
///
/// `blobs[i]` in a message is the position in the JSON `blobs` array; once
/// rule 5 has passed it is also the entry's `blob_num`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SdError {
    #[error("sd blob is {0} bytes, more than the 2 MiB blob maximum")]
    TooLarge(usize),
    #[error("sd blob hash is {actual}, expected {expected}")]
    SdHashMismatch { expected: SdHash, actual: SdHash },
    #[error("not valid UTF-8 JSON: {0}")]
    Json(String),
    #[error("the top level must be a JSON object, got {0}")]
    NotAnObject(String),
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    #[error("field `{field}` must be {expected}, got {got}")]
    FieldType {
        field: &'static str,
        expected: &'static str,
        got: String,
    },
    #[error("`blobs` is empty: a descriptor ends with a stream terminator")]
    NoTerminator,
    #[error("`blobs` has {count} entries, more than the {max} allowed")]
    TooManyBlobs { count: usize, max: usize },
    #[error("blobs[{index}] must be a JSON object, got {got}")]
    EntryNotAnObject { index: usize, got: String },
    #[error("blobs[{index}] has no `{field}`")]
    EntryMissingField { index: usize, field: &'static str },
    #[error("blobs[{index}].{field} must be {expected}, got {got}")]
    EntryFieldType {
        index: usize,
        field: &'static str,
        expected: &'static str,
        got: String,
    },
    #[error("the last entry, blobs[{index}], has length {length}: a descriptor must end with a zero-length terminator")]
    LastNotTerminator { index: usize, length: u64 },
    #[error(
        "blobs[{index}] has length 0 but is not the last entry (only the terminator may be empty)"
    )]
    EmptyDataBlob { index: usize },
    #[error("the stream terminator, blobs[{index}], must not have a `blob_hash`")]
    TerminatorHasHash { index: usize },
    #[error("blobs[{index}] has blob_num {blob_num}, expected {index} (entries must be numbered 0, 1, 2, ...)")]
    BlobNumMismatch { index: usize, blob_num: u64 },
    #[error("field `{field}` is not valid hex: {error}")]
    NameHex {
        field: &'static str,
        error: hex::FromHexError,
    },
    #[error("field `key` is not valid hex: {0}")]
    KeyHex(hex::FromHexError),
    #[error("field `key` is {0} bytes, expected an AES key of 16, 24 or 32 bytes")]
    KeyLength(usize),
    #[error("blobs[{index}].iv is {chars} characters, expected 32 hex characters (16 bytes)")]
    IvLength { index: usize, chars: usize },
    #[error("blobs[{index}].iv is not valid hex: {error}")]
    IvHex {
        index: usize,
        error: hex::FromHexError,
    },
    #[error("blobs[{index}].blob_hash is not a valid blob hash: {error}")]
    BlobHash { index: usize, error: HashError },
    #[error("blobs[{index}] has length {length}, more than the 2097152-byte blob maximum")]
    BlobTooLarge { index: usize, length: u64 },
    #[error("blobs[{index}] has length {length}, not a multiple of the 16-byte AES block")]
    BlobLengthNotBlocks { index: usize, length: u64 },
    #[error("`stream_hash` is {written} but the descriptor's fields hash to {computed}")]
    StreamHashMismatch { written: String, computed: String },
}
