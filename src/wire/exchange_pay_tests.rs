//! Payment rates and availability queries, request bytes in and answer bytes
//! out, exactly as lbry-sdk's server (`lbry/blob_exchange/server.py`,
//! `handle_request`) answers them. The request bytes are those lbry-sdk's
//! client writes (`BlobRequest.make_request_for_blob_hash`), those the
//! lbrynet clients before it wrote (an availability query, then a price
//! offer at the old default `data_rate` of 0.0001), and odd ones a peer may
//! send.

use super::*;

/// The hello blob of docs/protocol.md §1.5: 16 encrypted bytes.
const H: &str = "772edb0f65efc2b4be39a6a80a9f5fea827487a5dd350670fa08a17246f09203ed283ca27e9fc09a7c496bae04971026";
const ADDR: &str = "bFakeAddress";

fn h() -> BlobHash {
    H.parse().unwrap()
}

fn unknown() -> String {
    BlobHash::digest(b"unknown").to_hex()
}

/// What the server writes for `request` when it holds only `H` (16 bytes).
fn answer(request: &str) -> Result<String, Invalid> {
    let req = match decode_request(request.as_bytes()) {
        Ok(req) => req,
        Err(WireError::Invalid(e)) => return Err(e),
        Err(WireError::Incomplete) => panic!("incomplete: {request}"),
    };
    let incoming = req.requested_blob.filter(|x| *x == h()).map(|_| 16);
    let resp = BlobResponse::answer(&req, |x| *x == h(), incoming, ADDR);
    Ok(String::from_utf8(resp.encode()).unwrap())
}

fn refused(request: &str) -> Invalid {
    answer(request).expect_err(request)
}

fn standard(x: &str, rate: &str) -> String {
    format!(
        r#"{{"requested_blobs": ["{x}"], "lbrycrd_address": true, "blob_data_payment_rate": {rate}, "requested_blob": "{x}"}}"#
    )
}

#[test]
fn every_offered_rate_is_accepted_as_lbry_sdk_accepts_it() {
    let held = format!(
        r#"{{"incoming_blob": {{"blob_hash": "{H}", "length": 16}}, "blob_data_payment_rate": "RATE_ACCEPTED", "available_blobs": ["{H}"], "lbrycrd_address": "{ADDR}"}}"#
    );
    // lbry-sdk's server never answers RATE_TOO_LOW or RATE_UNSET: zero, a
    // price, a negative price, an integer, all are accepted.
    for rate in ["0.0", "0.0001", "2.5", "-1.0", "0", "7", "1e-9"] {
        assert_eq!(
            answer(&standard(H, rate)).as_deref(),
            Ok(held.as_str()),
            "{rate}"
        );
    }
    let missing = format!(
        r#"{{"blob_data_payment_rate": "RATE_ACCEPTED", "available_blobs": [], "lbrycrd_address": "{ADDR}"}}"#
    );
    assert_eq!(answer(&standard(&unknown(), "-0.5")), Ok(missing));
}

#[test]
fn an_offer_that_is_not_a_number_is_accepted_too() {
    // `BlobPriceRequest` keeps whatever value came; the answer does not look at it.
    for rate in [r#""free""#, "null", "[]", "{}", "true", r#""0.0""#] {
        let request = format!(r#"{{"blob_data_payment_rate": {rate}}}"#);
        assert_eq!(
            answer(&request).as_deref(),
            Ok(r#"{"blob_data_payment_rate": "RATE_ACCEPTED"}"#),
            "{rate}"
        );
    }
}

#[test]
fn a_rate_alone_or_with_a_download_is_answered_in_one_object() {
    assert_eq!(
        answer(r#"{"blob_data_payment_rate": 0.0}"#).as_deref(),
        Ok(r#"{"blob_data_payment_rate": "RATE_ACCEPTED"}"#)
    );
    let with_blob = format!(r#"{{"blob_data_payment_rate": 0.0, "requested_blob": "{H}"}}"#);
    assert_eq!(
        answer(&with_blob),
        Ok(format!(
            r#"{{"incoming_blob": {{"blob_hash": "{H}", "length": 16}}, "blob_data_payment_rate": "RATE_ACCEPTED"}}"#
        ))
    );
    let u = unknown();
    let without = format!(r#"{{"blob_data_payment_rate": 0.0, "requested_blob": "{u}"}}"#);
    assert_eq!(
        answer(&without).as_deref(),
        Ok(r#"{"blob_data_payment_rate": "RATE_ACCEPTED"}"#)
    );
}

#[test]
fn old_lbrynet_availability_and_price_requests_are_answered() {
    let u = unknown();
    assert_eq!(
        answer(&format!(r#"{{"requested_blobs": ["{u}", "{H}"]}}"#)),
        Ok(format!(
            r#"{{"available_blobs": ["{H}"], "lbrycrd_address": true}}"#
        ))
    );
    let with_rate = format!(r#"{{"requested_blobs": ["{H}"], "blob_data_payment_rate": 0.0001}}"#);
    assert_eq!(
        answer(&with_rate),
        Ok(format!(
            r#"{{"blob_data_payment_rate": "RATE_ACCEPTED", "available_blobs": ["{H}"], "lbrycrd_address": true}}"#
        ))
    );
    // The address request wins the `lbrycrd_address` slot, after `available_blobs`.
    let all = format!(
        r#"{{"lbrycrd_address": true, "blob_data_payment_rate": 0.0001, "requested_blobs": ["{H}", "{H}"], "requested_blob": "{H}"}}"#
    );
    assert_eq!(
        answer(&all),
        Ok(format!(
            r#"{{"incoming_blob": {{"blob_hash": "{H}", "length": 16}}, "blob_data_payment_rate": "RATE_ACCEPTED", "available_blobs": ["{H}"], "lbrycrd_address": "{ADDR}"}}"#
        ))
    );
}

#[test]
fn requested_blobs_that_are_not_hashes_are_blobs_we_do_not_hold() {
    let upper = H.to_uppercase();
    let short = &H[..95];
    let request =
        format!(r#"{{"requested_blobs": ["{upper}", "{short}", 7, null, false, "", "{H}"]}}"#);
    assert_eq!(
        answer(&request),
        Ok(format!(
            r#"{{"available_blobs": ["{H}"], "lbrycrd_address": true}}"#
        ))
    );
    let none = format!(r#"{{"requested_blobs": ["{upper}"], "lbrycrd_address": 1}}"#);
    assert_eq!(
        answer(&none),
        Ok(format!(
            r#"{{"available_blobs": [], "lbrycrd_address": "{ADDR}"}}"#
        ))
    );
    // lbry-sdk iterates a string (characters) or an object (keys) like a list.
    assert_eq!(
        answer(&format!(r#"{{"requested_blobs": "{H}"}}"#)).as_deref(),
        Ok(r#"{"available_blobs": [], "lbrycrd_address": true}"#)
    );
    assert_eq!(
        answer(&format!(r#"{{"requested_blobs": {{"{H}": 1}}}}"#)),
        Ok(format!(
            r#"{{"available_blobs": ["{H}"], "lbrycrd_address": true}}"#
        ))
    );
}

#[test]
fn malformed_requested_blobs_are_refused_with_a_reason() {
    assert_eq!(
        refused(r#"{"requested_blobs": []}"#),
        Invalid::EmptyRequestedBlobs
    );
    let shape = Invalid::BadValue {
        key: "requested_blobs",
        expected: "a non-empty list of blob hashes",
    };
    for value in [
        "\"\"",
        "{}",
        "7",
        "null",
        "true",
        "[[]]",
        r#"["a", {"b": 1}]"#,
    ] {
        assert_eq!(
            refused(&format!(r#"{{"requested_blobs": {value}}}"#)),
            shape,
            "{value}"
        );
    }
    // A bad download hash is refused even next to a rate.
    let bad_blob = r#"{"blob_data_payment_rate": 0.0, "requested_blob": "abc"}"#;
    assert!(matches!(refused(bad_blob), Invalid::BadHash { .. }));
}

#[test]
fn the_1200_byte_limit_caps_requested_blobs_at_589_entries() {
    let list = |n: usize| format!(r#"{{"requested_blobs":[{}]}}"#, vec!["0"; n].join(","));
    let most = list(589);
    assert_eq!(most.len(), 1199);
    assert_eq!(
        answer(&most).as_deref(),
        Ok(r#"{"available_blobs": [], "lbrycrd_address": true}"#)
    );
    assert_eq!(refused(&list(590)), Invalid::TooLarge { limit: 1200 });
    // Hashes take 99 bytes each: 11 at most, so an answer stays small.
    let hashes = |n: usize| {
        format!(
            r#"{{"requested_blobs":[{}]}}"#,
            vec![format!("\"{H}\""); n].join(",")
        )
    };
    assert!(hashes(11).len() < MAX_REQUEST_SIZE);
    assert_eq!(refused(&hashes(12)), Invalid::TooLarge { limit: 1200 });
}

#[test]
fn our_client_requests_are_lbry_sdks_bytes_both_ways() {
    let download = standard(H, "0.0");
    assert_eq!(BlobRequest::download(h()).encode(), download.as_bytes());
    assert_eq!(
        decode_request(download.as_bytes()),
        Ok(BlobRequest::download(h()))
    );
    let query = format!(r#"{{"requested_blobs": ["{H}"], "lbrycrd_address": true}}"#);
    assert_eq!(
        BlobRequest::availability(vec![h()]).encode(),
        query.as_bytes()
    );
    assert_eq!(
        decode_request(query.as_bytes()),
        Ok(BlobRequest::availability(vec![h()]))
    );
    // A price offer round-trips as lbry-sdk's `json.dumps` writes floats.
    let old = BlobRequest {
        requested_blobs: Some(vec![h()]),
        blob_data_payment_rate: Some(0.0001),
        ..BlobRequest::default()
    };
    let bytes = format!(r#"{{"requested_blobs": ["{H}"], "blob_data_payment_rate": 0.0001}}"#);
    assert_eq!(old.encode(), bytes.as_bytes());
    assert_eq!(decode_request(bytes.as_bytes()), Ok(old));
}

#[test]
fn answers_decode_as_lbry_sdks_client_reads_them() {
    let header = answer(&standard(H, "0.0")).unwrap();
    let (resp, used) = decode_response(header.as_bytes(), MAX_RESPONSE_HEADER).unwrap();
    assert_eq!(used, header.len());
    assert_eq!(resp.blob_data_payment_rate.as_deref(), Some(RATE_ACCEPTED));
    assert_eq!(resp.available_blobs, Some(vec![h()]));
    let query = answer(&format!(r#"{{"requested_blobs": ["{H}"]}}"#)).unwrap();
    let (resp, _) = decode_response(query.as_bytes(), MAX_RESPONSE_HEADER).unwrap();
    assert_eq!(resp.lbrycrd_address, Some(Value::Bool(true)));
}
