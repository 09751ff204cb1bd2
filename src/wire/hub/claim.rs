//! Claim ids, the signed-claim envelope, and channel signatures.
//!
//! A claim id names a claim for its whole life: it is derived from the
//! output that first created it ([`claim_hash`]). The claim bytes in a
//! script are an envelope ([`parse_signable`]): a version byte, and for
//! claims published in a channel the channel's claim hash and a secp256k1
//! signature over the claim's protobuf bytes, bound to the transaction's
//! first input so a signature cannot be replayed in another transaction
//! ([`signature_digest`]). A resolver shows a stream under a channel only
//! when [`verify_signature`] accepts it with that channel's public key, the
//! way lbry-sdk's `Output.is_signed_by` decides (docs/protocol.md §7.4).

use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::{Signature, VerifyingKey};
use k256::pkcs8::DecodePublicKey;
use ripemd::Ripemd160;
use sha2::{Digest, Sha256};

use super::proto::{decode_claim, Claim};
use super::tx::OutPoint;
use super::{hex_array, reversed_hex, HubWireError};

/// The envelope byte of an unsigned claim.
pub const UNSIGNED: u8 = 0x00;
/// The envelope byte of a claim signed by a channel.
pub const SIGNED: u8 = 0x01;
/// Envelope byte + channel hash (20) + signature (64).
const SIGNED_HEADER: usize = 1 + 20 + 64;

/// ripemd160(sha256(tx_hash || nout big-endian)) of the output that created the claim (internal order).
pub fn claim_hash(tx_hash: &[u8; 32], nout: u32) -> [u8; 20] {
    let mut sha = Sha256::new();
    sha.update(tx_hash);
    sha.update(nout.to_be_bytes());
    Ripemd160::digest(sha.finalize()).into()
}

/// The claim id as users see it: the claim hash reversed, in hex.
pub fn claim_id_hex(hash: &[u8; 20]) -> String {
    reversed_hex(hash)
}

/// Parses a full 40-hex claim id into the internal-order claim hash.
pub fn parse_claim_id(hex: &str) -> Result<[u8; 20], HubWireError> {
    let mut hash = hex_array::<20>("claim id", hex)?;
    hash.reverse();
    Ok(hash)
}

/// The claim bytes of a claim script, opened.
#[derive(Debug, Clone, PartialEq)]
pub enum Signable {
    Unsigned {
        claim: Claim,
    },
    /// `payload` is the claim's protobuf as found in the script, never
    /// re-encoded: lbry-sdk signs its serialisation of the claim, which is
    /// these bytes for every claim it wrote.
    Signed {
        channel_hash: [u8; 20],
        signature: [u8; 64],
        claim: Claim,
        payload: Vec<u8>,
    },
    /// A pre-2019 claim (JSON or the v1 protobuf), not read by lbrymount.
    Legacy,
}

/// Opens the envelope and decodes the claim protobuf inside.
pub fn parse_signable(bytes: &[u8]) -> Result<Signable, HubWireError> {
    match bytes.first() {
        None => Err(HubWireError::EmptyClaim),
        Some(&UNSIGNED) => Ok(Signable::Unsigned {
            claim: decode_claim(&bytes[1..])?,
        }),
        Some(&SIGNED) => {
            if bytes.len() < SIGNED_HEADER {
                return Err(HubWireError::ShortSignedClaim(bytes.len()));
            }
            let mut channel_hash = [0u8; 20];
            channel_hash.copy_from_slice(&bytes[1..21]);
            let mut signature = [0u8; 64];
            signature.copy_from_slice(&bytes[21..SIGNED_HEADER]);
            let payload = bytes[SIGNED_HEADER..].to_vec();
            Ok(Signable::Signed {
                channel_hash,
                signature,
                claim: decode_claim(&payload)?,
                payload,
            })
        }
        Some(_) => Ok(Signable::Legacy),
    }
}

/// sha256(first input's outpoint (hash, nout little-endian) || channel hash || claim protobuf).
pub fn signature_digest(
    first_input: &OutPoint,
    channel_hash: &[u8; 20],
    payload: &[u8],
) -> [u8; 32] {
    let mut sha = Sha256::new();
    sha.update(first_input.tx_hash);
    sha.update(first_input.nout.to_le_bytes());
    sha.update(channel_hash);
    sha.update(payload);
    sha.finalize().into()
}

/// Whether `signature` (compact r||s) signs `digest` under the channel's key.
///
/// The key is a 33-byte compressed (or 65-byte uncompressed) SEC1 point or,
/// for channels made by old lbry-sdk versions, a DER SubjectPublicKeyInfo.
/// The signature is normalised to low S first, as lbry-sdk does, since the
/// verifier refuses high-S forms that lbry-sdk accepts. Anything malformed
/// (key or signature) is simply not a valid signature.
pub fn verify_signature(
    digest: &[u8; 32],
    signature: &[u8; 64],
    channel_public_key: &[u8],
) -> bool {
    let Some(key) = public_key(channel_public_key) else {
        return false;
    };
    let Ok(sig) = Signature::from_slice(signature) else {
        return false;
    };
    let sig = sig.normalize_s().unwrap_or(sig);
    key.verify_prehash(digest, &sig).is_ok()
}

fn public_key(bytes: &[u8]) -> Option<VerifyingKey> {
    match bytes.len() {
        33 | 65 => VerifyingKey::from_sec1_bytes(bytes).ok(),
        _ => VerifyingKey::from_public_key_der(bytes).ok(),
    }
}
