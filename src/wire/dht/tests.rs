//! Golden datagrams (docs/protocol.md §4.6), and the rejection rules.

use super::*;
use std::net::Ipv4Addr;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).expect("test hex")
}

fn rep(byte: u8, n: usize) -> Vec<u8> {
    vec![byte; n]
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn id(c: u8) -> NodeId {
    NodeId::from_bytes([c; ID_LEN])
}

const RPC: RpcId = RpcId([b'1'; RPC_ID_LEN]);

/// `di0e i<kind>e i1e 20:<'1'*20> i2e 48:<'1'*48>`: the header of every golden datagram.
fn header(kind: u8) -> Vec<u8> {
    cat(&[
        b"di0ei",
        &[kind],
        b"ei1e20:",
        &rep(b'1', 20),
        b"i2e48:",
        &rep(b'1', 48),
    ])
}

fn datagram(body: Body) -> Datagram {
    Datagram {
        rpc_id: RPC,
        node_id: id(b'1'),
        body,
    }
}

/// Encodes to exactly `wire`, and `wire` decodes back to `d`.
fn golden(d: Datagram, answering: Option<&Request>, wire: &[u8], len: usize) {
    assert_eq!(wire.len(), len);
    let ours = encode(&d).expect("encodes");
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(wire)
    );
    let back = decode(wire)
        .expect("decodes")
        .typed(answering)
        .expect("types");
    assert_eq!(back, d);
}

#[test]
fn ping_request_hex() {
    let wire = cat(&[
        &h("6469306569306569316532303a"),
        &rep(b'1', 20),
        &h("69326534383a"),
        &rep(b'1', 48),
        &h("693365343a70696e676934656c6431353a70726f746f636f6c56657273696f6e693165656565"),
    ]);
    golden(datagram(Body::Request(Request::Ping)), None, &wire, 125);
}

#[test]
fn find_node_find_value_and_store_requests() {
    let key = id(b'2');
    let wire = cat(&[
        &header(b'0'),
        b"i3e8:findNodei4el48:",
        &rep(b'2', 48),
        b"d15:protocolVersioni1eeee",
    ]);
    golden(
        datagram(Body::Request(Request::FindNode { key })),
        None,
        &wire,
        180,
    );

    let wire = cat(&[
        &header(b'0'),
        b"i3e9:findValuei4el48:",
        &rep(b'2', 48),
        b"d1:pi0e15:protocolVersioni1eeee",
    ]);
    let find_value = Request::FindValue { key, page: 0 };
    golden(datagram(Body::Request(find_value)), None, &wire, 187);

    let wire = cat(&[
        &header(b'0'),
        b"i3e5:storei4el48:",
        &rep(b'2', 48),
        b"48:",
        &rep(b'3', 48),
        b"i3333e48:",
        &rep(b'1', 48),
        b"i0ed15:protocolVersioni1eeee",
    ]);
    let store = Request::Store(StoreArgs {
        key,
        token: [b'3'; ID_LEN],
        port: 3333,
        original_publisher: id(b'1'),
        age: 0,
    });
    golden(datagram(Body::Request(store)), None, &wire, 288);
}

#[test]
fn pong_and_error_datagrams() {
    let wire = cat(&[&header(b'1'), b"i3e4:ponge"]);
    golden(
        datagram(Body::Response(Response::Pong)),
        Some(&Request::Ping),
        &wire,
        97,
    );

    let wire = cat(&[
        &header(b'2'),
        b"i3e20:<class 'ValueError'>i4e13:Invalid tokene",
    ]);
    let err = RemoteError {
        exception: "<class 'ValueError'>".into(),
        message: "Invalid token".into(),
    };
    golden(datagram(Body::Error(err)), None, &wire, wire.len());
}

#[test]
fn find_value_response_hex() {
    let wire = cat(&[
        &h("6469306569316569316532303a3131313131313131313131313131313131313131693265"),
        &h("34383a"),
        &rep(b'1', 48),
        &h("693365"),
        &h("6434383a"),
        &rep(b'2', 48),
        &h("6c35343a010203040d05"),
        &rep(b'5', 48),
        &h("65383a636f6e74616374736c6c34383a"),
        &rep(b'3', 48),
        &h("373a312e322e332e346934343434656565313a7069316531353a70726f746f636f6c56657273696f6e693165353a746f6b656e34383a"),
        &rep(b'4', 48),
        &h("6565"),
    ]);
    let key = id(b'2');
    let result = FindValueResult {
        key,
        token: [b'4'; ID_LEN],
        contacts: Some(vec![Contact {
            node_id: id(b'3'),
            ip: Ipv4Addr::new(1, 2, 3, 4),
            udp_port: 4444,
        }]),
        peers: vec![CompactPeer {
            ip: Ipv4Addr::new(1, 2, 3, 4),
            tcp_port: 3333,
            node_id: id(b'5'),
        }],
        pages: 1,
    };
    let request = Request::FindValue { key, page: 0 };
    golden(
        datagram(Body::Response(Response::FindValue(result))),
        Some(&request),
        &wire,
        368,
    );
}

#[test]
fn mixed_string_and_int_keys_decode_to_a_ping() {
    let wire = cat(&[
        &h("64313a3069306569316532303a0abcb5269d6cfc1e87a08e920bf39fe9df8e92fc313a3234383a"),
        &rep(b'1', 48),
        &h("693365343a70696e67313a346c6431353a70726f746f636f6c56657273696f6e6931656565313a3531363a73686f756c64206e6f74206572726f7265"),
    ]);
    let d = decode(&wire).unwrap().typed(None).unwrap();
    assert_eq!(
        d.rpc_id.0.to_vec(),
        h("0abcb5269d6cfc1e87a08e920bf39fe9df8e92fc")
    );
    assert_eq!(d.node_id, id(b'1'));
    assert_eq!(d.body, Body::Request(Request::Ping));
}

#[test]
fn tolerated_variations() {
    // lbry.go's ping: string keys and empty args.
    let wire = cat(&[
        b"d1:0i0e1:120:",
        &rep(b'1', 20),
        b"1:248:",
        &rep(b'1', 48),
        b"1:34:ping1:4lee",
    ]);
    let d = decode(&wire).unwrap().typed(None).unwrap();
    assert_eq!(d.body, Body::Request(Request::Ping));
    // Unknown keys are ignored; missing `p` means page 0.
    let wire = cat(&[
        &header(b'0'),
        b"i3e9:findValuei4el48:",
        &rep(b'2', 48),
        b"ei9ei1ee",
    ]);
    let d = decode(&wire).unwrap().typed(None).unwrap();
    let expected = Request::FindValue {
        key: id(b'2'),
        page: 0,
    };
    assert_eq!(d.body, Body::Request(expected));
}

#[test]
fn rejected_headers() {
    let body = b"i3e4:ponge";
    let with = |kind: &[u8], rpc: usize, node: usize| {
        cat(&[
            b"di0e",
            kind,
            format!("i1e{rpc}:").as_bytes(),
            &rep(b'1', rpc),
            format!("i2e{node}:").as_bytes(),
            &rep(b'1', node),
            body,
        ])
    };
    assert_eq!(decode(&with(b"i1e", 20, 48)).map(|_| ()), Ok(()));
    assert_eq!(decode(&with(b"i5e", 20, 48)), Err(Invalid::BadType(5)));
    assert_eq!(decode(&with(b"i-1e", 20, 48)), Err(Invalid::BadType(-1)));
    assert!(matches!(
        decode(&with(b"i1e", 19, 48)),
        Err(Invalid::BadLength { got: 19, .. })
    ));
    assert!(matches!(
        decode(&with(b"i1e", 20, 47)),
        Err(Invalid::BadLength { got: 47, .. })
    ));
    assert_eq!(decode(b"li1ee"), Err(Invalid::NotADict));
    assert!(matches!(decode(b""), Err(Invalid::Bencode(_))));
    let unknown = cat(&[&header(b'0'), b"i3e4:quiti4elee"]);
    assert_eq!(decode(&unknown), Err(Invalid::UnknownMethod("quit".into())));
    let pong = decode(&with(b"i1e", 20, 48)).unwrap();
    assert_eq!(pong.clone().typed(None), Err(Invalid::UnsolicitedResponse));
    let store = Request::FindNode { key: id(b'2') };
    assert!(matches!(
        pong.typed(Some(&store)),
        Err(Invalid::WrongType { .. })
    ));
}

fn store_with_port(port: &str) -> Vec<u8> {
    cat(&[
        &header(b'0'),
        b"i3e5:storei4el48:",
        &rep(b'2', 48),
        b"48:",
        &rep(b'3', 48),
        format!("i{port}e48:").as_bytes(),
        &rep(b'1', 48),
        b"i0ed15:protocolVersioni1eeee",
    ])
}

#[test]
fn store_port_must_be_between_0_and_65535_exclusive() {
    for (port, ok) in [
        ("1", true),
        ("65534", true),
        ("0", false),
        ("65535", false),
        ("65536", false),
    ] {
        let typed = decode(&store_with_port(port)).unwrap().typed(None);
        assert_eq!(typed.is_ok(), ok, "port {port}: {typed:?}");
    }
    for port in [0, u16::MAX] {
        let store = Request::Store(StoreArgs {
            key: id(b'2'),
            token: [0; ID_LEN],
            port,
            original_publisher: id(b'1'),
            age: 0,
        });
        let err = encode(&datagram(Body::Request(store)));
        assert!(matches!(err, Err(EncodeError::BadPort { .. })), "{port}");
    }
}

#[test]
fn compact_peer_bytes_and_error_cases() {
    let peer = CompactPeer {
        ip: Ipv4Addr::new(1, 2, 3, 4),
        tcp_port: 3333,
        node_id: id(b'5'),
    };
    let bytes = peer.to_bytes().unwrap();
    assert_eq!(bytes[..6], h("010203040d05")[..]);
    assert_eq!(CompactPeer::from_bytes(&bytes), Ok(peer));

    let port0 = cat(&[&h("010203040000"), &rep(b'5', 48)]);
    assert!(CompactPeer::from_bytes(&port0).is_err());
    let five_octets = cat(&[&h("01020304050d05"), &rep(b'5', 48)]);
    assert!(CompactPeer::from_bytes(&five_octets).is_err());
    let short_id = cat(&[&h("010203040d05"), &rep(b'5', 47)]);
    assert!(CompactPeer::from_bytes(&short_id).is_err());
    assert!(CompactPeer {
        tcp_port: 0,
        ..peer
    }
    .to_bytes()
    .is_err());
}

fn many_peers(n: usize) -> FindValueResult {
    let peer = |i: usize| CompactPeer {
        ip: Ipv4Addr::new(10, 0, (i / 256) as u8, (i % 256) as u8),
        tcp_port: 4444,
        node_id: id(b'7'),
    };
    FindValueResult {
        key: id(b'2'),
        token: [b'4'; ID_LEN],
        contacts: Some(vec![]),
        peers: (0..n).map(peer).collect(),
        pages: 1,
    }
}

#[test]
fn oversized_datagrams_are_refused_and_find_value_answers_trimmed() {
    let big = datagram(Body::Response(Response::FindValue(many_peers(30))));
    assert!(matches!(encode(&big), Err(EncodeError::TooLarge { .. })));

    let (wire, sent) = encode_find_value_fitting(RPC, id(b'1'), many_peers(30)).unwrap();
    assert!(wire.len() <= MAX_DATAGRAM);
    assert!(!sent.peers.is_empty() && sent.peers.len() < 30);
    assert_eq!(sent.peers[..], many_peers(30).peers[..sent.peers.len()]);
    // One more peer would not have fitted.
    let mut one_more = sent.clone();
    one_more.peers.push(many_peers(30).peers[sent.peers.len()]);
    let again = datagram(Body::Response(Response::FindValue(one_more)));
    assert!(matches!(encode(&again), Err(EncodeError::TooLarge { .. })));

    let (_, small) = encode_find_value_fitting(RPC, id(b'1'), many_peers(3)).unwrap();
    assert_eq!(small, many_peers(3));
}

#[test]
fn find_node_result_contacts() {
    let contacts = vec![
        Contact {
            node_id: id(b'3'),
            ip: Ipv4Addr::new(1, 2, 3, 4),
            udp_port: 4444,
        },
        Contact {
            node_id: id(b'4'),
            ip: Ipv4Addr::new(255, 0, 0, 9),
            udp_port: 1,
        },
    ];
    let d = datagram(Body::Response(Response::Contacts(contacts)));
    let wire = encode(&d).unwrap();
    let request = Request::FindNode { key: id(b'2') };
    assert_eq!(decode(&wire).unwrap().typed(Some(&request)), Ok(d));
    let bad_ip = cat(&[
        &header(b'1'),
        b"i3ell48:",
        &rep(b'3', 48),
        b"7:1.2.3.xi4444eeee",
    ]);
    let typed = decode(&bad_ip).unwrap().typed(Some(&request));
    assert_eq!(typed, Err(Invalid::BadIp("1.2.3.x".into())));
}
