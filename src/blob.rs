//! One blob: AES-CBC with PKCS7, named by the SHA-384 of its encrypted bytes.
//!
//! PURE: bytes in, bytes out. No files, sockets or clock, so every rule of
//! docs/protocol.md §1 is checked by fast unit tests.
//!
//! Writers always use AES-128 (a 16-byte key, like lbry-sdk); readers accept
//! 16, 24 or 32-byte keys because lbry-sdk does not enforce the key size.

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};

use crate::hash::BlobHash;
use crate::sha384::Sha384;

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
    let mut buf = cipher.to_vec();
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

/// A blob whose name was computed from these exact bytes. Only this module can
/// make one, so whoever holds it knows the hash check happened (once).
#[derive(Clone, PartialEq, Eq)]
pub struct VerifiedBlob {
    hash: BlobHash,
    data: Vec<u8>,
}

impl VerifiedBlob {
    /// Names fresh bytes (publishing): the hash is computed here.
    pub fn from_bytes(data: Vec<u8>) -> Self {
        Self {
            hash: BlobHash::digest(&data),
            data,
        }
    }
    /// Checks bytes received for `expected`; on mismatch returns the hash they really have.
    pub fn verify(expected: &BlobHash, data: Vec<u8>) -> Result<Self, BlobHash> {
        let actual = BlobHash::digest(&data);
        if actual == *expected {
            Ok(Self { hash: actual, data })
        } else {
            Err(actual)
        }
    }
    pub fn hash(&self) -> &BlobHash {
        &self.hash
    }
    pub fn data(&self) -> &[u8] {
        &self.data
    }
    pub fn len(&self) -> usize {
        self.data.len()
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    pub fn into_data(self) -> Vec<u8> {
        self.data
    }
}

/// A blob being received: its bytes and the SHA-384 of exactly those bytes,
/// kept up to date as they arrive, so hashing overlaps receiving and
/// [`finish`](Self::finish) costs only the last block. Every byte enters
/// through [`push`](Self::push) or [`commit`](Self::commit), which hash it, so
/// the [`VerifiedBlob`] it yields keeps that type's promise.
pub struct BlobReceiver {
    hasher: Sha384,
    /// `data[..filled]` is the blob so far; the rest is room to receive into.
    data: Vec<u8>,
    filled: usize,
}

impl BlobReceiver {
    /// An empty receiver with room for `len` bytes received in place (see [`spare`](Self::spare)).
    pub fn with_capacity(len: usize) -> Self {
        Self {
            hasher: Sha384::new(),
            data: vec![0; len],
            filled: 0,
        }
    }

    /// Appends and hashes `bytes`.
    pub fn push(&mut self, bytes: &[u8]) {
        let end = self.filled + bytes.len();
        if end > self.data.len() {
            self.data.resize(end, 0);
        }
        self.data[self.filled..end].copy_from_slice(bytes);
        self.commit(bytes.len());
    }

    /// The room left to receive into, at most `max` bytes; empty when the
    /// capacity is used up. Bytes written here count only once committed.
    pub fn spare(&mut self, max: usize) -> &mut [u8] {
        let end = self.data.len().min(self.filled.saturating_add(max));
        &mut self.data[self.filled..end]
    }

    /// Takes the first `n` bytes of [`spare`](Self::spare) into the blob and hashes them.
    ///
    /// # Panics
    /// If `n` exceeds the room left.
    pub fn commit(&mut self, n: usize) {
        let end = self.filled + n;
        assert!(end <= self.data.len(), "committed past the receive buffer");
        self.hasher.update(&self.data[self.filled..end]);
        self.filled = end;
    }

    /// Bytes received so far.
    pub fn len(&self) -> usize {
        self.filled
    }

    pub fn is_empty(&self) -> bool {
        self.filled == 0
    }

    /// The blob if the bytes received hash to `expected`; else the hash they have.
    pub fn finish(mut self, expected: &BlobHash) -> Result<VerifiedBlob, BlobHash> {
        let actual = BlobHash::from_hasher(self.hasher);
        if actual != *expected {
            return Err(actual);
        }
        self.data.truncate(self.filled);
        Ok(VerifiedBlob {
            hash: actual,
            data: self.data,
        })
    }
}

impl std::fmt::Debug for BlobReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "BlobReceiver({} of {} bytes)",
            self.filled,
            self.data.len()
        )
    }
}

impl std::fmt::Debug for VerifiedBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "VerifiedBlob({}, {} bytes)",
            self.hash.short(),
            self.data.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 + i / 7) as u8).collect()
    }

    #[test]
    fn receiver_gives_what_verify_gives_whatever_the_split_points() {
        let data = sample(300_001);
        let hash = BlobHash::digest(&data);
        let whole = VerifiedBlob::verify(&hash, data.clone()).unwrap();
        for step in [1, 7, 4096, 65_536, 299_999, 300_001, 1 << 20] {
            let mut pushed = BlobReceiver::with_capacity(data.len());
            let mut received = BlobReceiver::with_capacity(data.len());
            for chunk in data.chunks(step) {
                pushed.push(chunk);
                let room = received.spare(step);
                assert_eq!(room.len(), chunk.len(), "step {step}");
                room.copy_from_slice(chunk);
                received.commit(chunk.len());
            }
            assert!(received.spare(usize::MAX).is_empty());
            assert_eq!(pushed.len(), data.len());
            assert_eq!(pushed.finish(&hash).unwrap(), whole, "step {step}");
            assert_eq!(received.finish(&hash).unwrap(), whole, "step {step}");
        }
    }

    #[test]
    fn receiver_holds_only_what_it_received() {
        let data = sample(1000);
        let hash = BlobHash::digest(&data[..600]);
        // Room for more than arrives: the blob is what was committed, not the capacity.
        let mut r = BlobReceiver::with_capacity(1000);
        r.spare(600).copy_from_slice(&data[..600]);
        r.commit(600);
        r.spare(usize::MAX)[..10].copy_from_slice(&[0xEE; 10]);
        assert_eq!(r.finish(&hash).unwrap().data(), &data[..600]);
        // More than the capacity: it grows.
        let mut r = BlobReceiver::with_capacity(10);
        r.push(&data);
        assert_eq!(
            r.finish(&BlobHash::digest(&data)).unwrap().data(),
            &data[..]
        );
        // Nothing at all is the empty blob.
        let empty = BlobReceiver::with_capacity(0).finish(&BlobHash::digest(b""));
        assert!(empty.unwrap().is_empty());
    }

    #[test]
    fn receiver_reports_a_mismatch_with_the_actual_hash() {
        let data = sample(5000);
        let mut r = BlobReceiver::with_capacity(data.len());
        r.push(&data[..2500]);
        r.push(&data[2500..]);
        let wrong = BlobHash::digest(b"something else");
        assert_eq!(r.finish(&wrong), Err(BlobHash::digest(&data)));
        let mut r = BlobReceiver::with_capacity(data.len());
        r.push(&data[..4999]);
        assert_eq!(
            r.finish(&BlobHash::digest(&data)),
            Err(BlobHash::digest(&data[..4999]))
        );
    }

    #[test]
    #[should_panic(expected = "committed past")]
    fn committing_more_than_the_room_panics() {
        let mut r = BlobReceiver::with_capacity(4);
        r.commit(5);
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
