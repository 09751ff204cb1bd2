//! Properties: decoding is total, and what we encode decodes back to itself
//! and fits a datagram.

use super::*;
use crate::wire::bencode::tests::python_decode;
use proptest::array::uniform;
use proptest::collection::vec;
use proptest::prelude::*;
use std::net::Ipv4Addr;

fn node_id() -> impl Strategy<Value = NodeId> {
    uniform::<_, ID_LEN>(any::<u8>()).prop_map(NodeId::from_bytes)
}

fn ip() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}

fn contact() -> impl Strategy<Value = Contact> {
    (node_id(), ip(), 1..=u16::MAX).prop_map(|(node_id, ip, udp_port)| Contact {
        node_id,
        ip,
        udp_port,
    })
}

fn peer() -> impl Strategy<Value = CompactPeer> {
    (ip(), 1..=u16::MAX, node_id()).prop_map(|(ip, tcp_port, node_id)| CompactPeer {
        ip,
        tcp_port,
        node_id,
    })
}

fn request() -> impl Strategy<Value = Request> {
    let store = (
        node_id(),
        uniform::<_, ID_LEN>(any::<u8>()),
        1..u16::MAX,
        node_id(),
        any::<i64>(),
    )
        .prop_map(|(key, token, port, original_publisher, age)| {
            Request::Store(StoreArgs {
                key,
                token,
                port,
                original_publisher,
                age,
            })
        });
    prop_oneof![
        Just(Request::Ping),
        store,
        node_id().prop_map(|key| Request::FindNode { key }),
        (node_id(), any::<u32>()).prop_map(|(key, page)| Request::FindValue { key, page }),
    ]
}

/// A response of the kind `request` expects (findValue peers under its key).
fn response_to(request: &Request) -> BoxedStrategy<Response> {
    match request {
        Request::Ping => Just(Response::Pong).boxed(),
        Request::Store(_) => Just(Response::Ok).boxed(),
        Request::FindNode { .. } => vec(contact(), 0..30).prop_map(Response::Contacts).boxed(),
        Request::FindValue { key, .. } => {
            let key = *key;
            (
                uniform::<_, ID_LEN>(any::<u8>()),
                proptest::option::of(vec(contact(), 0..12)),
                vec(peer(), 0..30),
                any::<u32>(),
            )
                .prop_map(move |(token, contacts, peers, pages)| {
                    Response::FindValue(FindValueResult {
                        key,
                        token,
                        contacts,
                        peers,
                        pages,
                    })
                })
                .boxed()
        }
    }
}

/// A datagram and the request it answers, if it is a response.
fn datagram() -> impl Strategy<Value = (Datagram, Option<Request>)> {
    let header = (uniform::<_, RPC_ID_LEN>(any::<u8>()), node_id());
    let body = prop_oneof![
        request().prop_map(|r| (Body::Request(r), None)),
        request().prop_flat_map(|r| {
            response_to(&r).prop_map(move |resp| (Body::Response(resp), Some(r.clone())))
        }),
        (".{0,40}", ".{0,200}").prop_map(|(exception, message)| {
            (Body::Error(RemoteError { exception, message }), None)
        }),
    ];
    (header, body).prop_map(|((rpc, node_id), (body, answering))| {
        let d = Datagram {
            rpc_id: RpcId(rpc),
            node_id,
            body,
        };
        (d, answering)
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..1500)) {
        if let Ok(raw) = decode(&bytes) {
            let _ = raw.clone().typed(None);
            let _ = raw.typed(Some(&Request::FindValue { key: NodeId::from_bytes([0; ID_LEN]), page: 0 }));
        }
    }

    #[test]
    fn mutated_datagrams_never_panic(
        (d, answering) in datagram(),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        if let Ok(mut wire) = encode(&d) {
            for (at, byte) in edits {
                let i = at.index(wire.len());
                wire[i] = byte;
            }
            if let Ok(raw) = decode(&wire) {
                let _ = raw.typed(answering.as_ref());
            }
        }
    }

    #[test]
    fn encoded_datagrams_fit_and_decode_back((d, answering) in datagram()) {
        match encode(&d) {
            Ok(wire) => {
                prop_assert!(wire.len() <= MAX_DATAGRAM);
                // lbry-sdk's decoder, nested-dict quirk included, reads the same value.
                let python = python_decode(&wire, 0).map(|(v, _)| v);
                prop_assert_eq!(python, bencode::decode(&wire).ok());
                let back = decode(&wire).and_then(|raw| raw.typed(answering.as_ref()));
                prop_assert_eq!(back, Ok(d));
            }
            Err(e) => {
                let too_large = matches!(e, EncodeError::TooLarge { len } if len > MAX_DATAGRAM);
                prop_assert!(too_large, "{:?}", e);
            }
        }
    }

    #[test]
    fn fitted_find_value_answers_always_fit(
        (rpc, node) in (uniform::<_, RPC_ID_LEN>(any::<u8>()), node_id()),
        resp in response_to(&Request::FindValue { key: NodeId::from_bytes([7; ID_LEN]), page: 0 }),
    ) {
        let Response::FindValue(result) = resp else { unreachable!() };
        let (wire, sent) = encode_find_value_fitting(RpcId(rpc), node, result.clone()).unwrap();
        prop_assert!(wire.len() <= MAX_DATAGRAM);
        prop_assert_eq!(&sent.peers[..], &result.peers[..sent.peers.len()]);
        let request = Request::FindValue { key: result.key, page: 0 };
        let back = decode(&wire).and_then(|raw| raw.typed(Some(&request)));
        prop_assert_eq!(back, Ok(Datagram { rpc_id: RpcId(rpc), node_id: node, body: Body::Response(Response::FindValue(sent)) }));
    }
}
