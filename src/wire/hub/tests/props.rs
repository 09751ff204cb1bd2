//! Properties: every parser is total on arbitrary input (no panic, no huge
//! allocation), and what the builders write parses back to itself.

use base64::Engine;
use proptest::array::uniform;
use proptest::collection::vec;
use proptest::prelude::*;
use prost::Message;

use crate::wire::hub::census;
use crate::wire::hub::proto::{self, claim::Type};
use crate::wire::hub::*;

fn outpoint() -> impl Strategy<Value = OutPoint> {
    (uniform::<_, 32>(any::<u8>()), any::<u32>())
        .prop_map(|(tx_hash, nout)| OutPoint { tx_hash, nout })
}

fn tx() -> impl Strategy<Value = Tx> {
    let out = (any::<u64>(), vec(any::<u8>(), 0..300))
        .prop_map(|(value, script)| TxOut { value, script });
    (vec(outpoint(), 1..4), vec(out, 0..4)).prop_map(|(inputs, outputs)| Tx { inputs, outputs })
}

/// A name as LBRY allows it: any characters but the forbidden ones.
fn name() -> impl Strategy<Value = String> {
    "[^=&#:$@%?;\"/\\\\<>{}|^~`\\[\\]\\x00-\\x20\u{fffe}\u{ffff}]{1,12}"
}

fn url_part(channel: bool) -> impl Strategy<Value = UrlPart> {
    let modifier = prop_oneof![
        Just(None),
        "[0-9a-f]{1,40}".prop_map(|id| Some(Modifier::ClaimId(id))),
        (1..=u32::MAX).prop_map(|n| Some(Modifier::AmountOrder(n))),
    ];
    (name(), modifier).prop_map(move |(n, modifier)| UrlPart {
        name: if channel { format!("@{n}") } else { n },
        modifier,
    })
}

fn lbry_url() -> impl Strategy<Value = LbryUrl> {
    prop_oneof![
        url_part(false).prop_map(|s| LbryUrl {
            channel: None,
            stream: Some(s)
        }),
        url_part(true).prop_map(|c| LbryUrl {
            channel: Some(c),
            stream: None
        }),
        (url_part(true), url_part(false)).prop_map(|(c, s)| LbryUrl {
            channel: Some(c),
            stream: Some(s)
        }),
    ]
}

proptest! {
    #[test]
    fn parsers_never_panic_on_arbitrary_bytes(bytes in vec(any::<u8>(), 0..600)) {
        let _ = parse_tx(&bytes);
        let _ = parse_claim_script(&bytes);
        let _ = parse_signable(&bytes);
        let _ = proto::decode_claim(&bytes);
        let _ = decode_outputs(&base64::engine::general_purpose::STANDARD.encode(&bytes));
        let _ = verify_signature(&[0; 32], &[7; 64], &bytes);
        if let Ok(s) = std::str::from_utf8(&bytes) {
            let _ = decode_outputs(s);
            let _ = s.parse::<LbryUrl>();
            let _ = parse_txid(s);
            let _ = parse_claim_id(s);
        }
    }

    #[test]
    fn claim_prefixed_garbage_never_panics(op in 0xb5u8..=0xb7, tail in vec(any::<u8>(), 0..300)) {
        let script = [&[op][..], &tail].concat();
        let _ = parse_claim_script(&script);
        let _ = parse_signable(&[&[1u8][..], &tail].concat());
    }

    #[test]
    fn encoded_transactions_parse_back_and_cuts_fail(tx in tx(), cut in any::<prop::sample::Index>()) {
        let raw = build::encode_tx(&tx);
        prop_assert_eq!(parse_tx(&raw), Ok(tx));
        let cut = cut.index(raw.len());
        prop_assert!(parse_tx(&raw[..cut]).is_err());
        prop_assert!(parse_tx(&[&raw[..], &[0]].concat()).is_err());
    }

    #[test]
    fn built_claim_scripts_parse_back(
        name in vec(any::<u8>(), 0..80),
        claim in vec(any::<u8>(), 0..600),
        hash in uniform::<_, 20>(any::<u8>()),
        pay in uniform::<_, 20>(any::<u8>()),
    ) {
        prop_assert_eq!(
            parse_claim_script(&build::claim_script(&name, &claim, &pay)),
            Ok(ClaimScript::Claim { name: name.clone(), claim: claim.clone() })
        );
        prop_assert_eq!(
            parse_claim_script(&build::update_script(&name, &hash, &claim, &pay)),
            Ok(ClaimScript::Update { name: name.clone(), claim_hash: hash, claim })
        );
        prop_assert_eq!(
            parse_claim_script(&build::support_script(&name, &hash, &pay)),
            Ok(ClaimScript::Support { name, claim_hash: hash })
        );
    }

    #[test]
    fn ids_round_trip_through_hex(hash in uniform::<_, 32>(any::<u8>()), nout in any::<u32>()) {
        prop_assert_eq!(parse_txid(&txid_hex(&hash)), Ok(hash));
        let claim = claim_hash(&hash, nout);
        prop_assert_eq!(parse_claim_id(&claim_id_hex(&claim)), Ok(claim));
    }

    #[test]
    fn urls_print_and_parse_back(url in lbry_url()) {
        let text = url.to_string();
        prop_assert_eq!(text.parse::<LbryUrl>(), Ok(url.clone()));
        prop_assert_eq!(text["lbry://".len()..].parse::<LbryUrl>(), Ok(url));
        prop_assert!(looks_like_url(&text));
    }

    #[test]
    fn signed_envelopes_open_to_what_was_sealed(
        title in ".{0,40}",
        sd in vec(any::<u8>(), 0..60),
        hash in uniform::<_, 20>(any::<u8>()),
        sig in uniform::<_, 64>(any::<u8>()),
    ) {
        let claim = proto::Claim {
            r#type: Some(Type::Stream(proto::Stream {
                source: Some(proto::Source { sd_hash: sd, ..Default::default() }),
                ..Default::default()
            })),
            title,
            ..Default::default()
        };
        let payload = claim.encode_to_vec();
        let bytes = build::signable_bytes(Some((&hash, &sig)), &payload);
        prop_assert_eq!(
            parse_signable(&bytes),
            Ok(Signable::Signed { channel_hash: hash, signature: sig, claim: claim.clone(), payload: payload.clone() })
        );
        prop_assert_eq!(parse_signable(&build::signable_bytes(None, &payload)), Ok(Signable::Unsigned { claim }));
    }
}

/// `Outputs { txos: [Output { claim: ClaimMeta { channel: Output { … } } }] }`, `levels` Outputs deep.
fn nested(levels: usize) -> String {
    let mut inner: Vec<u8> = Vec::new();
    for _ in 1..levels {
        let mut meta = vec![0x0a];
        put_len(&mut meta, inner.len());
        meta.extend_from_slice(&inner);
        let mut output = vec![0x3a];
        put_len(&mut output, meta.len());
        output.extend_from_slice(&meta);
        inner = output;
    }
    let mut outputs = vec![0x0a];
    put_len(&mut outputs, inner.len());
    outputs.extend_from_slice(&inner);
    base64::engine::general_purpose::STANDARD.encode(&outputs)
}

fn put_len(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Deep nesting is refused by the walk before prost (or the stack) sees it.
#[test]
fn deep_nesting_is_refused_before_decoding() {
    // Outputs (0) → Output (1) → ClaimMeta (2) → Output (3) …: 8 Outputs reach depth 15.
    assert!(decode_outputs(&nested(8)).is_ok());
    assert!(matches!(
        decode_outputs(&nested(9)),
        Err(HubWireError::TooLarge {
            what: "Outputs nesting depth",
            len: 17,
            limit: 16
        })
    ));
    assert!(matches!(
        decode_outputs(&nested(2000)),
        Err(HubWireError::TooLarge { .. })
    ));
}

/// An empty `Output` is 2 bytes on the wire and ~150 in memory: rows are counted first.
#[test]
fn too_many_messages_are_refused_before_decoding() {
    let b64 = base64::engine::general_purpose::STANDARD;
    let rows = |n: usize| b64.encode([0x0a, 0x00].repeat(n));
    let max = census::MAX_MESSAGES;
    assert_eq!(decode_outputs(&rows(max)).map(|o| o.txos.len()), Ok(max));
    assert_eq!(
        decode_outputs(&rows(max + 1)),
        Err(HubWireError::TooLarge {
            what: "Outputs message count",
            len: max + 1,
            limit: max
        })
    );
    // Messages count wherever they sit: extra_txos, blocked, nested pointers.
    let mixed = [
        [0x12, 0x00].repeat(max / 2),
        [0x2a, 0x00].repeat(max / 2 + 1),
    ]
    .concat();
    assert!(matches!(
        decode_outputs(&b64.encode(mixed)),
        Err(HubWireError::TooLarge { .. })
    ));
    // Other fields cost nothing: a long string is one field, not a message.
    let text = proto::Outputs {
        txos: vec![proto::Output {
            tx_hash: vec![0; 100_000],
            ..Default::default()
        }],
        ..Default::default()
    };
    assert!(decode_outputs(&b64.encode(text.encode_to_vec())).is_ok());
}

#[test]
fn malformed_wire_is_refused_by_the_walk() {
    let b64 = base64::engine::general_purpose::STANDARD;
    for (bytes, why) in [
        (&[0x0b][..], "wire type 3 (group)"),
        (&[0x0a, 0x05, 0x00], "length past the end"),
        (&[0x19, 0x00], "fixed64 cut"),
        (&[0x18, 0x80], "cut varint"),
        (
            &[
                0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ],
            "11-byte varint",
        ),
    ] {
        assert!(
            matches!(
                decode_outputs(&b64.encode(bytes)),
                Err(HubWireError::Protobuf { .. })
            ),
            "{why}"
        );
    }
}
