use super::*;
use proptest::prelude::*;

fn h(byte: u8) -> BlobHash {
    BlobHash::digest(&[byte])
}

#[test]
fn client_requests_are_lbry_sdk_bytes() {
    // json.dumps({'version': 1}, sort_keys=True)
    assert_eq!(Request::Version(1).encode(), br#"{"version": 1}"#);
    let sd = Request::SdBlob {
        hash: h(1),
        size: 1234,
    }
    .encode();
    let want = format!(r#"{{"sd_blob_hash": "{}", "sd_blob_size": 1234}}"#, h(1));
    assert_eq!(sd, want.as_bytes());
    let blob = Request::Blob {
        hash: h(2),
        size: 2097152,
    }
    .encode();
    let want = format!(r#"{{"blob_hash": "{}", "blob_size": 2097152}}"#, h(2));
    assert_eq!(blob, want.as_bytes());
}

#[test]
fn server_responses_are_lbry_sdk_bytes() {
    assert_eq!(Response::Version(1).encode(), br#"{"version": 1}"#);
    let send = Response::SendSdBlob {
        send: true,
        needed: vec![],
    };
    assert_eq!(send.encode(), br#"{"send_sd_blob": true}"#);
    // {"send_sd_blob": False, 'needed_blobs': needs}, insertion order.
    let have = Response::SendSdBlob {
        send: false,
        needed: vec![h(1), h(2)],
    };
    let want = format!(
        r#"{{"send_sd_blob": false, "needed_blobs": ["{}", "{}"]}}"#,
        h(1),
        h(2)
    );
    assert_eq!(have.encode(), want.as_bytes());
    let none = Response::SendSdBlob {
        send: false,
        needed: vec![],
    };
    assert_eq!(
        none.encode(),
        br#"{"send_sd_blob": false, "needed_blobs": []}"#
    );
    assert_eq!(
        Response::ReceivedSdBlob(true).encode(),
        br#"{"received_sd_blob": true}"#
    );
    assert_eq!(
        Response::SendBlob(false).encode(),
        br#"{"send_blob": false}"#
    );
    assert_eq!(
        Response::ReceivedBlob(true).encode(),
        br#"{"received_blob": true}"#
    );
}

#[test]
fn round_trips_and_leftover_bytes_are_left() {
    let reqs = [
        Request::Version(1),
        Request::SdBlob {
            hash: h(3),
            size: 7,
        },
        Request::Blob {
            hash: h(4),
            size: 16,
        },
    ];
    for r in reqs {
        let mut bytes = r.encode();
        let n = bytes.len();
        bytes.extend_from_slice(b"RAW");
        assert_eq!(decode_request(&bytes), Ok((r, n)));
    }
    let resps = [
        Response::Version(1),
        Response::SendSdBlob {
            send: false,
            needed: vec![h(5)],
        },
        Response::SendSdBlob {
            send: true,
            needed: vec![],
        },
        Response::ReceivedSdBlob(false),
        Response::SendBlob(true),
        Response::ReceivedBlob(false),
    ];
    for r in resps {
        let bytes = r.encode();
        assert_eq!(decode_response(&bytes), Ok((r, bytes.len())));
    }
}

#[test]
fn prefixes_are_incomplete_and_other_layouts_are_read() {
    let bytes = Request::Blob {
        hash: h(6),
        size: 16,
    }
    .encode();
    for k in 0..bytes.len() {
        assert_eq!(decode_request(&bytes[..k]), Err(WireError::Incomplete));
    }
    let compact = format!(r#"{{"blob_size":16,"blob_hash":"{}"}}"#, h(6));
    assert!(decode_request(compact.as_bytes()).is_ok());
}

#[test]
fn bad_messages_are_invalid() {
    let bad: [&[u8]; 6] = [
        b"[1]",
        br#"{"hello": 1}"#,
        br#"{"version": -1}"#,
        br#"{"blob_hash": "zz", "blob_size": 1}"#,
        br#"{"sd_blob_hash": 5, "sd_blob_size": 1}"#,
        br#"{"version": 1,}"#,
    ];
    for b in bad {
        assert!(
            matches!(decode_request(b), Err(WireError::Invalid(_))),
            "{:?}",
            String::from_utf8_lossy(b)
        );
    }
    assert!(matches!(
        decode_response(br#"{"send_sd_blob": false, "needed_blobs": [1]}"#),
        Err(WireError::Invalid(_))
    ));
    let endless = vec![b'{'; MAX_REQUEST + 1];
    assert_eq!(
        decode_request(&endless),
        Err(WireError::Invalid(Invalid::TooLarge { limit: MAX_REQUEST }))
    );
}

proptest! {
    #[test]
    fn hostile_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = decode_request(&bytes);
        let _ = decode_response(&bytes);
    }

    #[test]
    fn hostile_json_never_panics(s in r#"\{("[a-z_]{1,14}": ?(-?[0-9]{1,25}|true|false|"[0-9a-f]{0,100}"|\[\])(, )?){0,3}\}"#) {
        let _ = decode_request(s.as_bytes());
        let _ = decode_response(s.as_bytes());
    }
}
