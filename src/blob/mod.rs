//! One blob: AES-CBC with PKCS7, named by the SHA-384 of its encrypted bytes.
//!
//! PURE: bytes in, bytes out. No files, sockets or clock, so every rule of
//! docs/protocol.md §1 is checked by fast unit tests.
//!
//! Files: the cipher and keys here; [`VerifiedBlob`] and [`BlobReceiver`]
//! (a blob's bytes checked against its name) in `verified`; a stream's blob
//! checked against its descriptor entry and decrypted in `described`.
//!
//! Writers always use AES-128 (a 16-byte key, like lbry-sdk); readers accept
//! 16, 24 or 32-byte keys because lbry-sdk does not enforce the key size.

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};

mod described;
pub mod pool;
mod verified;

pub use described::{Described, PlainError};
pub use verified::{BlobReceiver, VerifiedBlob};

/// Largest encrypted blob, padding included (`MAX_BLOB_SIZE` in lbry-sdk).
pub const MAX_BLOB_SIZE: usize = 2 * 1024 * 1024;
/// Plaintext bytes per full blob: one less than the maximum so PKCS7 adds one byte.
pub const PLAIN_CHUNK: usize = MAX_BLOB_SIZE - 1;
/// AES block size; also the IV length.
pub const BLOCK: usize = 16;

/// Why a blob could not be decrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    #[error("AES key must be 16, 24 or 32 bytes, got {0}")]
    KeyLength(usize),
    #[error("encrypted blob length {0} is not a positive multiple of 16")]
    CipherLength(usize),
    #[error("encrypted blob is {0} bytes, more than the 2 MiB maximum")]
    TooLarge(usize),
    #[error("bad PKCS7 padding (wrong key or IV, or a corrupt blob)")]
    Padding,
}

/// A stream key as the descriptor gives it.
#[derive(Clone, PartialEq, Eq)]
pub struct StreamKey(Vec<u8>);

impl StreamKey {
    /// Accepts the AES key sizes lbry-sdk can produce.
    pub fn new(bytes: &[u8]) -> Result<Self, BlobError> {
        match bytes.len() {
            16 | 24 | 32 => Ok(Self(bytes.to_vec())),
            n => Err(BlobError::KeyLength(n)),
        }
    }
    /// A fresh random AES-128 key, as lbry-sdk makes one per stream.
    pub fn random() -> Self {
        Self(rand::random::<[u8; 16]>().to_vec())
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for StreamKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StreamKey({} bytes)", self.0.len())
    }
}

/// Encrypted length of a plaintext of `plain_len` bytes: PKCS7 always adds 1..=16.
pub const fn encrypted_len(plain_len: usize) -> usize {
    (plain_len / BLOCK + 1) * BLOCK
}

/// Encrypts one chunk (at most `PLAIN_CHUNK` bytes for a valid blob).
pub fn encrypt(key: &StreamKey, iv: &[u8; BLOCK], plain: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; encrypted_len(plain.len())];
    let n = match key.0.len() {
        16 => enc::<aes::Aes128>(&key.0, iv, plain, &mut out),
        24 => enc::<aes::Aes192>(&key.0, iv, plain, &mut out),
        _ => enc::<aes::Aes256>(&key.0, iv, plain, &mut out),
    };
    debug_assert_eq!(n, out.len());
    out
}

fn enc<C>(key: &[u8], iv: &[u8; BLOCK], plain: &[u8], out: &mut [u8]) -> usize
where
    C: BlockEncryptMut + aes::cipher::BlockCipher + aes::cipher::KeyInit,
{
    // The key length was checked by `StreamKey::new`; `out` is sized by `encrypted_len`.
    cbc::Encryptor::<C>::new_from_slices(key, iv)
        .map(|e| {
            e.encrypt_padded_b2b_mut::<Pkcs7>(plain, out)
                .map_or(0, |c| c.len())
        })
        .unwrap_or(0)
}

/// Decrypts one blob and strips its padding.
pub fn decrypt(key: &StreamKey, iv: &[u8; BLOCK], cipher: &[u8]) -> Result<Vec<u8>, BlobError> {
    let mut buf = pool::take(cipher.len());
    buf.copy_from_slice(cipher);
    let n = decrypt_in_place(key, iv, &mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

/// Decrypts `buf` in place and returns the plaintext length (a prefix of `buf`).
pub fn decrypt_in_place(
    key: &StreamKey,
    iv: &[u8; BLOCK],
    buf: &mut [u8],
) -> Result<usize, BlobError> {
    if buf.len() > MAX_BLOB_SIZE {
        return Err(BlobError::TooLarge(buf.len()));
    }
    if buf.is_empty() || buf.len() % BLOCK != 0 {
        return Err(BlobError::CipherLength(buf.len()));
    }
    match key.0.len() {
        16 => dec::<aes::Aes128>(&key.0, iv, buf),
        24 => dec::<aes::Aes192>(&key.0, iv, buf),
        32 => dec::<aes::Aes256>(&key.0, iv, buf),
        n => Err(BlobError::KeyLength(n)),
    }
}

fn dec<C>(key: &[u8], iv: &[u8; BLOCK], buf: &mut [u8]) -> Result<usize, BlobError>
where
    C: BlockDecryptMut + aes::cipher::BlockCipher + aes::cipher::KeyInit,
{
    let d = cbc::Decryptor::<C>::new_from_slices(key, iv)
        .map_err(|_| BlobError::KeyLength(key.len()))?;
    d.decrypt_padded_mut::<Pkcs7>(buf)
        .map(|p| p.len())
        .map_err(|_| BlobError::Padding)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::BlobHash;

    fn key() -> StreamKey {
        StreamKey::new(&hex::decode("000102030405060708090a0b0c0d0e0f").unwrap()).unwrap()
    }

    #[test]
    fn hello_vector() {
        let c = encrypt(&key(), &[1u8; 16], b"hello lbry\n");
        assert_eq!(hex::encode(&c), "a0e217e6e6cbd92729a80e1f23647d06");
        assert_eq!(
            BlobHash::digest(&c).to_hex(),
            "772edb0f65efc2b4be39a6a80a9f5fea827487a5dd350670fa08a17246f09203ed283ca27e9fc09a7c496bae04971026"
        );
        assert_eq!(decrypt(&key(), &[1u8; 16], &c).unwrap(), b"hello lbry\n");
    }

    #[test]
    fn full_chunk_is_exactly_max_blob_size() {
        let plain = vec![7u8; PLAIN_CHUNK];
        let c = encrypt(&key(), &[9u8; 16], &plain);
        assert_eq!(c.len(), MAX_BLOB_SIZE);
        assert_eq!(decrypt(&key(), &[9u8; 16], &c).unwrap(), plain);
    }

    #[test]
    fn lengths_follow_pkcs7() {
        assert_eq!(encrypted_len(0), 16);
        assert_eq!(encrypted_len(15), 16);
        assert_eq!(encrypted_len(16), 32);
        assert_eq!(encrypt(&key(), &[0; 16], b"").len(), 16);
    }

    #[test]
    fn accepts_aes256_keys_and_rejects_odd_ones() {
        let k = StreamKey::new(b"deadbeefdeadbeefdeadbeefdeadbeef").unwrap();
        let c = encrypt(&k, &[3; 16], b"abc");
        assert_eq!(decrypt(&k, &[3; 16], &c).unwrap(), b"abc");
        assert_eq!(StreamKey::new(&[0; 15]), Err(BlobError::KeyLength(15)));
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        assert_eq!(
            decrypt(&key(), &[0; 16], &[0; 15]),
            Err(BlobError::CipherLength(15))
        );
        assert_eq!(
            decrypt(&key(), &[0; 16], &[]),
            Err(BlobError::CipherLength(0))
        );
        let big = vec![0u8; MAX_BLOB_SIZE + 16];
        assert_eq!(
            decrypt(&key(), &[0; 16], &big),
            Err(BlobError::TooLarge(big.len()))
        );
        let c = encrypt(&key(), &[1; 16], b"hello lbry\n");
        // With a wrong IV only the first block changes, so padding survives; with a wrong key it breaks.
        let other = StreamKey::new(&[0xAA; 16]).unwrap();
        assert_eq!(decrypt(&other, &[1; 16], &c), Err(BlobError::Padding));
    }
}
