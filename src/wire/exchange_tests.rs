use super::*;
use proptest::prelude::*;
use serde_json::json;

/// The hello blob of docs/protocol.md §1.5: 16 encrypted bytes.
const H: &str = "772edb0f65efc2b4be39a6a80a9f5fea827487a5dd350670fa08a17246f09203ed283ca27e9fc09a7c496bae04971026";
const ADDR: &str = "bFakeAddress";

fn h() -> BlobHash {
    H.parse().unwrap()
}

fn other() -> BlobHash {
    BlobHash::digest(b"other")
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap()
}

#[test]
fn standard_request_is_lbry_sdk_byte_for_byte() {
    let bytes = BlobRequest::download(h()).encode();
    let want = format!(
        r#"{{"requested_blobs": ["{H}"], "lbrycrd_address": true, "blob_data_payment_rate": 0.0, "requested_blob": "{H}"}}"#
    );
    assert_eq!(text(bytes.clone()), want);
    assert_eq!(bytes.len(), 295);
    assert_eq!(decode_request(&bytes), Ok(BlobRequest::download(h())));
}

#[test]
fn availability_query_matches_lbry_sdk() {
    let bytes = BlobRequest::availability(vec![h(), other()]).encode();
    let o = other();
    assert_eq!(
        text(bytes),
        format!(r#"{{"requested_blobs": ["{H}", "{o}"], "lbrycrd_address": true}}"#)
    );
    let full = BlobRequest::availability(vec![h(); MAX_HASHES_PER_QUERY]).encode();
    assert!(full.len() < MAX_REQUEST_SIZE, "{} bytes", full.len());
}

#[test]
fn any_combination_of_keys_is_accepted() {
    let only_blob = format!(r#"{{"requested_blob": "{H}"}}"#);
    assert_eq!(
        decode_request(only_blob.as_bytes()),
        Ok(BlobRequest {
            requested_blob: Some(h()),
            ..Default::default()
        })
    );
    let addr_and_rate = br#"{"lbrycrd_address": "x", "blob_data_payment_rate": 1}"#;
    assert_eq!(
        decode_request(addr_and_rate),
        Ok(BlobRequest {
            lbrycrd_address: true,
            blob_data_payment_rate: Some(1.0),
            ..Default::default()
        })
    );
    // Unknown keys next to known ones are ignored, as lbry-sdk does.
    let extra = format!(r#"{{"requested_blob": "{H}", "future": [1, {{"}}": 2}}]}}"#);
    assert!(decode_request(extra.as_bytes()).is_ok());
}

#[test]
fn whitespace_around_a_request_is_tolerated() {
    let req = BlobRequest::download(h()).encode();
    let mut padded = b"\r\n ".to_vec();
    padded.extend_from_slice(&req);
    padded.extend_from_slice(b" \n\t");
    assert_eq!(decode_request(&padded), Ok(BlobRequest::download(h())));
    assert_eq!(decode_request(b" \n"), Err(WireError::Incomplete));
}

fn invalid(buf: &[u8]) -> Invalid {
    match decode_request(buf) {
        Err(WireError::Invalid(e)) => e,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn bad_requests_are_refused_with_a_reason() {
    assert_eq!(invalid(br#"{"foo": 1}"#), Invalid::NoKnownKey);
    assert_eq!(
        invalid(br#"{"requested_blobs": []}"#),
        Invalid::EmptyRequestedBlobs
    );
    assert!(matches!(
        invalid(format!(r#"{{"requested_blob": "{}"}}"#, H.to_uppercase()).as_bytes()),
        Invalid::BadHash {
            key: "requested_blob",
            ..
        }
    ));
    assert!(matches!(
        invalid(br#"{"requested_blob": "abc"}"#),
        Invalid::BadHash { .. }
    ));
    assert!(matches!(
        invalid(br#"{"requested_blob": 7}"#),
        Invalid::BadValue { .. }
    ));
    // A rate that is not a number is accepted (exchange_pay_tests.rs), as lbry-sdk does.
    assert_eq!(invalid(b"hello}"), Invalid::NotAnObject(b'h'));
    assert!(matches!(invalid(br#"{"a": }"#), Invalid::Json(_)));
}

#[test]
fn pipelined_requests_are_refused() {
    let mut two = BlobRequest::download(h()).encode();
    two.extend_from_slice(&BlobRequest::download(other()).encode());
    assert_eq!(invalid(&two), Invalid::TrailingData);
    // Even the first bytes of a second request are enough to refuse.
    let mut partial = BlobRequest::download(h()).encode();
    partial.extend_from_slice(b"{\"req");
    assert_eq!(invalid(&partial), Invalid::TrailingData);
}

#[test]
fn size_limit_is_lbry_sdks_1200_bytes() {
    let body = format!(r#"{{"requested_blob": "{H}", "pad": ""}}"#);
    let fill = MAX_REQUEST_SIZE - 1 - body.len();
    let at_1199 = format!(
        r#"{{"requested_blob": "{H}", "pad": "{}"}}"#,
        "x".repeat(fill)
    );
    assert_eq!(at_1199.len(), 1199);
    assert!(decode_request(at_1199.as_bytes()).is_ok());
    let at_1200 = format!("{at_1199} ");
    assert_eq!(
        invalid(at_1200.as_bytes()),
        Invalid::TooLarge { limit: 1200 }
    );
    let open = format!(r#"{{"pad": "{}"#, "x".repeat(1300));
    assert_eq!(invalid(open.as_bytes()), Invalid::TooLarge { limit: 1200 });
}

fn answer(req: &BlobRequest, have: &[BlobHash], incoming: Option<u64>) -> String {
    text(BlobResponse::answer(req, |x| have.contains(x), incoming, ADDR).encode())
}

#[test]
fn answers_match_lbry_sdk_key_order_and_keys() {
    let std_req = BlobRequest::download(h());
    assert_eq!(
        answer(&std_req, &[h()], Some(16)),
        format!(
            r#"{{"incoming_blob": {{"blob_hash": "{H}", "length": 16}}, "blob_data_payment_rate": "RATE_ACCEPTED", "available_blobs": ["{H}"], "lbrycrd_address": "{ADDR}"}}"#
        )
    );
    assert_eq!(
        answer(&std_req, &[], None),
        format!(
            r#"{{"blob_data_payment_rate": "RATE_ACCEPTED", "available_blobs": [], "lbrycrd_address": "{ADDR}"}}"#
        )
    );
    let query = BlobRequest::availability(vec![h(), other(), h()]);
    assert_eq!(
        answer(&query, &[h()], None),
        format!(r#"{{"available_blobs": ["{H}"], "lbrycrd_address": "{ADDR}"}}"#)
    );
    let no_addr = BlobRequest {
        requested_blobs: Some(vec![h()]),
        ..Default::default()
    };
    assert_eq!(
        answer(&no_addr, &[h()], None),
        format!(r#"{{"available_blobs": ["{H}"], "lbrycrd_address": true}}"#)
    );
    let only_blob = BlobRequest {
        requested_blob: Some(h()),
        ..Default::default()
    };
    assert_eq!(
        answer(&only_blob, &[h()], Some(16)),
        format!(r#"{{"incoming_blob": {{"blob_hash": "{H}", "length": 16}}}}"#)
    );
    assert!(BlobResponse::answer(&only_blob, |_| false, None, ADDR).is_empty());
}

#[test]
fn response_decoder_returns_the_header_length() {
    let header = answer(&BlobRequest::download(h()), &[h()], Some(16));
    let mut buf = header.clone().into_bytes();
    buf.extend_from_slice(b"}}}\"{ blob bytes");
    let (resp, used) = decode_response(&buf, MAX_RESPONSE_HEADER).unwrap();
    assert_eq!(used, header.len());
    assert_eq!(
        resp.incoming_blob,
        Some(IncomingBlob {
            blob_hash: h(),
            length: 16
        })
    );
    assert_eq!(resp.blob_data_payment_rate.as_deref(), Some(RATE_ACCEPTED));
    assert_eq!(resp.available_blobs, Some(vec![h()]));
    assert_eq!(resp.lbrycrd_address, Some(json!(ADDR)));
}

fn invalid_response(buf: &[u8]) -> Invalid {
    match decode_response(buf, 1000) {
        Err(WireError::Invalid(e)) => e,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn response_decoder_is_as_strict_as_lbry_sdk() {
    assert_eq!(invalid_response(b"{}"), Invalid::NoKnownKey);
    assert_eq!(
        invalid_response(br#"{"available_blobs": [], "error": "x"}"#),
        Invalid::UnknownKey("error".into())
    );
    assert!(matches!(
        invalid_response(br#"{"incoming_blob": {"blob_hash": "ab"}}"#),
        Invalid::BadHash { .. }
    ));
    assert!(matches!(
        invalid_response(br#"{"available_blobs": "no"}"#),
        Invalid::BadValue { .. }
    ));
    let negative = format!(r#"{{"incoming_blob": {{"blob_hash": "{H}", "length": -1}}}}"#);
    assert!(matches!(
        invalid_response(negative.as_bytes()),
        Invalid::BadValue { .. }
    ));
    assert_eq!(
        invalid_response(b"HTTP/1.1 400"),
        Invalid::NotAnObject(b'H')
    );
    let refused = br#"{"incoming_blob": {"error": "BLOB_UNAVAILABLE"}}"#;
    assert_eq!(
        decode_response(refused, 1000),
        Ok((BlobResponse::default(), refused.len()))
    );
}

#[test]
fn response_header_limit_is_enforced() {
    let long = format!(r#"{{"available_blobs": ["{}"#, "a".repeat(2000));
    assert_eq!(
        invalid_response(long.as_bytes()),
        Invalid::TooLarge { limit: 1000 }
    );
    assert_eq!(
        decode_response(&long.as_bytes()[..999], 1000),
        Err(WireError::Incomplete)
    );
}

fn arb_hash() -> impl Strategy<Value = BlobHash> {
    any::<[u8; 48]>().prop_map(BlobHash::from_bytes)
}

fn arb_request() -> impl Strategy<Value = BlobRequest> {
    (
        proptest::option::of(proptest::collection::vec(
            arb_hash(),
            1..=MAX_HASHES_PER_QUERY,
        )),
        any::<bool>(),
        // Quarter steps: exact in binary, so equality after a text round trip is meaningful.
        proptest::option::of((-4000i32..4000).prop_map(|n| f64::from(n) / 4.0)),
        proptest::option::of(arb_hash()),
    )
        .prop_map(|(blobs, addr, rate, blob)| BlobRequest {
            requested_blobs: blobs,
            lbrycrd_address: addr,
            blob_data_payment_rate: rate,
            requested_blob: blob,
        })
        .prop_filter("a request has a key", |r| r != &BlobRequest::default())
}

fn arb_response() -> impl Strategy<Value = BlobResponse> {
    (
        proptest::option::of(
            (arb_hash(), 0..=2_097_152u64)
                .prop_map(|(blob_hash, length)| IncomingBlob { blob_hash, length }),
        ),
        proptest::option::of("[A-Z_]{0,20}"),
        proptest::option::of(proptest::collection::vec(arb_hash(), 0..5)),
        proptest::option::of(prop_oneof![
            Just(json!(true)),
            any::<String>().prop_map(Value::String)
        ]),
    )
        .prop_map(|(inc, rate, avail, addr)| BlobResponse {
            incoming_blob: inc,
            blob_data_payment_rate: rate,
            available_blobs: avail,
            lbrycrd_address: addr,
        })
        .prop_filter("a response has a key", |r| !r.is_empty())
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1500)) {
        let _ = decode_request(&bytes);
        let _ = decode_response(&bytes, 1000);
    }

    #[test]
    fn json_like_bytes_never_panic(
        bytes in proptest::collection::vec(proptest::sample::select(b"{}[]\"\\:, a1".to_vec()), 0..300)
    ) {
        let _ = decode_request(&bytes);
        let _ = decode_response(&bytes, 200);
    }

    #[test]
    fn request_round_trips_at_every_split(req in arb_request()) {
        let bytes = req.encode();
        prop_assert!(bytes.len() < MAX_REQUEST_SIZE);
        for k in 0..bytes.len() {
            prop_assert_eq!(decode_request(&bytes[..k]), Err(WireError::Incomplete), "prefix {}", k);
        }
        prop_assert_eq!(decode_request(&bytes), Ok(req));
    }

    #[test]
    fn response_round_trips_at_every_split(
        resp in arb_response(),
        tail in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let header = resp.encode();
        let mut buf = header.clone();
        buf.extend_from_slice(&tail);
        for k in 0..header.len() {
            prop_assert_eq!(decode_response(&buf[..k], MAX_RESPONSE_HEADER), Err(WireError::Incomplete));
        }
        for k in header.len()..=buf.len() {
            prop_assert_eq!(
                decode_response(&buf[..k], MAX_RESPONSE_HEADER),
                Ok((resp.clone(), header.len()))
            );
        }
    }

    #[test]
    fn answers_always_decode_for_the_client(req in arb_request(), have_all in any::<bool>()) {
        let incoming = req.requested_blob.filter(|_| have_all).map(|_| 16);
        let resp = BlobResponse::answer(&req, |_| have_all, incoming, ADDR);
        if !resp.is_empty() {
            let bytes = resp.encode();
            prop_assert_eq!(decode_response(&bytes, MAX_RESPONSE_HEADER), Ok((resp, bytes.len())));
        }
    }
}
