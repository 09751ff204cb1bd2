//! Golden vectors written by Python's protobuf, struct and hashlib
//! (`tests/vectors/hub/make_vectors.py`, values mirrored below): decoding
//! gives every field back, and encoding the same values gives the same bytes.

use prost::Message;

use crate::wire::hub::proto::{self, claim::Type, output::Meta, output_error::Code};
use crate::wire::hub::*;

/// `n` bytes counting up from `fill` (the script's `h`).
fn h(n: usize, fill: usize) -> Vec<u8> {
    (0..n).map(|i| ((fill + i) % 256) as u8).collect()
}

fn source() -> proto::Source {
    proto::Source::default()
}

fn stream_claim() -> proto::Claim {
    proto::Claim {
        r#type: Some(Type::Stream(proto::Stream {
            source: Some(proto::Source {
                hash: h(48, 0),
                name: "river.mp4".into(),
                size: 1_234_567_890_123,
                media_type: "video/mp4".into(),
                sd_hash: h(48, 100),
                ..source()
            }),
            author: "Ann".into(),
            license: "CC-BY-4.0".into(),
            license_url: "https://creativecommons.org/licenses/by/4.0/".into(),
            release_time: 1_700_000_000,
            fee: Some(proto::Fee {
                currency: proto::fee::Currency::Usd as i32,
                address: h(25, 0x55),
                amount: 250,
            }),
        })),
        title: "River \u{2014} a film".into(),
        description: "Water.\nMoving.".into(),
        thumbnail: Some(proto::Source {
            url: "https://thumbs.example/river.jpg".into(),
            ..source()
        }),
        tags: vec!["nature".into(), "water".into()],
        languages: vec![proto::Language {
            language: 40,
            script: 0,
            region: 76,
        }],
        locations: vec![proto::Location {
            country: 3,
            city: "Oslo".into(),
            latitude: -59913,
            longitude: 10752,
            ..Default::default()
        }],
    }
}

fn claim_of(t: Type, title: &str) -> proto::Claim {
    proto::Claim {
        r#type: Some(t),
        title: title.into(),
        ..Default::default()
    }
}

fn reference(hash: Vec<u8>) -> proto::ClaimReference {
    proto::ClaimReference { claim_hash: hash }
}

/// Decodes `bytes` to `expected` and encodes `expected` back to `bytes`.
fn golden(name: &str, bytes: &[u8], expected: proto::Claim) {
    assert_eq!(
        proto::decode_claim(bytes).as_ref(),
        Ok(&expected),
        "{name} decodes"
    );
    assert_eq!(
        expected.encode_to_vec(),
        bytes,
        "{name} encodes byte for byte"
    );
}

#[test]
fn stream_claim_vector_has_every_field() {
    let claim = proto::decode_claim(vector!("claim_stream.bin")).unwrap();
    let Some(Type::Stream(stream)) = &claim.r#type else {
        panic!("stream");
    };
    assert_eq!(
        stream.fee.as_ref().map(|f| f.currency()),
        Some(proto::fee::Currency::Usd)
    );
    golden(
        "claim_stream.bin",
        vector!("claim_stream.bin"),
        stream_claim(),
    );
}

#[test]
fn channel_repost_collection_and_torrent_vectors() {
    let channel = proto::Channel {
        public_key: [&[2u8][..], &h(32, 0x80)].concat(),
        email: "bar@example.org".into(),
        website_url: "https://bar.example".into(),
        cover: Some(proto::Source {
            url: "https://bar.example/cover.png".into(),
            ..source()
        }),
        featured: Some(proto::ClaimList {
            list_type: 0,
            claim_references: vec![reference(h(20, 0xf0))],
        }),
    };
    golden(
        "claim_channel.bin",
        vector!("claim_channel.bin"),
        claim_of(Type::Channel(channel), "Bar"),
    );
    let repost = Type::Repost(reference(h(20, 0x30)));
    golden(
        "claim_repost.bin",
        vector!("claim_repost.bin"),
        claim_of(repost, ""),
    );
    let list = proto::ClaimList {
        list_type: proto::claim_list::ListType::Derivation as i32,
        claim_references: vec![reference(h(20, 1)), reference(h(20, 2))],
    };
    golden(
        "claim_collection.bin",
        vector!("claim_collection.bin"),
        claim_of(Type::Collection(list), "Two"),
    );
    let torrent = proto::Stream {
        source: Some(proto::Source {
            bt_infohash: h(20, 0xb0),
            name: "big.iso".into(),
            size: 4_700_000_000,
            ..source()
        }),
        ..Default::default()
    };
    golden(
        "claim_torrent.bin",
        vector!("claim_torrent.bin"),
        claim_of(Type::Stream(torrent), ""),
    );
}

#[test]
fn undeclared_fields_are_skipped() {
    let bytes = vector!("claim_video.bin");
    let stream = proto::Stream {
        source: Some(proto::Source {
            sd_hash: h(48, 7),
            ..source()
        }),
        ..Default::default()
    };
    let expected = claim_of(Type::Stream(stream), "Clip");
    assert_eq!(proto::decode_claim(bytes), Ok(expected.clone()));
    assert!(
        expected.encode_to_vec().len() < bytes.len(),
        "the video field is dropped"
    );
}

fn ptr(tx_hash: Vec<u8>, nout: u32, height: u32) -> Option<Box<proto::Output>> {
    Some(Box::new(proto::Output {
        tx_hash,
        nout,
        height,
        meta: None,
    }))
}

fn error_row(code: Code, text: &str, blocked: Option<proto::Blocked>) -> proto::Output {
    let e = proto::OutputError {
        code: code as i32,
        text: text.into(),
        blocked,
    };
    proto::Output {
        meta: Some(Meta::Error(e)),
        ..Default::default()
    }
}

fn full_outputs() -> proto::Outputs {
    let meta = proto::ClaimMeta {
        channel: ptr(h(32, 0x20), 1, 900),
        repost: ptr(h(32, 0x40), 0, 800),
        short_url: "river#1".into(),
        canonical_url: "@bar#2/river#1".into(),
        is_controlling: true,
        take_over_height: 1001,
        creation_height: 1002,
        activation_height: 1003,
        expiration_height: 2_103_400,
        claims_in_channel: 0,
        reposted: 5,
        effective_amount: 1 << 40,
        support_amount: 7,
        trending_score: -1.25,
    };
    let blocked = proto::Blocked {
        count: 3,
        channel: ptr(h(32, 0x60), 0, 700),
    };
    let channel_meta = proto::ClaimMeta {
        short_url: "@bar#2".into(),
        canonical_url: "@bar#2".into(),
        claims_in_channel: 42,
        ..Default::default()
    };
    proto::Outputs {
        txos: vec![
            proto::Output {
                tx_hash: h(32, 0x10),
                nout: 2,
                height: 1000,
                meta: Some(Meta::Claim(meta)),
            },
            error_row(
                Code::NotFound,
                "Could not find claim at \"lbry://nothing\".",
                None,
            ),
            error_row(Code::Blocked, "blocked by @censor", Some(blocked.clone())),
        ],
        extra_txos: vec![proto::Output {
            tx_hash: h(32, 0x20),
            nout: 1,
            height: 900,
            meta: Some(Meta::Claim(channel_meta)),
        }],
        total: 1000,
        offset: 20,
        blocked: vec![blocked],
        blocked_total: 3,
    }
}

#[test]
fn outputs_vector_has_every_field_and_encodes_byte_for_byte() {
    let b64 = std::str::from_utf8(vector!("outputs_full.b64")).unwrap();
    let decoded = decode_outputs(b64).expect("decodes");
    assert_eq!(decoded, full_outputs());
    assert_eq!(
        decoded.txos[2].error().map(|e| e.code()),
        Some(Code::Blocked)
    );
    assert_eq!(full_outputs().encode_to_vec(), vector!("outputs_full.bin"));
}

#[test]
fn transaction_vector_parses_and_hashes_as_python_computed() {
    let manifest: serde_json::Value =
        serde_json::from_slice(vector!("manifest.json")).expect("manifest is JSON");
    let m = &manifest["tx_claims.bin"];
    let raw = vector!("tx_claims.bin");
    assert_eq!(txid_hex(&tx_hash(raw)), m["txid"].as_str().unwrap());
    let tx = parse_tx(raw).expect("parses");
    assert_eq!(
        tx.outputs.len() as u64,
        m["outputs"].as_u64().unwrap(),
        "a 0xfd count"
    );
    assert_eq!(
        tx.inputs,
        [
            OutPoint {
                tx_hash: h(32, 0xa0).try_into().unwrap(),
                nout: 7
            },
            OutPoint {
                tx_hash: h(32, 0xa1).try_into().unwrap(),
                nout: 0
            },
        ]
    );
    assert_eq!(tx.outputs[252].value, 1252);
    let ids: Vec<String> = (0..3)
        .map(|n| claim_id_hex(&claim_hash(&tx_hash(raw), n)))
        .collect();
    assert_eq!(serde_json::json!(ids), m["claim_ids"]);

    let ClaimScript::Claim { name, claim } = parse_claim_script(&tx.outputs[0].script).unwrap()
    else {
        panic!("output 0 is a claim");
    };
    assert_eq!(
        (name.as_slice(), claim.len() as u64),
        (&b"river"[..], m["claim_bytes_len"].as_u64().unwrap())
    );
    assert!(matches!(
        parse_claim_script(&tx.outputs[1].script),
        Ok(ClaimScript::Update { claim_hash, .. }) if claim_hash[..] == h(20, 0xc0)[..]
    ));
    assert_eq!(
        parse_claim_script(&tx.outputs[2].script),
        Ok(ClaimScript::Support {
            name: b"river".to_vec(),
            claim_hash: h(20, 0xc0).try_into().unwrap()
        })
    );
    assert!(
        parse_claim_script(&tx.outputs[3].script).is_err(),
        "plain P2PKH"
    );

    let payload = stream_claim().encode_to_vec();
    let digest = signature_digest(&tx.inputs[0], &h(20, 0xc0).try_into().unwrap(), &payload);
    assert_eq!(
        hex::encode(digest),
        m["signature_digest_input0_channel_c0_stream_claim"]
            .as_str()
            .unwrap()
    );
}
