//! SHA-384, the one hash of the protocol, behind one small type.
//!
//! Every byte a node fetches or publishes is hashed once, so this is the
//! hottest loop of the program: on a cold sequential read through the mount
//! it is half of the CPU time. OpenSSL's SHA-512 assembly (AVX2, two blocks
//! at a time) hashes about 1.45x as fast as the `sha2` crate on the machines
//! we measured, so it is the default (cargo feature `openssl`, which links
//! the system's libcrypto). Without the feature the pure-Rust `sha2` crate
//! is used; both give the same digests (a property test checks it).

/// A running SHA-384.
#[derive(Clone)]
pub struct Sha384(Inner);

#[cfg(feature = "openssl")]
type Inner = openssl::sha::Sha384;
#[cfg(not(feature = "openssl"))]
type Inner = sha2::Sha384;

impl Default for Sha384 {
    fn default() -> Self {
        Self::new()
    }
}

impl Sha384 {
    pub fn new() -> Self {
        #[cfg(feature = "openssl")]
        return Self(openssl::sha::Sha384::new());
        #[cfg(not(feature = "openssl"))]
        return Self(<sha2::Sha384 as sha2::Digest>::new());
    }

    /// Hashes `data` after what came before.
    pub fn update(&mut self, data: impl AsRef<[u8]>) {
        #[cfg(feature = "openssl")]
        self.0.update(data.as_ref());
        #[cfg(not(feature = "openssl"))]
        sha2::Digest::update(&mut self.0, data.as_ref());
    }

    /// The digest of everything given to [`update`](Self::update).
    pub fn finalize(self) -> [u8; 48] {
        #[cfg(feature = "openssl")]
        return self.0.finish();
        #[cfg(not(feature = "openssl"))]
        return sha2::Digest::finalize(self.0).into();
    }

    /// The digest of `data`.
    pub fn digest(data: impl AsRef<[u8]>) -> [u8; 48] {
        let mut h = Self::new();
        h.update(data);
        h.finalize()
    }
}

impl std::fmt::Debug for Sha384 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sha384")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_answers() {
        // FIPS 180-2 appendix D.1 and the empty message.
        assert_eq!(
            hex::encode(Sha384::digest(b"abc")),
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed\
             8086072ba1e7cc2358baeca134c825a7"
        );
        assert_eq!(
            hex::encode(Sha384::digest(b"")),
            "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da\
             274edebfe76f65fbd51ad2f14898b95b"
        );
    }

    proptest! {
        /// Any split of any input gives the digest the `sha2` crate gives
        /// in one go, whichever backend is compiled in.
        #[test]
        fn pieces_hash_like_sha2_in_one_go(
            data in proptest::collection::vec(any::<u8>(), 0..3000),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
        ) {
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(data.len() + 1)).collect();
            cuts.sort_unstable();
            let mut h = Sha384::new();
            let mut from = 0;
            for c in cuts.into_iter().chain([data.len()]) {
                h.update(&data[from..c]);
                from = c;
            }
            let want: [u8; 48] = <sha2::Sha384 as sha2::Digest>::digest(&data).into();
            prop_assert_eq!(h.finalize(), want);
        }
    }
}
