use super::*;
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn connect_request_is_bep15s_golden_bytes() {
    // protocol_id 0x41727101980, action 0, transaction id.
    let want = hex("0000041727101980 00000000 deadbeef");
    assert_eq!(connect_request(0xdead_beef).to_vec(), want);
}

#[test]
fn announce_request_is_bep15s_golden_bytes() {
    let a = Announce {
        connection_id: 0x0102_0304_0506_0708,
        transaction_id: 0x0a0b_0c0d,
        info_hash: [0x11; 20],
        peer_id: [0x22; 20],
        left: 0,
        event: Event::Started,
        key: 0x3344_5566,
        num_want: -1,
        port: 4444,
    };
    let want = hex(concat!(
        "0102030405060708 00000001 0a0b0c0d",
        "1111111111111111111111111111111111111111",
        "2222222222222222222222222222222222222222",
        "0000000000000000 0000000000000000 0000000000000000",
        "00000002 00000000 33445566 ffffffff 115c"
    ));
    let got = announce_request(&a);
    assert_eq!(got.to_vec(), want);
    assert_eq!(decode_request(&got), Ok(Request::Announce(a)));
}

#[test]
fn answers_decode_from_golden_bytes() {
    let connect = hex("00000000 deadbeef 0102030405060708");
    assert_eq!(
        decode_response(&connect),
        Ok(Response::Connect {
            transaction_id: 0xdead_beef,
            connection_id: 0x0102_0304_0506_0708
        })
    );
    let announce =
        hex("00000001 00000007 00000708 00000001 00000002 7f000001115c 0a000002 0050 ff");
    assert_eq!(
        decode_response(&announce),
        Ok(Response::Announce {
            transaction_id: 7,
            interval: 1800,
            leechers: 1,
            seeders: 2,
            peers: vec![
                "127.0.0.1:4444".parse().unwrap(),
                "10.0.0.2:80".parse().unwrap()
            ],
        })
    );
    let error = hex("00000003 00000009 6e6f7065");
    assert_eq!(
        decode_response(&error),
        Ok(Response::Error {
            transaction_id: 9,
            message: "nope".into()
        })
    );
}

#[test]
fn short_or_unknown_answers_are_errors() {
    assert_eq!(decode_response(&[]), Err(TrackerWireError::Short(0)));
    assert_eq!(
        decode_response(&hex("00000000 00000001 0102")),
        Err(TrackerWireError::Short(10))
    );
    assert_eq!(
        decode_response(&hex("00000001 00000001 00000708")),
        Err(TrackerWireError::Short(12))
    );
    assert_eq!(
        decode_response(&hex("00000002 00000001")),
        Err(TrackerWireError::Action(2))
    );
}

#[test]
fn a_huge_peer_list_is_cut() {
    let peers: Vec<SocketAddr> = (0..1000u32)
        .map(|i| SocketAddr::from((Ipv4Addr::from(0x0a00_0000 + i), 4444)))
        .collect();
    let mut bytes = encode_response(&Response::Announce {
        transaction_id: 1,
        interval: 60,
        leechers: 0,
        seeders: 0,
        peers: peers.clone(),
    });
    // encode is bounded too; pad the datagram by hand to a hostile length
    for p in &peers[MAX_PEERS..] {
        if let SocketAddr::V4(v4) = p {
            bytes.extend_from_slice(&v4.ip().octets());
            bytes.extend_from_slice(&v4.port().to_be_bytes());
        }
    }
    match decode_response(&bytes) {
        Ok(Response::Announce { peers: got, .. }) => assert_eq!(got, peers[..MAX_PEERS]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_error_message_is_bounded_and_printable() {
    let mut bytes = hex("00000003 00000001");
    bytes.extend(std::iter::repeat_n(b'\x07', 10));
    bytes.extend(std::iter::repeat_n(b'x', 10_000));
    match decode_response(&bytes) {
        Ok(Response::Error { message, .. }) => {
            assert!(message.len() <= MAX_MESSAGE);
            assert!(message.chars().all(|c| c == 'x'));
        }
        other => panic!("{other:?}"),
    }
}

proptest! {
    #[test]
    fn hostile_answers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        if let Ok(Response::Announce { peers, .. }) = decode_response(&bytes) {
            prop_assert!(peers.len() <= MAX_PEERS);
        }
        let _ = decode_request(&bytes);
    }

    #[test]
    fn answers_round_trip(tid: u32, cid: u64, interval: u32, ips in proptest::collection::vec(any::<(u32, u16)>(), 0..50)) {
        let peers: Vec<SocketAddr> = ips.iter().map(|(ip, port)| SocketAddr::from((Ipv4Addr::from(*ip), *port))).collect();
        for r in [
            Response::Connect { transaction_id: tid, connection_id: cid },
            Response::Announce { transaction_id: tid, interval, leechers: 0, seeders: 1, peers: peers.clone() },
        ] {
            prop_assert_eq!(decode_response(&encode_response(&r)), Ok(r));
        }
    }
}
