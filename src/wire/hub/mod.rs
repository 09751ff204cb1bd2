//! Pure codecs of LBRY's name layer: what a hub answers and what a claim is.
//!
//! A hub (wallet server) answers a resolve with a base64 protobuf `Outputs`
//! that only *points* at transaction outputs; the claim itself sits in the
//! output script of a raw transaction the client fetches separately. Every
//! step a resolver needs to check the hub's word is here, as functions over
//! bytes: protobuf messages (`proto`), raw transactions and txids (`tx`),
//! claim scripts (`script`), claim ids, the signed-claim envelope and channel
//! signatures (`claim`), and `lbry://` URLs (`url`). `build` writes the same
//! formats, for tests and for the test hub. `census` bounds what decoding a
//! hub's answer may allocate.
//!
//! PURE: no sockets, files or clock, so the whole layer is checked by unit
//! tests, property tests and golden vectors (docs/protocol.md §7).
//! Everything that comes from a hub is hostile input: counts and lengths are
//! checked against the bytes that are really there before anything is
//! allocated.

pub mod build;
pub mod census;
pub mod claim;
pub mod jsonrpc;
pub mod proto;
pub mod script;
pub mod tx;
pub mod url;

pub use claim::{
    claim_hash, claim_id_hex, parse_claim_id, parse_signable, signature_digest, verify_signature,
    Signable,
};
pub use proto::{decode_outputs, MAX_OUTPUTS_BYTES};
pub use script::{parse_claim_script, ClaimScript};
pub use tx::{parse_tx, parse_txid, tx_hash, txid_hex, OutPoint, Tx, TxOut};
pub use url::{looks_like_url, LbryUrl, Modifier, UrlError, UrlPart};

/// Why bytes from a hub (or a string from a user) are not what they claim to be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HubWireError {
    #[error("invalid base64: {0}")]
    Base64(String),
    #[error("{what} is {len} bytes, more than the limit of {limit}")]
    TooLarge {
        what: &'static str,
        len: usize,
        limit: usize,
    },
    #[error("malformed protobuf {message}: {reason}")]
    Protobuf {
        message: &'static str,
        reason: String,
    },
    #[error("{what} ends early (at byte {at})")]
    Truncated { what: &'static str, at: usize },
    #[error("{count} bytes follow the end of the {what}")]
    TrailingBytes { what: &'static str, count: usize },
    #[error("{what} claims {count} entries, more than the {room} bytes left can hold")]
    TooMany {
        what: &'static str,
        count: u64,
        room: usize,
    },
    #[error("transaction uses the segwit layout, which LBRY claims never do")]
    Segwit,
    #[error("not a claim script: {0}")]
    NotClaimScript(&'static str),
    #[error("claim bytes are empty")]
    EmptyClaim,
    #[error("signed claim is {0} bytes, shorter than its 85-byte header")]
    ShortSignedClaim(usize),
    #[error("{what} must be {len} hex characters, got {got:?}")]
    BadHex {
        what: &'static str,
        len: usize,
        got: String,
    },
    #[error("secret key is not a valid secp256k1 scalar")]
    BadSecretKey,
    #[error(transparent)]
    Url(#[from] UrlError),
}

/// Parses exactly `2 * N` hex characters into bytes (either case accepted).
fn hex_array<const N: usize>(what: &'static str, s: &str) -> Result<[u8; N], HubWireError> {
    let bad = || HubWireError::BadHex {
        what,
        len: 2 * N,
        got: s.chars().take(2 * N + 8).collect(),
    };
    let mut out = [0u8; N];
    if s.len() != 2 * N {
        return Err(bad());
    }
    hex::decode_to_slice(s, &mut out).map_err(|_| bad())?;
    Ok(out)
}

/// Lower-case hex of `bytes` in reverse order (txids, claim ids).
fn reversed_hex(bytes: &[u8]) -> String {
    let mut v = bytes.to_vec();
    v.reverse();
    hex::encode(v)
}

#[cfg(test)]
mod tests;
