//! One codec at a time: URLs, transactions, scripts, envelopes, payload limits.

use base64::Engine;
use prost::Message;

use super::unhex;
use crate::wire::hub::proto;
use crate::wire::hub::*;

fn url(s: &str) -> LbryUrl {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn part(name: &str, modifier: Option<Modifier>) -> Option<UrlPart> {
    Some(UrlPart {
        name: name.into(),
        modifier,
    })
}

#[test]
fn urls_parse_with_and_without_scheme() {
    let both = LbryUrl {
        channel: part("@bar", Some(Modifier::ClaimId("a".into()))),
        stream: part("one", Some(Modifier::ClaimId("3".into()))),
    };
    assert_eq!(url("lbry://@bar#a/one#3"), both);
    assert_eq!(url("@bar#a/one#3"), both);
    assert_eq!(url("@bar:a/one:3"), both, "':' is a claim-id separator too");
    assert_eq!(both.to_string(), "lbry://@bar#a/one#3");
    assert_eq!(
        url("one"),
        LbryUrl {
            channel: None,
            stream: part("one", None)
        }
    );
    assert_eq!(
        url("lbry://@bar"),
        LbryUrl {
            channel: part("@bar", None),
            stream: None
        }
    );
    assert_eq!(
        url("name$2").stream,
        part("name", Some(Modifier::AmountOrder(2)))
    );
    let full = "ab732b2fefc0c603775510753adcce14f61e0163";
    assert_eq!(
        url(&format!("x#{full}")).stream,
        part("x", Some(Modifier::ClaimId(full.into())))
    );
    assert_eq!(
        url("Ünïcödé-名前_1.0").to_string(),
        "lbry://Ünïcödé-名前_1.0"
    );
    assert_eq!(url("lbry://@bar/one").to_string(), "lbry://@bar/one");
}

#[test]
fn invalid_urls_are_refused_with_a_reason() {
    for bad in [
        "",
        "lbry://",
        "@",
        "@/one",
        "@bar/",
        "one/two",
        "a b",
        "a\tb",
        "a\u{0}b",
        "not a url",
        "a=b",
        "a&b",
        "a%20",
        "a?x",
        "a;b",
        "a\"b",
        "a\\b",
        "a<b",
        "a>b",
        "a{b",
        "a}b",
        "a|b",
        "a^b",
        "a~b",
        "a`b",
        "a[b",
        "a]b",
        "a@b",
        "@bar/@baz",
        "@bar/one/two",
        "a#",
        "a#G",
        "a#ABC",
        "a:",
        "a$",
        "a$0",
        "a$01",
        "a$x",
        "a$4294967296",
        "a#0#1",
        "a#1$2",
        "a\u{fffe}",
        "lbry://lbry://x",
        "x#ab732b2fefc0c603775510753adcce14f61e01634",
    ] {
        let err = bad.parse::<LbryUrl>().expect_err(bad);
        assert!(
            !err.reason.is_empty() && err.to_string().contains("invalid LBRY URL"),
            "{bad}"
        );
    }
    let err = "lbry://a b".parse::<LbryUrl>().unwrap_err();
    assert_eq!(err.url, "lbry://a b");
    assert!(err.reason.contains("' '"), "{err}");
}

#[test]
fn looks_like_url_sees_scheme_or_a_parsable_name() {
    assert!(
        looks_like_url("lbry://a b"),
        "the scheme says it, even if invalid"
    );
    assert!(looks_like_url("@chan/name"));
    assert!(looks_like_url("name"));
    assert!(!looks_like_url("a b"));
    assert!(!looks_like_url(""));
}

#[test]
fn txids_and_claim_ids_are_reversed_hex() {
    let mut hash = [0u8; 32];
    hash[0] = 0xab;
    let id = txid_hex(&hash);
    assert!(id.ends_with("ab") && id.len() == 64);
    assert_eq!(parse_txid(&id), Ok(hash));
    assert_eq!(parse_txid(&id.to_uppercase()), Ok(hash));
    for bad in ["", "ab", &id[1..], &format!("{id}0"), &id.replace('a', "g")] {
        assert!(
            matches!(parse_txid(bad), Err(HubWireError::BadHex { .. })),
            "{bad}"
        );
    }
    assert!(parse_claim_id("3cfb4ed59445141be83ce7aad7f542f40d42820").is_err());
    assert!(
        parse_claim_id("é".repeat(20).as_str()).is_err(),
        "multi-byte chars, 40 bytes"
    );
}

/// version 1, one input, one output (script `51`), locktime.
fn small_tx() -> Vec<u8> {
    unhex(&format!(
        "01000000 01 {} 00000000 00 ffffffff 01 0100000000000000 01 51 00000000",
        "11".repeat(32)
    ))
}

#[test]
fn transactions_parse_and_refuse_truncation_trailing_bytes_and_segwit() {
    let raw = small_tx();
    let tx = parse_tx(&raw).expect("parses");
    assert_eq!(
        tx.inputs,
        [OutPoint {
            tx_hash: [0x11; 32],
            nout: 0
        }]
    );
    assert_eq!(
        tx.outputs,
        [TxOut {
            value: 1,
            script: vec![0x51]
        }]
    );
    for cut in 0..raw.len() {
        assert!(parse_tx(&raw[..cut]).is_err(), "cut at {cut}");
    }
    let long = [&raw[..], &[0]].concat();
    assert_eq!(
        parse_tx(&long),
        Err(HubWireError::TrailingBytes {
            what: "transaction",
            count: 1
        })
    );
    let segwit = unhex(&format!(
        "01000000 0001 01 {} 00000000 00 ffffffff",
        "11".repeat(32)
    ));
    assert_eq!(parse_tx(&segwit), Err(HubWireError::Segwit));
}

#[test]
fn hostile_counts_are_refused_before_allocating() {
    let huge_inputs = unhex("01000000 ff ffffffffffffffff");
    assert!(matches!(
        parse_tx(&huge_inputs),
        Err(HubWireError::TooMany {
            what: "input count",
            ..
        })
    ));
    let mut huge_outputs = small_tx();
    huge_outputs.truncate(4 + 1 + 41);
    huge_outputs.extend_from_slice(&unhex("fe ffffff7f"));
    assert!(matches!(
        parse_tx(&huge_outputs),
        Err(HubWireError::TooMany {
            what: "output count",
            ..
        })
    ));
    let mut huge_script = small_tx();
    huge_script.truncate(4 + 1 + 41 + 1 + 8);
    huge_script.extend_from_slice(&unhex("ff 0000000000000001"));
    assert!(matches!(
        parse_tx(&huge_script),
        Err(HubWireError::TooMany {
            what: "output script",
            ..
        })
    ));
    let too_big = vec![0u8; tx::MAX_TX_BYTES + 1];
    assert!(matches!(
        parse_tx(&too_big),
        Err(HubWireError::TooLarge { .. })
    ));
}

#[test]
fn claim_scripts_need_the_exact_claim_prefix() {
    let pay = [9u8; 20];
    let claim = build::claim_script(b"n", b"\x00c", &pay);
    assert_eq!(
        parse_claim_script(&claim),
        Ok(ClaimScript::Claim {
            name: b"n".to_vec(),
            claim: b"\x00c".to_vec()
        })
    );
    let empty_name = build::claim_script(b"", b"", &pay);
    assert_eq!(&empty_name[..3], &[0xb5, 0x00, 0x00], "OP_0 pushes");
    assert!(parse_claim_script(&empty_name).is_ok());
    let big = vec![7u8; 70_000];
    let s = build::claim_script(b"big", &big, &pay);
    assert_eq!(s[5], script::OP_PUSHDATA4);
    assert_eq!(
        parse_claim_script(&s),
        Ok(ClaimScript::Claim {
            name: b"big".to_vec(),
            claim: big
        })
    );
    let with_data = unhex("b6 01 6e 14 0101010101010101010101010101010101010101 02 ffff 6d 6d 51");
    assert_eq!(
        parse_claim_script(&with_data),
        Ok(ClaimScript::Support {
            name: b"n".to_vec(),
            claim_hash: [1; 20]
        })
    );

    for (bad, why) in [
        ("", "empty"),
        (
            "76a914 0000000000000000000000000000000000000000 88ac",
            "P2PKH",
        ),
        ("b5", "no name"),
        ("b5 01 6e", "no claim"),
        ("b5 01 6e 01 00", "no drops"),
        ("b5 01 6e 01 00 6d 6d", "update drops on a claim"),
        ("b5 01 6e 05 00", "push longer than the script"),
        ("b5 01 6e 4d ff", "PUSHDATA2 cut"),
        ("b5 01 6e 4e ffffffff 00", "PUSHDATA4 past the end"),
        ("b5 51 6e", "not a push"),
        (
            "b7 01 6e 13 00000000000000000000000000000000000000 00 6d 6d",
            "19-byte claim hash",
        ),
        (
            "b6 01 6e 14 0101010101010101010101010101010101010101 6d",
            "half the drops",
        ),
    ] {
        assert!(parse_claim_script(&unhex(bad)).is_err(), "{why}");
    }
}

#[test]
fn claim_envelopes_are_unsigned_signed_or_legacy() {
    assert_eq!(parse_signable(&[]), Err(HubWireError::EmptyClaim));
    assert!(
        matches!(parse_signable(&[0]), Ok(Signable::Unsigned { .. })),
        "an empty claim"
    );
    assert_eq!(
        parse_signable(&[1; 84]),
        Err(HubWireError::ShortSignedClaim(84))
    );
    assert!(
        matches!(parse_signable(&[1; 85]), Ok(Signable::Signed { payload, .. }) if payload.is_empty())
    );
    assert!(
        matches!(parse_signable(&[1; 86]), Err(HubWireError::Protobuf { .. })),
        "field 0 is no field"
    );
    assert_eq!(
        parse_signable(b"{\"ver\": \"0.0.3\"}"),
        Ok(Signable::Legacy)
    );
    assert_eq!(
        parse_signable(&[0x08, 0x01]),
        Ok(Signable::Legacy),
        "a v1 protobuf"
    );
    assert!(matches!(
        parse_signable(&[0, 0x0a, 0x05, 0x01]),
        Err(HubWireError::Protobuf {
            message: "Claim",
            ..
        })
    ));
}

#[test]
fn outputs_payloads_are_bounded_and_checked() {
    let b64 = base64::engine::general_purpose::STANDARD;
    assert!(matches!(
        decode_outputs("Cn0K"),
        Err(HubWireError::Protobuf {
            message: "Outputs",
            ..
        })
    ));
    assert!(matches!(
        decode_outputs("not base64!"),
        Err(HubWireError::Base64(_))
    ));
    assert!(
        matches!(decode_outputs("Cg"), Err(HubWireError::Base64(_))),
        "padding is required"
    );
    assert!(matches!(
        decode_outputs("Cg==\n"),
        Err(HubWireError::Base64(_))
    ));
    let over = "A".repeat((MAX_OUTPUTS_BYTES / 3 + 2) * 4);
    assert!(matches!(
        decode_outputs(&over),
        Err(HubWireError::TooLarge { .. })
    ));
    // Exactly at the limit is accepted, one byte more is not.
    let sized = |n: usize| {
        let txo = proto::Output {
            tx_hash: vec![0; n],
            ..Default::default()
        };
        proto::Outputs {
            txos: vec![txo],
            ..Default::default()
        }
        .encode_to_vec()
    };
    let mut n = MAX_OUTPUTS_BYTES - 10;
    while sized(n).len() < MAX_OUTPUTS_BYTES {
        n += 1;
    }
    let at_limit = sized(n);
    assert_eq!(at_limit.len(), MAX_OUTPUTS_BYTES);
    assert_eq!(
        decode_outputs(&b64.encode(&at_limit)).map(|o| o.txos[0].tx_hash.len()),
        Ok(n)
    );
    assert!(matches!(
        decode_outputs(&b64.encode(sized(n + 1))),
        Err(HubWireError::TooLarge { len, .. }) if len == MAX_OUTPUTS_BYTES + 1
    ));
}
