//! SHA-384 names: `BlobHash` for blobs, `SdHash` for stream descriptors,
//! `NodeId` for DHT nodes and keys.
//!
//! All are 48 raw bytes whose text form is 96 *lowercase* hex characters,
//! exactly what lbry-sdk accepts (`is_valid_blobhash`); uppercase is refused so
//! that a hash has one spelling on disk, on the wire and in the mount. The
//! types are distinct so an sd hash cannot be passed where a data blob is meant
//! by accident; `SdHash::as_blob` names the sd blob itself in the store.

use crate::sha384::Sha384;
use std::fmt;
use std::str::FromStr;

/// Length of a SHA-384 digest in bytes.
pub const HASH_LEN: usize = 48;
/// Length of a hash's text form.
pub const HASH_HEX_LEN: usize = 96;

/// Why a text did not parse as a hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    #[error("a hash is 96 hex characters, got {0}")]
    Length(usize),
    #[error("invalid character {ch:?} at position {pos} (a hash is lowercase hex: 0-9, a-f)")]
    Char { ch: char, pos: usize },
}

/// Parses 96 lowercase hex characters into 48 bytes.
pub fn parse_hex48(s: &str) -> Result<[u8; HASH_LEN], HashError> {
    if s.len() != HASH_HEX_LEN {
        return Err(HashError::Length(s.chars().count()));
    }
    let mut out = [0u8; HASH_LEN];
    let bytes = s.as_bytes();
    // Fast path, branch-free (a descriptor has one hash per 2 MiB of file):
    // an invalid character has the high bit set in the table.
    let mut bad = 0u8;
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let (hi, lo) = (NIBBLE[usize::from(pair[0])], NIBBLE[usize::from(pair[1])]);
        bad |= hi | lo;
        *o = (hi << 4) | (lo & 0x0f);
    }
    if bad & 0x80 == 0 {
        return Ok(out);
    }
    // Slow path: the first invalid character, for the error.
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let hi = nibble(pair[0]).ok_or_else(|| bad_char(s, 2 * i))?;
        let lo = nibble(pair[1]).ok_or_else(|| bad_char(s, 2 * i + 1))?;
        out[i] = (hi << 4) | lo;
    }
    Ok(out)
}

/// Each byte's value as a lowercase hex digit, 0xff where it is none.
static NIBBLE: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

fn bad_char(s: &str, byte_pos: usize) -> HashError {
    // `s` has 96 bytes but may hold multi-byte characters: report the character there.
    let ch = s
        .get(byte_pos..)
        .and_then(|t| t.chars().next())
        .unwrap_or(char::REPLACEMENT_CHARACTER);
    HashError::Char { ch, pos: byte_pos }
}

macro_rules! hash_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; HASH_LEN]);

        impl $name {
            /// Wraps 48 raw bytes.
            pub const fn from_bytes(bytes: [u8; HASH_LEN]) -> Self {
                Self(bytes)
            }
            /// The SHA-384 of `data`.
            pub fn digest(data: &[u8]) -> Self {
                Self(Sha384::digest(data))
            }
            /// Finishes a running SHA-384.
            pub fn from_hasher(h: Sha384) -> Self {
                Self(h.finalize())
            }
            /// The 48 raw bytes (the DHT key form).
            pub fn as_bytes(&self) -> &[u8; HASH_LEN] {
                &self.0
            }
            /// 96 lowercase hex characters.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
            /// The first 8 hex characters, for logs.
            pub fn short(&self) -> String {
                hex::encode(&self.0[..4])
            }
        }

        impl FromStr for $name {
            type Err = HashError;
            fn from_str(s: &str) -> Result<Self, HashError> {
                parse_hex48(s).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.short())
            }
        }
    };
}

hash_type!(
    /// The name of a blob: SHA-384 of its (encrypted) bytes.
    BlobHash
);
hash_type!(
    /// The name of a stream: SHA-384 of its stream descriptor's exact bytes.
    SdHash
);

hash_type!(
    /// A DHT node id (48 bytes, like every key in LBRY's Kademlia).
    NodeId
);

impl NodeId {
    /// The DHT key under which peers for a blob are announced.
    pub fn of_blob(blob: &BlobHash) -> Self {
        Self(blob.0)
    }
    /// XOR distance to `other`, comparable as a big-endian number.
    pub fn distance(&self, other: &NodeId) -> [u8; HASH_LEN] {
        let mut d = [0u8; HASH_LEN];
        for (i, b) in d.iter_mut().enumerate() {
            *b = self.0[i] ^ other.0[i];
        }
        d
    }
}

impl SdHash {
    /// The sd blob is stored and transferred like any other blob.
    pub fn as_blob(&self) -> BlobHash {
        BlobHash(self.0)
    }
}

impl From<BlobHash> for SdHash {
    fn from(b: BlobHash) -> Self {
        SdHash(b.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONES: &str = "7f5ab2def99f0ddd008da71db3a3772135f4002b19b7605840ed1034c8955431bd7079549e65e6b2a3b9c17c773073ed";

    #[test]
    fn digest_matches_protocol_vector_c() {
        let data = vec![b'1'; 2_097_151];
        assert_eq!(BlobHash::digest(&data).to_hex(), ONES);
    }

    #[test]
    fn parse_round_trips_lowercase() {
        let h: BlobHash = ONES.parse().unwrap();
        assert_eq!(h.to_string(), ONES);
        assert_eq!(h.short(), "7f5ab2de");
        assert_eq!(format!("{h:?}"), "BlobHash(7f5ab2de)");
    }

    #[test]
    fn uppercase_is_rejected_with_position() {
        let up = ONES.replacen('f', "F", 1);
        assert_eq!(
            up.parse::<BlobHash>(),
            Err(HashError::Char { ch: 'F', pos: 1 })
        );
    }

    #[test]
    fn wrong_length_and_non_hex_are_rejected() {
        assert_eq!("abc".parse::<SdHash>(), Err(HashError::Length(3)));
        let comma = format!(",{}", &ONES[1..]);
        assert!(matches!(
            comma.parse::<SdHash>(),
            Err(HashError::Char { ch: ',', pos: 0 })
        ));
        // A multi-byte character keeps the byte length at 96 but is still refused.
        let uni = format!("é{}", &ONES[2..]);
        assert_eq!(uni.len(), 96);
        assert!(matches!(
            uni.parse::<SdHash>(),
            Err(HashError::Char { ch: 'é', .. })
        ));
    }

    #[test]
    fn every_character_is_judged_as_a_lowercase_hex_digit_at_any_place() {
        for pos in [0, 1, 58, 95] {
            for c in (0u8..128).map(char::from) {
                let mut s = ONES.to_owned();
                s.replace_range(pos..pos + 1, c.encode_utf8(&mut [0; 4]));
                let parsed = s.parse::<BlobHash>();
                match c.to_digit(16).filter(|_| !c.is_ascii_uppercase()) {
                    Some(v) => {
                        let b = parsed.expect("a hex digit").as_bytes()[pos / 2];
                        let nib = if pos % 2 == 0 { b >> 4 } else { b & 0x0f };
                        assert_eq!(u32::from(nib), v, "{c:?} at {pos}");
                    }
                    None => assert_eq!(
                        parsed,
                        Err(HashError::Char { ch: c, pos }),
                        "{c:?} at {pos}"
                    ),
                }
            }
        }
    }

    #[test]
    fn error_messages_say_what_is_wrong() {
        let e = "xyz".parse::<BlobHash>().unwrap_err().to_string();
        assert!(e.contains("96 hex characters"), "{e}");
    }
}
