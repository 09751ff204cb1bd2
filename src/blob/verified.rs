//! Verified blobs: bytes whose SHA-384 was computed here, so holding a
//! [`VerifiedBlob`] proves the hash check happened (once). A blob arriving from
//! the network is hashed as it arrives ([`BlobReceiver`]). The one exception
//! is named as such: [`VerifiedBlob::from_own_write`], bytes the disk store
//! wrote after this check and read back unchanged by its own checksum.
//!
//! PURE, like the rest of `blob`.

use crate::hash::BlobHash;
use crate::sha384::Sha384;
use crate::store::disk::OwnWrite;

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
    /// Trusted, not hashed here: bytes the disk store wrote from a
    /// `VerifiedBlob` of `hash` (or hashed when it found them) and has just
    /// read back with the length and XXH3-64 it recorded then. Only the disk
    /// store can make the [`OwnWrite`] proof, so only it can call this.
    pub fn from_own_write(hash: BlobHash, data: Vec<u8>, _checked: OwnWrite) -> Self {
        Self { hash, data }
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
    pub fn into_data(mut self) -> Vec<u8> {
        std::mem::take(&mut self.data)
    }
}

/// A blob's buffer goes back to the pool for the next blob (see `pool`).
impl Drop for VerifiedBlob {
    fn drop(&mut self) {
        super::pool::give(std::mem::take(&mut self.data));
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
            data: super::pool::take(len),
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
            data: std::mem::take(&mut self.data),
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
}
