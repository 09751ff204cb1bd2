//! Writers for the hub formats: claim scripts, transactions, signed claims.
//!
//! lbrymount never publishes claims on the blockchain; these builders exist
//! so tests (and the test hub) can make real transactions with real
//! signatures that the parsers must accept, byte-compatible with what
//! lbry-sdk writes (minimal pushes as `lbry/wallet/script.py` chooses them).

use k256::ecdsa::signature::hazmat::PrehashSigner;
use k256::ecdsa::{Signature, SigningKey};

use super::claim::{SIGNED, UNSIGNED};
use super::script::{
    OP_2DROP, OP_CLAIM_NAME, OP_DROP, OP_PUSHDATA1, OP_PUSHDATA2, OP_PUSHDATA4, OP_SUPPORT_CLAIM,
    OP_UPDATE_CLAIM,
};
use super::tx::{write_varint, Tx};
use super::HubWireError;

/// `OP_CLAIM_NAME <name> <claim> OP_2DROP OP_DROP` + P2PKH to `pay_hash160`.
pub fn claim_script(name: &[u8], claim_bytes: &[u8], pay_hash160: &[u8; 20]) -> Vec<u8> {
    let mut s = vec![OP_CLAIM_NAME];
    push_data(&mut s, name);
    push_data(&mut s, claim_bytes);
    s.extend_from_slice(&[OP_2DROP, OP_DROP]);
    s.extend_from_slice(&p2pkh(pay_hash160));
    s
}

/// `OP_UPDATE_CLAIM <name> <claim_hash> <claim> OP_2DROP OP_2DROP` + P2PKH.
pub fn update_script(
    name: &[u8],
    claim_hash: &[u8; 20],
    claim_bytes: &[u8],
    pay_hash160: &[u8; 20],
) -> Vec<u8> {
    let mut s = vec![OP_UPDATE_CLAIM];
    push_data(&mut s, name);
    push_data(&mut s, claim_hash);
    push_data(&mut s, claim_bytes);
    s.extend_from_slice(&[OP_2DROP, OP_2DROP]);
    s.extend_from_slice(&p2pkh(pay_hash160));
    s
}

/// `OP_SUPPORT_CLAIM <name> <claim_hash> OP_2DROP OP_DROP` + P2PKH.
pub fn support_script(name: &[u8], claim_hash: &[u8; 20], pay_hash160: &[u8; 20]) -> Vec<u8> {
    let mut s = vec![OP_SUPPORT_CLAIM];
    push_data(&mut s, name);
    push_data(&mut s, claim_hash);
    s.extend_from_slice(&[OP_2DROP, OP_DROP]);
    s.extend_from_slice(&p2pkh(pay_hash160));
    s
}

/// `OP_DUP OP_HASH160 <20> OP_EQUALVERIFY OP_CHECKSIG`.
pub fn p2pkh(hash160: &[u8; 20]) -> Vec<u8> {
    let mut s = vec![0x76, 0xa9, 0x14];
    s.extend_from_slice(hash160);
    s.extend_from_slice(&[0x88, 0xac]);
    s
}

/// The shortest push of `data`, as Bitcoin and lbry-sdk write it.
pub fn push_data(out: &mut Vec<u8>, data: &[u8]) {
    let n = data.len();
    if n <= 0x4b {
        out.push(n as u8);
    } else if n <= 0xff {
        out.extend_from_slice(&[OP_PUSHDATA1, n as u8]);
    } else if n <= 0xffff {
        out.push(OP_PUSHDATA2);
        out.extend_from_slice(&(n as u16).to_le_bytes());
    } else {
        out.push(OP_PUSHDATA4);
        out.extend_from_slice(&(n as u32).to_le_bytes());
    }
    out.extend_from_slice(data);
}

/// A version-1 transaction: empty input scripts, sequence 0xffffffff, locktime 0.
pub fn encode_tx(tx: &Tx) -> Vec<u8> {
    let mut out = 1u32.to_le_bytes().to_vec();
    write_varint(&mut out, tx.inputs.len() as u64);
    for input in &tx.inputs {
        out.extend_from_slice(&input.tx_hash);
        out.extend_from_slice(&input.nout.to_le_bytes());
        write_varint(&mut out, 0);
        out.extend_from_slice(&u32::MAX.to_le_bytes());
    }
    write_varint(&mut out, tx.outputs.len() as u64);
    for output in &tx.outputs {
        out.extend_from_slice(&output.value.to_le_bytes());
        write_varint(&mut out, output.script.len() as u64);
        out.extend_from_slice(&output.script);
    }
    out.extend_from_slice(&0u32.to_le_bytes());
    out
}

/// Claim bytes for a script: `0x00 || payload`, or `0x01 || channel_hash || signature || payload`.
pub fn signable_bytes(signed_by: Option<(&[u8; 20], &[u8; 64])>, payload: &[u8]) -> Vec<u8> {
    match signed_by {
        None => [&[UNSIGNED][..], payload].concat(),
        Some((channel_hash, signature)) => {
            [&[SIGNED][..], channel_hash, signature, payload].concat()
        }
    }
}

/// Signs a 32-byte digest with a secp256k1 secret key; the signature is low-S, r||s.
pub fn sign(digest: &[u8; 32], secret_key: &[u8; 32]) -> Result<[u8; 64], HubWireError> {
    let key = SigningKey::from_slice(secret_key).map_err(|_| HubWireError::BadSecretKey)?;
    let sig: Signature = key
        .sign_prehash(digest)
        .map_err(|_| HubWireError::BadSecretKey)?;
    Ok(sig.to_bytes().into())
}

/// The 33-byte compressed public key of a secret key (what `Channel.public_key` holds).
pub fn public_key(secret_key: &[u8; 32]) -> Result<[u8; 33], HubWireError> {
    let key = SigningKey::from_slice(secret_key).map_err(|_| HubWireError::BadSecretKey)?;
    let point = key.verifying_key().to_encoded_point(true);
    <[u8; 33]>::try_from(point.as_bytes()).map_err(|_| HubWireError::BadSecretKey)
}
