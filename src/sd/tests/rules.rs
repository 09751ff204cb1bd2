//! One test per validation rule: the error names what is wrong.

use super::*;
use crate::hash::HashError;
use serde_json::{json, Value};
use sha2::{Digest, Sha384};

/// The hello.txt descriptor after `f`, serialized by serde_json (compact,
/// keys sorted: a layout lbry-sdk never writes, which the reader must accept).
fn mutated(f: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut v: Value = serde_json::from_str(HELLO_SD).unwrap();
    f(&mut v);
    serde_json::to_vec(&v).unwrap()
}

/// docs/protocol.md §2.3 as lbry-sdk computes it when reading, written independently of the
/// module: names re-hexlified in lowercase, everything else as written.
fn python_stream_hash(v: &Value) -> String {
    let relower = |s: &Value| hex::encode(hex::decode(s.as_str().unwrap()).unwrap());
    let mut sum = Sha384::new();
    for b in v["blobs"].as_array().unwrap() {
        let mut h = Sha384::new();
        if b["length"] != 0 {
            h.update(b["blob_hash"].as_str().unwrap());
        }
        h.update(b["blob_num"].to_string());
        h.update(b["iv"].as_str().unwrap());
        h.update(b["length"].to_string());
        sum.update(h.finalize());
    }
    let mut h = Sha384::new();
    h.update(relower(&v["stream_name"]));
    h.update(v["key"].as_str().unwrap());
    h.update(relower(&v["suggested_file_name"]));
    h.update(sum.finalize());
    hex::encode(h.finalize())
}

/// Like [`mutated`], then the stream hash is made right again, so a later
/// rule cannot hide the one under test.
fn mutated_rehashed(f: impl FnOnce(&mut Value)) -> Vec<u8> {
    mutated(|v| {
        f(v);
        v["stream_hash"] = Value::String(python_stream_hash(v));
    })
}

fn err(bytes: &[u8]) -> SdError {
    let e = StreamDescriptor::parse(bytes).unwrap_err();
    assert!(!e.to_string().is_empty());
    e
}

#[test]
fn the_test_helpers_agree_with_the_vector() {
    let v: Value = serde_json::from_str(HELLO_SD).unwrap();
    assert_eq!(python_stream_hash(&v), v["stream_hash"]);
    assert!(StreamDescriptor::parse(&mutated(|_| {})).is_ok());
}

#[test]
fn size_hash_and_json_errors() {
    let big = vec![b' '; crate::blob::MAX_BLOB_SIZE + 1];
    assert_eq!(err(&big), SdError::TooLarge(big.len()));
    let wrong = SdHash::digest(b"something else");
    let e = StreamDescriptor::parse_verified(HELLO_SD.as_bytes(), &wrong).unwrap_err();
    assert!(matches!(e, SdError::SdHashMismatch { expected, .. } if expected == wrong));
    assert!(e.to_string().contains(&wrong.to_hex()), "{e}");
    assert!(matches!(err(b""), SdError::Json(_)));
    assert!(matches!(err(b"{\"blobs\": [}"), SdError::Json(_)));
    assert!(matches!(
        err(b"{\"stream_name\": \"\xff\"}"),
        SdError::Json(_)
    ));
    let deep = "[".repeat(100_000);
    assert!(matches!(err(deep.as_bytes()), SdError::Json(_)));
    assert_eq!(err(b"[1, 2]"), SdError::NotAnObject("an array".into()));
}

#[test]
fn every_field_must_be_present_with_its_type() {
    for field in [
        "stream_name",
        "key",
        "suggested_file_name",
        "stream_hash",
        "blobs",
    ] {
        let bytes = mutated(|v| {
            v.as_object_mut().unwrap().remove(field);
        });
        assert_eq!(err(&bytes), SdError::MissingField(field), "{field}");
    }
    let e = err(&mutated(|v| v["key"] = json!(5)));
    assert_eq!(
        e.to_string(),
        "field `key` must be a string, got the number 5"
    );
    let e = err(&mutated(|v| v["blobs"] = json!({})));
    assert_eq!(
        e.to_string(),
        "field `blobs` must be an array, got an object"
    );
}

#[test]
fn stream_type_and_unknown_keys_are_ignored_and_last_duplicate_wins() {
    let bytes = mutated(|v| {
        v.as_object_mut().unwrap().remove("stream_type");
        v["extra"] = json!([1, {"x": null}]);
        v["blobs"][0]["comment"] = json!("hi");
    });
    assert!(StreamDescriptor::parse(&bytes).is_ok());
    // As in Python's json.loads, the last of duplicate keys wins.
    let dup = HELLO_SD.replacen("{\"blobs\"", "{\"key\": 1, \"blobs\"", 1);
    assert!(StreamDescriptor::parse(dup.as_bytes()).is_ok());
    let dup = HELLO_SD.replacen("\"stream_type\"", "\"key\": \"00\", \"stream_type\"", 1);
    assert_eq!(err(dup.as_bytes()), SdError::KeyLength(1));
}

#[test]
fn blobs_must_be_a_non_empty_bounded_list_of_objects() {
    assert_eq!(
        err(&mutated(|v| v["blobs"] = json!([]))),
        SdError::NoTerminator
    );
    let many = mutated(|v| v["blobs"] = Value::Array(vec![json!({}); MAX_ENTRIES + 1]));
    assert_eq!(
        err(&many),
        SdError::TooManyBlobs {
            count: MAX_ENTRIES + 1,
            max: MAX_ENTRIES
        }
    );
    let e = err(&mutated(|v| v["blobs"][1] = json!("x")));
    assert_eq!(
        e.to_string(),
        "blobs[1] must be a JSON object, got the string \"x\""
    );
}

#[test]
fn entry_fields_must_be_present_with_their_types() {
    for field in ["blob_num", "iv", "length"] {
        let bytes = mutated(|v| {
            v["blobs"][0].as_object_mut().unwrap().remove(field);
        });
        assert_eq!(
            err(&bytes),
            SdError::EntryMissingField { index: 0, field },
            "{field}"
        );
    }
    let bytes = mutated(|v| {
        v["blobs"][0].as_object_mut().unwrap().remove("blob_hash");
    });
    assert_eq!(
        err(&bytes),
        SdError::EntryMissingField {
            index: 0,
            field: "blob_hash"
        }
    );
    let cases = [
        (json!(-16), "the number -16"),
        (json!(16.0), "the number 16.0"),
        (json!("16"), "the string \"16\""),
        (json!(true), "the boolean true"),
        (json!(null), "null"),
    ];
    for (bad, got) in cases {
        let e = err(&mutated(|v| v["blobs"][0]["length"] = bad));
        assert_eq!(
            e.to_string(),
            format!("blobs[0].length must be a non-negative integer, got {got}")
        );
    }
    let huge = HELLO_SD.replacen("\"length\": 16", "\"length\": 18446744073709551616", 1);
    assert!(matches!(
        err(huge.as_bytes()),
        SdError::EntryFieldType {
            index: 0,
            field: "length",
            ..
        }
    ));
    let e = err(&mutated(|v| v["blobs"][1]["iv"] = json!(7)));
    assert_eq!(
        e.to_string(),
        "blobs[1].iv must be a string, got the number 7"
    );
    let e = err(&mutated(|v| v["blobs"][0]["blob_hash"] = json!(null)));
    assert_eq!(
        e.to_string(),
        "blobs[0].blob_hash must be a string, got null"
    );
}

#[test]
fn rule_2_the_last_entry_must_have_length_0() {
    let bytes = mutated(|v| {
        v["blobs"].as_array_mut().unwrap().pop();
    });
    assert_eq!(
        err(&bytes),
        SdError::LastNotTerminator {
            index: 0,
            length: 16
        }
    );
    // The terminator moved to the front (lbry-sdk's test_terminator_not_at_end).
    let bytes = mutated(|v| v["blobs"].as_array_mut().unwrap().reverse());
    assert_eq!(
        err(&bytes),
        SdError::LastNotTerminator {
            index: 1,
            length: 16
        }
    );
}

#[test]
fn rule_3_only_the_terminator_may_be_empty() {
    let e = err(&mutated(|v| v["blobs"][0]["length"] = json!(0)));
    assert_eq!(e, SdError::EmptyDataBlob { index: 0 });
    assert!(e.to_string().contains("blobs[0] has length 0"), "{e}");
}

#[test]
fn rule_4_the_terminator_has_no_blob_hash() {
    let e = err(&mutated(|v| {
        v["blobs"][1]["blob_hash"] = json!("1".repeat(96))
    }));
    assert_eq!(e, SdError::TerminatorHasHash { index: 1 });
    // Present counts, whatever the value (lbry-sdk tests `'blob_hash' in`).
    let e = err(&mutated(|v| v["blobs"][1]["blob_hash"] = json!(null)));
    assert_eq!(e, SdError::TerminatorHasHash { index: 1 });
}

#[test]
fn rule_5_entries_are_numbered_from_0() {
    let e = err(&mutated(|v| v["blobs"][1]["blob_num"] = json!(2)));
    assert_eq!(
        e,
        SdError::BlobNumMismatch {
            index: 1,
            blob_num: 2
        }
    );
    assert_eq!(
        e.to_string(),
        "blobs[1] has blob_num 2, expected 1 (entries must be numbered 0, 1, 2, ...)"
    );
}

#[test]
fn names_must_be_hex() {
    let e = err(&mutated(|v| v["stream_name"] = json!("6g")));
    assert!(
        matches!(
            e,
            SdError::NameHex {
                field: "stream_name",
                ..
            }
        ),
        "{e}"
    );
    let e = err(&mutated(|v| v["suggested_file_name"] = json!("686")));
    assert_eq!(
        e,
        SdError::NameHex {
            field: "suggested_file_name",
            error: hex::FromHexError::OddLength
        }
    );
}

#[test]
fn names_are_rehexlified_in_lowercase_for_the_stream_hash() {
    // Uppercase name hex decodes, and lbry-sdk hashes the lowercase form.
    let bytes = mutated(|v| v["stream_name"] = json!("68656C6C6F2E747874"));
    let sd = StreamDescriptor::parse(&bytes).unwrap();
    assert_eq!(sd.stream_name(), b"hello.txt");
}

#[test]
fn key_must_be_hex_of_an_aes_key_size() {
    let e = err(&mutated(|v| v["key"] = json!("xx")));
    assert!(matches!(e, SdError::KeyHex(_)), "{e}");
    let e = err(&mutated(|v| v["key"] = json!("00".repeat(15))));
    assert_eq!(e, SdError::KeyLength(15));
    assert!(e.to_string().contains("15 bytes"), "{e}");
}

#[test]
fn key_and_iv_are_hashed_as_written() {
    let bytes = mutated_rehashed(|v| {
        v["key"] = json!("000102030405060708090A0B0C0D0E0F");
        v["blobs"][0]["iv"] = json!("0101010101010101010101010101010A");
    });
    let sd = StreamDescriptor::parse(&bytes).unwrap();
    assert_eq!(
        sd.key().as_bytes(),
        &hex::decode("000102030405060708090a0b0c0d0e0f").unwrap()[..]
    );
    assert_eq!(sd.blobs()[0].iv[15], 0x0a);
    // Written back as read, so the stream hash inside stays true.
    let back = String::from_utf8(sd.to_bytes()).unwrap();
    assert!(
        back.contains("\"key\": \"000102030405060708090A0B0C0D0E0F\""),
        "{back}"
    );
    assert!(StreamDescriptor::parse(back.as_bytes()).is_ok());
    // The same change without a matching stream hash is refused.
    let stale = mutated(|v| v["key"] = json!("000102030405060708090A0B0C0D0E0F"));
    assert!(matches!(err(&stale), SdError::StreamHashMismatch { .. }));
}

#[test]
fn ivs_are_16_bytes_of_hex() {
    let e = err(&mutated(|v| v["blobs"][1]["iv"] = json!("0202")));
    assert_eq!(e, SdError::IvLength { index: 1, chars: 4 });
    assert_eq!(
        e.to_string(),
        "blobs[1].iv is 4 characters, expected 32 hex characters (16 bytes)"
    );
    let e = err(&mutated(|v| v["blobs"][0]["iv"] = json!("z".repeat(32))));
    assert!(matches!(e, SdError::IvHex { index: 0, .. }), "{e}");
}

#[test]
fn blob_hashes_are_lowercase_hex_of_48_bytes() {
    let upper = "772EDB0F65EFC2B4BE39A6A80A9F5FEA827487A5DD350670FA08A17246F09203ED283CA27E9FC09A7C496BAE04971026";
    let e = err(&mutated(|v| v["blobs"][0]["blob_hash"] = json!(upper)));
    assert_eq!(
        e,
        SdError::BlobHash {
            index: 0,
            error: HashError::Char { ch: 'E', pos: 3 }
        }
    );
    let e = err(&mutated(|v| v["blobs"][0]["blob_hash"] = json!("abc")));
    assert_eq!(
        e,
        SdError::BlobHash {
            index: 0,
            error: HashError::Length(3)
        }
    );
}

#[test]
fn data_blob_lengths_are_bounded_multiples_of_16() {
    let e = err(&mutated(|v| v["blobs"][0]["length"] = json!(2_097_168)));
    assert_eq!(
        e,
        SdError::BlobTooLarge {
            index: 0,
            length: 2_097_168
        }
    );
    let e = err(&mutated(|v| v["blobs"][0]["length"] = json!(17)));
    assert_eq!(
        e,
        SdError::BlobLengthNotBlocks {
            index: 0,
            length: 17
        }
    );
}

#[test]
fn rule_6_the_stream_hash_must_match() {
    // lbry-sdk's test_invalid_stream_hash.
    let e = err(&mutated(|v| {
        v["blobs"][0]["blob_hash"] = json!("1".repeat(96))
    }));
    match e {
        SdError::StreamHashMismatch { written, computed } => {
            assert_eq!(written, "a496d2fc18915c6259b19ef32ee576aa7e054fb3e7d8fadee1034f4b54d393703dff1ecfffaba83069f95c17f8ebe78f");
            assert_ne!(computed, written);
        }
        other => panic!("unexpected {other:?}"),
    }
    let e = err(&mutated(|v| v["stream_hash"] = json!("x".repeat(5000))));
    assert!(e.to_string().len() < 400, "untrusted text is clipped: {e}");
}
