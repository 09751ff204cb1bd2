//! Golden bytes are BEP 5's own examples; the rest is hostile input.

use super::*;

const ID: &Id20 = b"abcdefghij0123456789";
const OTHER: &Id20 = b"mnopqrstuvwxyz123456";

fn query(q: Query) -> Message {
    Message {
        txn: b"aa".to_vec(),
        body: Body::Query { id: *ID, query: q },
        read_only: false,
    }
}

fn golden(m: &Message, bytes: &[u8]) {
    assert_eq!(
        String::from_utf8_lossy(&encode(m)),
        String::from_utf8_lossy(bytes)
    );
    assert_eq!(&decode(bytes).unwrap(), m);
}

#[test]
fn queries_match_bep5_examples() {
    golden(
        &query(Query::Ping),
        b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe",
    );
    golden(
        &query(Query::FindNode { target: *OTHER }),
        b"d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe",
    );
    golden(
        &query(Query::GetPeers { info_hash: *OTHER }),
        b"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe",
    );
    golden(
        &query(Query::AnnouncePeer {
            info_hash: *OTHER,
            port: 6881,
            implied_port: true,
            token: b"aoeusnth".to_vec(),
        }),
        b"d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe",
    );
}

#[test]
fn responses_and_errors_match_bep5_examples() {
    let pong = Message {
        txn: b"aa".to_vec(),
        body: Body::Response(Response {
            id: *OTHER,
            ..Response::default()
        }),
        read_only: false,
    };
    golden(&pong, b"d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re");
    let peers = Message {
        txn: b"aa".to_vec(),
        body: Body::Response(Response {
            id: *ID,
            token: Some(b"aoeusnth".to_vec()),
            values: vec![peer_from(b"axje.u"), peer_from(b"idhtnm")],
            ..Response::default()
        }),
        read_only: false,
    };
    golden(
        &peers,
        b"d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re",
    );
    let err = Message {
        txn: b"aa".to_vec(),
        body: Body::Error {
            code: 201,
            message: "A Generic Error Ocurred".into(),
        },
        read_only: false,
    };
    golden(&err, b"d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee");
}

#[test]
fn compact_nodes_and_samples_round_trip() {
    let a = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 1), 6881);
    let r = Response {
        id: *ID,
        nodes: vec![
            (*OTHER, a),
            (*ID, SocketAddrV4::new(Ipv4Addr::new(10, 1, 2, 3), 1)),
        ],
        samples: vec![*ID, *OTHER],
        num: Some(42),
        interval: Some(21600),
        ..Response::default()
    };
    let m = Message {
        txn: vec![0, 1],
        body: Body::Response(r),
        read_only: false,
    };
    assert_eq!(decode(&encode(&m)).unwrap(), m);
}

#[test]
fn ipv6_values_are_skipped_not_refused() {
    let b =
        b"d1:rd2:id20:abcdefghij01234567896:valuesl6:axje.u18:0123456789abcdefghee1:t2:aa1:y1:re";
    let Body::Response(r) = decode(b).unwrap().body else {
        panic!("not a response")
    };
    assert_eq!(r.values, vec![peer_from(b"axje.u")]);
}

#[test]
fn hostile_datagrams_are_refused_with_a_reason() {
    let cases: &[(&[u8], Invalid)] = &[
        (
            b"d1:rd2:id20:abcdefghij01234567895:nodes3:abce1:t2:aa1:y1:re",
            Invalid::Length("nodes"),
        ),
        (b"d1:rd2:id3:abce1:t2:aa1:y1:re", Invalid::Length("id")),
        (b"d1:t2:aa1:y1:xe", Invalid::Field("y")),
        (b"d1:y1:qe", Invalid::Field("t")),
        (b"li1ee", Invalid::Field("message")),
        (
            b"d1:ad2:id20:abcdefghij0123456789e1:q13:announce_peer1:t2:aa1:y1:qe",
            Invalid::Field("port"),
        ),
    ];
    for (bytes, why) in cases {
        assert_eq!(
            decode(bytes).unwrap_err(),
            *why,
            "{}",
            String::from_utf8_lossy(bytes)
        );
    }
    let long_token = format!(
        "d1:rd2:id20:abcdefghij01234567895:token65:{}e1:t2:aa1:y1:re",
        "x".repeat(65)
    );
    assert_eq!(
        decode(long_token.as_bytes()).unwrap_err(),
        Invalid::Length("token")
    );
    assert_eq!(
        decode(&[b'x'; MAX_DATAGRAM + 1]).unwrap_err(),
        Invalid::TooLarge(MAX_DATAGRAM + 1)
    );
}

#[test]
fn an_unknown_method_decodes_so_it_can_be_answered() {
    let b = b"d1:ad2:id20:abcdefghij0123456789e1:q4:vote1:t2:aa1:y1:qe";
    assert_eq!(decode(b).unwrap(), query(Query::Unknown(b"vote".to_vec())));
}

proptest::proptest! {
    #[test]
    fn any_bytes_decode_or_fail_without_panic(b in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
        let _ = decode(&b);
    }
}

#[test]
fn a_read_only_query_carries_bep43s_flag() {
    let mut m = query(Query::Ping);
    m.read_only = true;
    let b = encode(&m);
    assert_eq!(
        &b[..],
        &b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping2:roi1e1:t2:aa1:y1:qe"[..]
    );
    assert!(decode(&b).unwrap().read_only);
}
