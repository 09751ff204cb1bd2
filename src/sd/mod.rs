//! Stream descriptors (the "sd blob", docs/protocol.md §2): the JSON that names a
//! stream's key, its encrypted data blobs and their IVs.
//!
//! This module owns three things:
//! - the writer, which reproduces lbry-sdk's `json.dumps(sort_keys=True)` byte
//!   for byte (and its legacy key order), because the sd hash that names a
//!   stream is the SHA-384 of those exact bytes;
//! - the reader, which accepts any key order, never re-serializes to check
//!   anything, applies lbry-sdk's validation rules in order (docs/protocol.md §2.4) and then our
//!   own safety rules (types, hex, sizes), and never panics on any input;
//! - file names: lbry-sdk's `sanitize_file_name` for writing, and
//!   [`StreamDescriptor::file_name`], a name that is always safe to put in a
//!   directory listing, for reading.
//!
//! PURE: bytes in, typed values out. No files, sockets or clock, so every rule
//! is a fast unit test and the parser can be fuzzed.

mod error;
mod names;
mod read;
mod read_typed;
mod write;

#[cfg(test)]
mod tests;

pub use error::SdError;
pub use names::{sanitize_file_name, sanitize_file_name_or};

use crate::blob::{Described, StreamKey, BLOCK, MAX_BLOB_SIZE};
use crate::hash::{BlobHash, SdHash};
use crate::sha384::Sha384;

/// Most entries (data blobs plus the terminator) a descriptor may list.
/// lbry-sdk has no limit, but an sd blob is at most 2 MiB, which cannot
/// describe anywhere near this many real blobs.
pub const MAX_ENTRIES: usize = 100_000;

/// One data blob of a stream (the terminator is not a `BlobInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlobInfo {
    /// Position in the stream, 0-based.
    pub blob_num: u32,
    /// SHA-384 of the encrypted bytes.
    pub hash: BlobHash,
    /// The AES-CBC IV of this blob.
    pub iv: [u8; BLOCK],
    /// Encrypted length: 1..=2097152 and a multiple of 16.
    pub length: u32,
}

/// A validated stream descriptor.
///
/// Hex fields are kept as written (`key`, every `iv`) so that the stream hash
/// and [`to_bytes`](Self::to_bytes) use exactly what the descriptor said, as
/// lbry-sdk does.
#[derive(Clone, PartialEq, Eq)]
pub struct StreamDescriptor {
    stream_name: Vec<u8>,
    suggested_file_name: Vec<u8>,
    key: StreamKey,
    key_text: String,
    blobs: Vec<BlobInfo>,
    /// One IV text per data blob, then the terminator's.
    iv_texts: Vec<String>,
    terminator_iv: [u8; BLOCK],
    stream_hash: String,
    sd_hash: SdHash,
}

impl StreamDescriptor {
    /// Builds a descriptor for a new stream like lbry-sdk's `create_stream`:
    /// `stream_name` is `file_name` (which must be a base name, as lbry-sdk
    /// takes `os.path.basename`), `suggested_file_name` is
    /// [`sanitize_file_name`]`(file_name)`, and the stream hash is computed
    /// (docs/protocol.md §2.3).
    ///
    /// `blobs` must be numbered 0, 1, 2, ... with lengths in 1..=2097152 that
    /// are multiples of 16 (what `blob::encrypt` produces); otherwise readers,
    /// this one included, refuse the result.
    pub fn new(
        file_name: &str,
        key: StreamKey,
        blobs: Vec<BlobInfo>,
        terminator_iv: [u8; BLOCK],
    ) -> Self {
        debug_assert!(blobs.iter().enumerate().all(|(i, b)| {
            b.blob_num as usize == i
                && b.length > 0
                && b.length as usize <= MAX_BLOB_SIZE
                && b.length as usize % BLOCK == 0
        }));
        let iv_texts = blobs
            .iter()
            .map(|b| hex::encode(b.iv))
            .chain(std::iter::once(hex::encode(terminator_iv)))
            .collect();
        let mut sd = Self {
            stream_name: file_name.as_bytes().to_vec(),
            suggested_file_name: sanitize_file_name(file_name).into_bytes(),
            key_text: hex::encode(key.as_bytes()),
            key,
            blobs,
            iv_texts,
            terminator_iv,
            stream_hash: String::new(),
            sd_hash: SdHash::from_bytes([0; 48]),
        };
        sd.stream_hash = sd.compute_stream_hash();
        sd.sd_hash = SdHash::digest(&sd.to_bytes());
        sd
    }

    /// Parses and validates a descriptor; see [`SdError`] for every rule.
    /// Any key order is accepted. Unknown keys are ignored and, as in Python,
    /// the last of duplicate keys wins. `stream_type` is not checked (lbry-sdk
    /// does not check it either).
    pub fn parse(bytes: &[u8]) -> Result<Self, SdError> {
        read::parse(bytes, SdHash::digest(bytes))
    }

    /// Like [`parse`](Self::parse), after checking that the SHA-384 of the raw
    /// bytes is `expected`.
    pub fn parse_verified(bytes: &[u8], expected: &SdHash) -> Result<Self, SdError> {
        let actual = SdHash::digest(bytes);
        if actual != *expected {
            return Err(SdError::SdHashMismatch {
                expected: *expected,
                actual,
            });
        }
        read::parse(bytes, actual)
    }

    /// The name of this descriptor's sd blob: the SHA-384 of the bytes it was
    /// parsed from, or of [`to_bytes`](Self::to_bytes) for one made by
    /// [`new`](Self::new). (A legacy-layout descriptor therefore keeps its
    /// legacy name.)
    pub fn sd_hash(&self) -> SdHash {
        self.sd_hash
    }

    /// The data blobs in order; the terminator is not included.
    pub fn blobs(&self) -> &[BlobInfo] {
        &self.blobs
    }

    pub fn key(&self) -> &StreamKey {
        &self.key
    }

    /// What decrypting blob `info` of this stream needs (`Described::decrypt`).
    pub fn described<'a>(&'a self, info: &'a BlobInfo) -> Described<'a> {
        Described {
            key: &self.key,
            iv: &info.iv,
            num: info.blob_num,
            length: info.length,
        }
    }

    /// 96 lowercase hex characters.
    pub fn stream_hash(&self) -> &str {
        &self.stream_hash
    }

    /// The original file name, decoded from hex (raw bytes, normally UTF-8).
    pub fn stream_name(&self) -> &[u8] {
        &self.stream_name
    }

    /// The publisher's sanitized file name, decoded from hex (raw bytes).
    pub fn suggested_file_name(&self) -> &[u8] {
        &self.suggested_file_name
    }

    /// The terminator's IV (never used to encrypt anything).
    pub fn terminator_iv(&self) -> [u8; BLOCK] {
        self.terminator_iv
    }

    /// Sum of the data blobs' encrypted lengths.
    pub fn encrypted_size(&self) -> u64 {
        self.blobs.iter().map(|b| u64::from(b.length)).sum()
    }

    /// A file name that is safe to create in any directory:
    /// 1. take the decoded `suggested_file_name`, or `stream_name` if that is empty;
    /// 2. decode it as UTF-8, replacing invalid bytes with U+FFFD;
    /// 3. replace `/` and every control character (NUL included) with `_`;
    /// 4. if longer than 255 bytes, shorten it on a character boundary, keeping
    ///    the extension (from the last dot not at the start) when it is at most
    ///    32 bytes;
    /// 5. if the result is empty, `.` or `..`, use `lbry-<first 16 hex
    ///    characters of the stream hash>` instead.
    ///
    /// Two streams may get the same name; the caller's directory layout
    /// (one directory per sd hash) keeps them apart.
    pub fn file_name(&self) -> String {
        names::safe_file_name(
            &self.suggested_file_name,
            &self.stream_name,
            &self.stream_hash,
        )
    }

    /// The name `get` writes under when the user gave none: [`file_name`](Self::file_name)
    /// without leading dots, so it is never a hidden file (`.bashrc`
    /// becomes `bashrc`); the stream-hash fallback if nothing is left.
    pub fn download_name(&self) -> String {
        names::visible_file_name(
            &self.suggested_file_name,
            &self.stream_name,
            &self.stream_hash,
        )
    }

    /// docs/protocol.md §2.3 over this descriptor's fields: names re-hexlified in lowercase,
    /// key and IVs as written.
    fn compute_stream_hash(&self) -> String {
        let data = self.blobs.iter().map(|b| Entry {
            blob_hash: Some(b.hash),
            blob_num: u64::from(b.blob_num),
            length: u64::from(b.length),
        });
        let terminator = Entry {
            blob_hash: None,
            blob_num: self.blobs.len() as u64,
            length: 0,
        };
        stream_hash(
            &hex::encode(&self.stream_name),
            &self.key_text,
            &hex::encode(&self.suggested_file_name),
            data.chain(std::iter::once(terminator))
                .zip(self.iv_texts.iter().map(String::as_str)),
        )
    }
}

impl std::fmt::Debug for StreamDescriptor {
    /// Leaves the key out: descriptors end up in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamDescriptor")
            .field("sd_hash", &self.sd_hash)
            .field("stream_hash", &self.stream_hash)
            .field("file_name", &self.file_name())
            .field("blobs", &self.blobs.len())
            .field("encrypted_size", &self.encrypted_size())
            .finish()
    }
}

/// One `blobs` entry as the stream hash sees it (the IV text travels beside it).
struct Entry {
    blob_hash: Option<BlobHash>,
    blob_num: u64,
    length: u64,
}

/// `calculate_stream_hash` (docs/protocol.md §2.3): every string exactly as given, integers in
/// decimal, no separators.
fn stream_hash<'a>(
    stream_name_hex: &str,
    key_text: &str,
    suggested_hex: &str,
    entries: impl Iterator<Item = (Entry, &'a str)>,
) -> String {
    let mut blobs_sum = Sha384::new();
    for (entry, iv_text) in entries {
        let mut bh = Sha384::new();
        if entry.length != 0 {
            if let Some(h) = &entry.blob_hash {
                // The lowercase hex the descriptor gave (the reader takes no other).
                let mut text = [0u8; 2 * crate::hash::HASH_LEN];
                if hex::encode_to_slice(h.as_bytes(), &mut text).is_ok() {
                    bh.update(text);
                }
            }
        }
        bh.update(entry.blob_num.to_string().as_bytes());
        bh.update(iv_text.as_bytes());
        bh.update(entry.length.to_string().as_bytes());
        blobs_sum.update(bh.finalize());
    }
    let mut h = Sha384::new();
    h.update(stream_name_hex.as_bytes());
    h.update(key_text.as_bytes());
    h.update(suggested_hex.as_bytes());
    h.update(blobs_sum.finalize());
    hex::encode(h.finalize())
}
