//! A stream's blob as its descriptor describes it: checked for the length
//! the descriptor gives, then decrypted with the stream's key and its IV.
//!
//! PURE. Every reader of a stream (the mount, `get` from the store, from
//! peers or through a node) turns blobs into plaintext here, so a blob of
//! the wrong length or key fails the same way, with the same words,
//! whichever way it came.

use super::{decrypt, decrypt_in_place, BlobError, StreamKey, VerifiedBlob, BLOCK};
use crate::hash::BlobHash;

/// What decrypting one blob of a stream needs from the stream's descriptor
/// (`StreamDescriptor::described` makes one from a descriptor entry).
#[derive(Debug, Clone, Copy)]
pub struct Described<'a> {
    pub key: &'a StreamKey,
    pub iv: &'a [u8; BLOCK],
    /// Position in the stream, 0-based (for messages).
    pub num: u32,
    /// The encrypted length the descriptor gives.
    pub length: u32,
}

/// Why a verified blob does not give its stream's plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlainError {
    #[error("blob {num} ({hash}) is {got} bytes but the descriptor says {expected}")]
    Length {
        num: u32,
        hash: BlobHash,
        expected: u64,
        got: u64,
    },
    #[error("cannot decrypt blob {num} ({hash})")]
    Decrypt {
        num: u32,
        hash: BlobHash,
        #[source]
        source: BlobError,
    },
}

impl Described<'_> {
    /// Checks `blob` against the descriptor and decrypts it in place.
    pub fn decrypt(self, blob: VerifiedBlob) -> Result<Vec<u8>, PlainError> {
        self.check_length(&blob)?;
        let hash = *blob.hash();
        let mut data = blob.into_data();
        let n = decrypt_in_place(self.key, self.iv, &mut data).map_err(|e| self.failed(hash, e))?;
        data.truncate(n);
        Ok(data)
    }

    /// [`decrypt`](Self::decrypt) of a blob shared with others (the store
    /// may be writing it): the plaintext goes to a new buffer.
    pub fn decrypt_shared(self, blob: &VerifiedBlob) -> Result<Vec<u8>, PlainError> {
        self.check_length(blob)?;
        decrypt(self.key, self.iv, blob.data()).map_err(|e| self.failed(*blob.hash(), e))
    }

    /// A blob must have the length its descriptor gives.
    fn check_length(self, blob: &VerifiedBlob) -> Result<(), PlainError> {
        if blob.len() as u64 == u64::from(self.length) {
            return Ok(());
        }
        Err(PlainError::Length {
            num: self.num,
            hash: *blob.hash(),
            expected: self.length.into(),
            got: blob.len() as u64,
        })
    }

    fn failed(self, hash: BlobHash, source: BlobError) -> PlainError {
        PlainError::Decrypt {
            num: self.num,
            hash,
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::encrypt;
    use super::*;

    fn key() -> StreamKey {
        StreamKey::new(&[5; 16]).unwrap()
    }

    fn sealed(plain: &[u8]) -> VerifiedBlob {
        VerifiedBlob::from_bytes(encrypt(&key(), &[2; BLOCK], plain))
    }

    #[test]
    fn owned_and_shared_blobs_decrypt_alike() {
        let blob = sealed(b"some plaintext");
        let (k, iv) = (key(), [2; BLOCK]);
        let d = Described {
            key: &k,
            iv: &iv,
            num: 3,
            length: blob.len() as u32,
        };
        assert_eq!(d.decrypt_shared(&blob).unwrap(), b"some plaintext");
        assert_eq!(d.decrypt(blob).unwrap(), b"some plaintext");
    }

    #[test]
    fn a_wrong_length_or_key_is_named_with_the_blob() {
        let blob = sealed(b"abc");
        let hash = *blob.hash();
        let (k, iv) = (key(), [2; BLOCK]);
        let d = Described {
            key: &k,
            iv: &iv,
            num: 7,
            length: 32,
        };
        let e = d.decrypt_shared(&blob).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("blob 7 ({hash}) is 16 bytes but the descriptor says 32")
        );
        let other = StreamKey::new(&[9; 16]).unwrap();
        let d = Described {
            key: &other,
            length: 16,
            ..d
        };
        let e = d.decrypt(blob).unwrap_err();
        assert_eq!(e.to_string(), format!("cannot decrypt blob 7 ({hash})"));
        let cause = std::error::Error::source(&e).map(ToString::to_string);
        assert_eq!(cause, Some(BlobError::Padding.to_string()));
    }
}
