//! A channel and a stream signed by it, built here with real secp256k1 keys,
//! then read back the way a resolver reads them (docs/protocol.md §7.4).

use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::{Signature, SigningKey, VerifyingKey};
use k256::elliptic_curve::ops::Neg;
use prost::Message;

use crate::wire::hub::proto::{self, claim::Type};
use crate::wire::hub::*;

const SECRET: [u8; 32] = [0x42; 32];

/// The raw channel tx and the raw stream tx whose input 0 spends the channel tx's output 1.
struct Example {
    channel_raw: Vec<u8>,
    stream_raw: Vec<u8>,
}

fn build_example(secret: &[u8; 32]) -> Example {
    let channel_claim = proto::Claim {
        r#type: Some(Type::Channel(proto::Channel {
            public_key: build::public_key(secret).expect("valid secret").to_vec(),
            ..Default::default()
        })),
        ..Default::default()
    };
    let channel_tx = Tx {
        inputs: vec![OutPoint {
            tx_hash: [7; 32],
            nout: 3,
        }],
        outputs: vec![
            TxOut {
                value: 1_000_000,
                script: build::claim_script(
                    b"@bar",
                    &build::signable_bytes(None, &channel_claim.encode_to_vec()),
                    &[1; 20],
                ),
            },
            TxOut {
                value: 5_000,
                script: build::p2pkh(&[2; 20]),
            },
        ],
    };
    let channel_raw = build::encode_tx(&channel_tx);
    let channel_tx_hash = tx_hash(&channel_raw);
    let channel_hash = claim_hash(&channel_tx_hash, 0);

    let payload = stream_claim().encode_to_vec();
    let first_input = OutPoint {
        tx_hash: channel_tx_hash,
        nout: 1,
    };
    let digest = signature_digest(&first_input, &channel_hash, &payload);
    let signature = build::sign(&digest, secret).expect("signs");
    let claim_bytes = build::signable_bytes(Some((&channel_hash, &signature)), &payload);
    let stream_tx = Tx {
        inputs: vec![first_input],
        outputs: vec![TxOut {
            value: 1_000_000,
            script: build::claim_script(b"one", &claim_bytes, &[3; 20]),
        }],
    };
    Example {
        channel_raw,
        stream_raw: build::encode_tx(&stream_tx),
    }
}

fn stream_claim() -> proto::Claim {
    proto::Claim {
        r#type: Some(Type::Stream(proto::Stream {
            source: Some(proto::Source {
                name: "one.bin".into(),
                size: 123,
                media_type: "application/octet-stream".into(),
                sd_hash: vec![0x1a; 48],
                ..Default::default()
            }),
            ..Default::default()
        })),
        title: "One".into(),
        ..Default::default()
    }
}

/// What a resolver extracts from the stream tx: digest, signature, and the channel it names.
struct Read {
    digest: [u8; 32],
    signature: [u8; 64],
    channel_hash: [u8; 20],
    channel_key: Vec<u8>,
}

fn read_back(ex: &Example) -> Read {
    let r = read_back_any(ex);
    let stream_tx = parse_tx(&ex.stream_raw).unwrap();
    let ClaimScript::Claim { claim, .. } =
        parse_claim_script(&stream_tx.outputs[0].script).unwrap()
    else {
        panic!("stream output 0 is a claim");
    };
    assert!(
        matches!(parse_signable(&claim), Ok(Signable::Signed { claim, .. }) if claim == stream_claim())
    );
    r
}

/// Reads a signed stream (output 0 of `stream_raw`) and the channel key in output 0 of `channel_raw`.
fn read_back_any(ex: &Example) -> Read {
    let channel_tx = parse_tx(&ex.channel_raw).expect("channel tx parses");
    let ClaimScript::Claim { name, claim } =
        parse_claim_script(&channel_tx.outputs[0].script).unwrap()
    else {
        panic!("channel output 0 is a claim");
    };
    assert!(name.starts_with(b"@"));
    let Ok(Signable::Unsigned { claim }) = parse_signable(&claim) else {
        panic!("unsigned channel claim");
    };
    let Some(Type::Channel(channel)) = claim.r#type else {
        panic!("a channel");
    };
    let stream_tx = parse_tx(&ex.stream_raw).expect("stream tx parses");
    let ClaimScript::Claim { claim, .. } =
        parse_claim_script(&stream_tx.outputs[0].script).unwrap()
    else {
        panic!("stream output 0 is a claim");
    };
    let Ok(Signable::Signed {
        channel_hash,
        signature,
        payload,
        ..
    }) = parse_signable(&claim)
    else {
        panic!("a signed stream claim");
    };
    Read {
        digest: signature_digest(&stream_tx.inputs[0], &channel_hash, &payload),
        signature,
        channel_hash,
        channel_key: channel.public_key,
    }
}

#[test]
fn built_signed_stream_verifies_against_its_channel() {
    let ex = build_example(&SECRET);
    let r = read_back(&ex);
    assert_eq!(r.channel_hash, claim_hash(&tx_hash(&ex.channel_raw), 0));
    assert_eq!(r.channel_key.len(), 33);
    assert!(verify_signature(&r.digest, &r.signature, &r.channel_key));
}

#[test]
fn a_flipped_bit_anywhere_fails_verification() {
    let r = read_back(&build_example(&SECRET));
    for i in 0..64 * 8 {
        let mut sig = r.signature;
        sig[i / 8] ^= 1 << (i % 8);
        assert!(
            !verify_signature(&r.digest, &sig, &r.channel_key),
            "signature bit {i}"
        );
    }
    for i in 0..32 * 8 {
        let mut digest = r.digest;
        digest[i / 8] ^= 1 << (i % 8);
        assert!(
            !verify_signature(&digest, &r.signature, &r.channel_key),
            "digest bit {i}"
        );
    }
}

#[test]
fn a_wrong_key_or_a_wrong_outpoint_fails_verification() {
    let ex = build_example(&SECRET);
    let r = read_back(&ex);
    let other = build::public_key(&[0x43; 32]).unwrap();
    assert!(!verify_signature(&r.digest, &r.signature, &other));
    assert!(!verify_signature(&r.digest, &r.signature, &[]));
    assert!(
        !verify_signature(&r.digest, &r.signature, &[0x02; 33]),
        "not a curve point"
    );

    // The same claim bytes replayed in a transaction spending another outpoint.
    let mut stream_tx = parse_tx(&ex.stream_raw).unwrap();
    stream_tx.inputs[0].nout = 0;
    let ClaimScript::Claim { claim, .. } =
        parse_claim_script(&stream_tx.outputs[0].script).unwrap()
    else {
        panic!("claim script");
    };
    let Ok(Signable::Signed {
        channel_hash,
        payload,
        ..
    }) = parse_signable(&claim)
    else {
        panic!("signed");
    };
    let moved = signature_digest(&stream_tx.inputs[0], &channel_hash, &payload);
    assert!(!verify_signature(&moved, &r.signature, &r.channel_key));
    let other_channel = signature_digest(&stream_tx.inputs[0], &[0; 20], &payload);
    assert!(!verify_signature(
        &other_channel,
        &r.signature,
        &r.channel_key
    ));
}

/// lbry-sdk normalises to low S before verifying, so a high-S signature of a valid claim passes.
#[test]
fn high_s_signatures_are_normalised_before_verifying() {
    let r = read_back(&build_example(&SECRET));
    let low = Signature::from_slice(&r.signature).unwrap();
    assert!(low.normalize_s().is_none(), "the builder signs low-S");
    let (rr, s) = low.split_scalars();
    let high = Signature::from_scalars(rr, s.as_ref().neg()).unwrap();
    let high_bytes: [u8; 64] = high.to_bytes().into();
    assert_ne!(high_bytes, r.signature);
    let key = VerifyingKey::from_sec1_bytes(&r.channel_key).unwrap();
    assert!(
        key.verify_prehash(&r.digest, &high).is_err(),
        "k256 alone refuses high S: the normalisation is what accepts it"
    );
    assert!(verify_signature(&r.digest, &high_bytes, &r.channel_key));
}

/// Channels made by old lbry-sdk versions hold a DER SubjectPublicKeyInfo.
#[test]
fn der_and_uncompressed_channel_keys_verify_too() {
    let r = read_back(&build_example(&SECRET));
    let key = SigningKey::from_slice(&SECRET).unwrap();
    let uncompressed = key.verifying_key().to_encoded_point(false);
    assert!(verify_signature(
        &r.digest,
        &r.signature,
        uncompressed.as_bytes()
    ));
    // SEQUENCE { SEQUENCE { id-ecPublicKey, secp256k1 }, BIT STRING { point } }
    let der = [
        &super::unhex("3056 3010 06072a8648ce3d0201 06052b8104000a 034200")[..],
        uncompressed.as_bytes(),
    ]
    .concat();
    assert_eq!(der.len(), 88);
    assert!(verify_signature(&r.digest, &r.signature, &der));
    let mut bad_der = der.clone();
    bad_der.truncate(60);
    assert!(!verify_signature(&r.digest, &r.signature, &bad_der));
}

#[test]
fn invalid_secret_keys_are_refused() {
    assert_eq!(
        build::sign(&[0; 32], &[0; 32]),
        Err(HubWireError::BadSecretKey)
    );
    assert_eq!(
        build::public_key(&[0xff; 32]),
        Err(HubWireError::BadSecretKey)
    );
}

/// A channel and a stream signed by python-ecdsa (`make_vectors.py`): another
/// implementation's signature, a high-S one as that library writes half the
/// time, and the DER key form old lbry-sdk channels carry.
#[test]
fn a_stream_signed_by_python_ecdsa_verifies() {
    let manifest: serde_json::Value =
        serde_json::from_slice(vector!("manifest.json")).expect("manifest is JSON");
    let m = &manifest["signed_stream_tx.bin"];
    let field = |k: &str| super::unhex(m[k].as_str().expect(k));
    let ex = Example {
        channel_raw: vector!("signed_channel_tx.bin").to_vec(),
        stream_raw: vector!("signed_stream_tx.bin").to_vec(),
    };
    assert_eq!(
        txid_hex(&tx_hash(&ex.channel_raw)),
        m["channel_txid"].as_str().unwrap()
    );
    assert_eq!(
        txid_hex(&tx_hash(&ex.stream_raw)),
        m["stream_txid"].as_str().unwrap()
    );

    let channel_tx = parse_tx(&ex.channel_raw).unwrap();
    let ClaimScript::Claim { name, claim } =
        parse_claim_script(&channel_tx.outputs[0].script).unwrap()
    else {
        panic!("channel claim");
    };
    assert_eq!(name, b"@chan");
    let Ok(Signable::Unsigned { claim }) = parse_signable(&claim) else {
        panic!("unsigned channel");
    };
    let Some(Type::Channel(channel)) = claim.r#type else {
        panic!("a channel");
    };
    assert_eq!(channel.public_key, field("public_key_compressed"));

    let r = read_back_any(&ex);
    assert_eq!(
        claim_id_hex(&r.channel_hash),
        m["channel_claim_id"].as_str().unwrap()
    );
    assert_eq!(r.digest.to_vec(), field("digest"));
    assert_eq!(r.signature.to_vec(), field("signature_in_tx_high_s"));
    assert!(
        verify_signature(&r.digest, &r.signature, &r.channel_key),
        "high S, as in the tx"
    );
    let low: [u8; 64] = field("signature_low_s").try_into().unwrap();
    assert!(
        verify_signature(&r.digest, &low, &r.channel_key),
        "its low-S twin"
    );
    assert!(
        verify_signature(&r.digest, &low, &field("public_key_der")),
        "the DER key"
    );
    let mut flipped = low;
    flipped[40] ^= 0x10;
    assert!(!verify_signature(
        &r.digest,
        &flipped,
        &field("public_key_der")
    ));
}
