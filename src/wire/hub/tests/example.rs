//! The worked example of LBRY's hub protocol (a reference hub answering
//! lbry-sdk), byte for byte (docs/protocol.md §7.6).

use base64::Engine;
use prost::Message;

use super::unhex;
use crate::wire::hub::proto::{self, output_error::Code, Outputs};
use crate::wire::hub::*;

const RESOLVE: &str = "Cn0KIJlcQ3v6v4n3q7mwN5UtdynuFDWrwMUKjIOIvjFUEMHkGJ7hZzpVCiYKINkMtnEyyzUzUJYviFasu3YzsALx6LHFzcTM+Tevc3MPGJ3hZxoFb25lIzMiDEBiYXIjYS9vbmUjMygBMJ7hZzie4WdAnuFnSJ6K6AGgAcCEPRJSCiDZDLZxMss1M1CWL4hWrLt2M7AC8eixxc3EzPk3r3NzDxid4Wc6KhoGQGJhciNhIgZAYmFyI2EoATCd4Wc4neFnQJ3hZ0idiugBUAGgAcCEPQ==";
const NOT_FOUND: &str = "Ci96LQgBEilDb3VsZCBub3QgZmluZCBjbGFpbSBhdCAibGJyeTovL25vdGhpbmciLg==";
const INVALID: &str = "ChZ6FAgCEhBJbnZhbGlkIExCUlkgVVJM";
const CHANNEL_TXID: &str = "0f7373af37f9ccc4cdc5b1e8f102b03376bbac56882f96503335cb3271b60cd9";
const STREAM_TXID: &str = "e4c1105431be88838c0ac5c0ab3514ee29772d9537b0b9abf789bffa7b435c99";
const CHANNEL_KEY: &str = "02b2088c8e144cfea9166b93946a7058c5b4278b992d8cd782e3616dc1100538f5";

fn txid(hex: &str) -> [u8; 32] {
    parse_txid(hex).expect("txid literal")
}

#[test]
fn resolve_payload_decodes_to_every_field_of_the_example() {
    let out = decode_outputs(RESOLVE).expect("resolve payload decodes");
    assert_eq!((out.txos.len(), out.extra_txos.len()), (1, 1));
    assert_eq!((out.total, out.offset, out.blocked_total), (0, 0, 0));

    let stream = &out.txos[0];
    assert_eq!(stream.tx_hash, txid(STREAM_TXID));
    assert_eq!(
        &hex::encode(&stream.tx_hash)[..8],
        "995c437b",
        "internal order on the wire"
    );
    assert_eq!((stream.nout, stream.height), (0, 1_699_998));
    let meta = stream.claim_meta().expect("txos[0] is a claim");
    let channel_ptr = meta
        .channel
        .as_deref()
        .expect("the stream points at its channel");
    assert_eq!(channel_ptr.tx_hash, txid(CHANNEL_TXID));
    assert_eq!((channel_ptr.nout, channel_ptr.height), (0, 1_699_997));
    assert_eq!(channel_ptr.meta, None, "a bare pointer");
    assert_eq!(meta.short_url, "one#3");
    assert_eq!(meta.canonical_url, "@bar#a/one#3");
    assert!(meta.is_controlling);
    assert_eq!(meta.take_over_height, 1_699_998);
    assert_eq!(meta.creation_height, 1_699_998);
    assert_eq!(meta.activation_height, 1_699_998);
    assert_eq!(meta.expiration_height, 3_802_398);
    assert_eq!(meta.effective_amount, 1_000_000);
    assert_eq!((meta.support_amount, meta.claims_in_channel), (0, 0));

    let channel = &out.extra_txos[0];
    assert_eq!(channel.tx_hash, txid(CHANNEL_TXID));
    assert_eq!((channel.nout, channel.height), (0, 1_699_997));
    let cmeta = channel.claim_meta().expect("extra_txos[0] is the channel");
    assert_eq!(cmeta.short_url, "@bar#a");
    assert_eq!(cmeta.canonical_url, "@bar#a");
    assert!(cmeta.is_controlling);
    assert_eq!(cmeta.take_over_height, 1_699_997);
    assert_eq!(cmeta.creation_height, 1_699_997);
    assert_eq!(cmeta.activation_height, 1_699_997);
    assert_eq!(cmeta.expiration_height, 3_802_397);
    assert_eq!(cmeta.claims_in_channel, 1);
    assert_eq!(cmeta.effective_amount, 1_000_000);
    assert!(cmeta.channel.is_none());
}

#[test]
fn resolve_payload_reencodes_byte_identical_and_search_adds_total() {
    let b64 = base64::engine::general_purpose::STANDARD;
    let wire = b64.decode(RESOLVE).expect("base64");
    assert_eq!(&wire[..2], &[0x0a, 0x7d], "txos[0] is 125 bytes");
    let out = decode_outputs(RESOLVE).expect("decodes");
    assert_eq!(out.encode_to_vec(), wire);

    let search = Outputs { total: 1, ..out };
    let bytes = search.encode_to_vec();
    assert_eq!(bytes, [&wire[..], &[0x18, 0x01]].concat());
    assert!(b64.encode(&bytes).ends_with("CEPRgB"));
    assert_eq!(decode_outputs(&b64.encode(&bytes)).map(|o| o.total), Ok(1));
}

#[test]
fn error_payloads_decode_to_code_and_text() {
    for (payload, code, text) in [
        (
            NOT_FOUND,
            Code::NotFound,
            "Could not find claim at \"lbry://nothing\".",
        ),
        (INVALID, Code::Invalid, "Invalid LBRY URL"),
    ] {
        let out = decode_outputs(payload).expect("error payload decodes");
        assert_eq!(out.txos.len(), 1);
        let row = &out.txos[0];
        assert!(row.tx_hash.is_empty() && row.claim_meta().is_none());
        let err = row.error().expect("an error row");
        assert_eq!((err.code(), err.text.as_str()), (code, text));
        assert_eq!(err.blocked, None);
    }
    assert_eq!(
        decode_outputs(""),
        Ok(Outputs::default()),
        "unknown channel in a search"
    );
}

#[test]
fn claim_ids_come_from_the_creating_outputs() {
    let channel = claim_hash(&txid(CHANNEL_TXID), 0);
    assert_eq!(
        claim_id_hex(&channel),
        "ab732b2fefc0c603775510753adcce14f61e0163"
    );
    assert_eq!(
        hex::encode(channel),
        "63011ef614cedc3a7510557703c6c0ef2f2b73ab"
    );
    let stream = claim_hash(&txid(STREAM_TXID), 0);
    assert_eq!(
        claim_id_hex(&stream),
        "3cfb4ed59445141be83ce7aad7f542f40d428202"
    );
    assert_eq!(
        parse_claim_id("3cfb4ed59445141be83ce7aad7f542f40d428202"),
        Ok(stream)
    );
    assert_ne!(claim_hash(&txid(STREAM_TXID), 1), stream, "nout counts");
}

#[test]
fn channel_script_parses_to_bar_and_its_public_key() {
    let script = unhex(
        "b5 04 40626172
         26 00 1223 0a21 02b2088c8e144cfea9166b93946a7058c5b4278b992d8cd782e3616dc1100538f5
         6d 75 76a914 235a48fd1d4de44960ab65f74f6c014ee4820dc3 88ac",
    );
    assert_eq!(script.len(), 72);
    let ClaimScript::Claim { name, claim } = parse_claim_script(&script).expect("a claim script")
    else {
        panic!("OP_CLAIM_NAME is a new claim");
    };
    assert_eq!(name, b"@bar");
    let Signable::Unsigned { claim } = parse_signable(&claim).expect("claim bytes") else {
        panic!("a channel claim is unsigned");
    };
    let Some(proto::claim::Type::Channel(channel)) = &claim.r#type else {
        panic!("a channel claim, got {claim:?}");
    };
    assert_eq!(channel.public_key, unhex(CHANNEL_KEY));
    assert!(claim.title.is_empty());
    let pay = unhex("235a48fd1d4de44960ab65f74f6c014ee4820dc3");
    let rebuilt = build::claim_script(b"@bar", &claim_bytes(&claim), &pay.try_into().unwrap());
    assert_eq!(rebuilt, script, "the builder writes the same bytes");
}

fn claim_bytes(claim: &proto::Claim) -> Vec<u8> {
    build::signable_bytes(None, &claim.encode_to_vec())
}

/// The stream claim's protobuf as the doc lists it field by field.
fn stream_payload() -> Vec<u8> {
    let mut p = unhex("0a59 0a57 1207");
    p.extend_from_slice(b"one.bin");
    p.extend_from_slice(&unhex("187b 2218"));
    p.extend_from_slice(b"application/octet-stream");
    p.extend_from_slice(&unhex("3230"));
    p.extend_from_slice(&[0x1a; 48]);
    p.extend_from_slice(&unhex("4203"));
    p.extend_from_slice(b"One");
    p
}

#[test]
fn stream_claim_payload_and_signature_digest_match_the_example() {
    let payload = stream_payload();
    assert_eq!(1 + 20 + 64 + payload.len(), 0xb5, "181 bytes of claim");
    let claim = proto::decode_claim(&payload).expect("stream claim decodes");
    assert_eq!(claim.title, "One");
    let Some(proto::claim::Type::Stream(stream)) = &claim.r#type else {
        panic!("a stream claim");
    };
    let source = stream.source.as_ref().expect("a source");
    assert_eq!(source.name, "one.bin");
    assert_eq!(source.size, 123);
    assert_eq!(source.media_type, "application/octet-stream");
    assert_eq!(hex::encode(&source.sd_hash), "1a".repeat(48));
    assert_eq!(
        claim.encode_to_vec(),
        payload,
        "prost writes the same bytes"
    );

    let channel_hash = claim_hash(&txid(CHANNEL_TXID), 0);
    let first_input = OutPoint {
        tx_hash: txid(CHANNEL_TXID),
        nout: 1,
    };
    assert_eq!(
        hex::encode(signature_digest(&first_input, &channel_hash, &payload)),
        "2b4e5b164475ce662704b7d7c1702373bcc9cf71135659e455472cc7f667573a"
    );

    // The envelope around it, with a placeholder for the 64 elided signature bytes.
    let sig = [0x5a; 64];
    let bytes = build::signable_bytes(Some((&channel_hash, &sig)), &payload);
    assert_eq!(bytes.len(), 181);
    let script = build::claim_script(b"one", &bytes, &[0xe3; 20]);
    assert_eq!(script.len(), 215);
    assert_eq!(&script[..7], &unhex("b5 03 6f6e65 4c b5")[..]);
    let ClaimScript::Claim { name, claim: raw } = parse_claim_script(&script).unwrap() else {
        panic!("a claim script");
    };
    assert_eq!(name, b"one");
    assert_eq!(
        parse_signable(&raw),
        Ok(Signable::Signed {
            channel_hash,
            signature: sig,
            claim,
            payload
        })
    );
}
