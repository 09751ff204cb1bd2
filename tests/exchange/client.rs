//! `ExchangeClient` against fake peers: each misbehaviour maps to the right
//! `PeerError`, within the client's deadlines.

use crate::common::fakepeer::{blob_map, encrypted_blob, FakePeer, Mode};
use crate::{short_client, within};
use lbrymount::blob::VerifiedBlob;
use lbrymount::exchange::client::{ClientConfig, ExchangeClient};
use lbrymount::fetch::{BlobPeer, PeerError};
use lbrymount::hash::BlobHash;
use std::time::Duration;

async fn fetch_from(
    mode: Mode,
    blob: &VerifiedBlob,
) -> (Result<VerifiedBlob, PeerError>, FakePeer) {
    let peer = FakePeer::start(mode, blob_map([blob])).await;
    let client = short_client();
    let len = Some(blob.len() as u64);
    let result = within(client.fetch(peer.addr(), *blob.hash(), len)).await;
    assert_eq!(
        client.idle_connections(peer.addr()),
        usize::from(result.is_ok()),
        "only a clean exchange may leave a connection for reuse"
    );
    (result, peer)
}

#[tokio::test]
async fn good_peer_serves_many_blobs_over_one_connection() {
    let blobs = [
        encrypted_blob(5000),
        encrypted_blob(2_097_151),
        encrypted_blob(0),
    ];
    let peer = FakePeer::start(Mode::Good, blob_map(&blobs)).await;
    let client = short_client();
    for blob in &blobs {
        // Through the `BlobPeer` seam, as the fetcher will call it.
        let got =
            within(client.fetch_blob(peer.addr().into(), *blob.hash(), Some(blob.len() as u64)))
                .await
                .expect("good peer serves the blob");
        assert_eq!(got, *blob);
    }
    assert_eq!(blobs[1].len(), 2_097_152);
    assert_eq!(peer.requests(), 3);
    assert_eq!(peer.connections(), 1, "the connection is reused");
    assert_eq!(client.idle_connections(peer.addr()), 1);
}

#[tokio::test]
async fn unknown_length_is_taken_from_the_header() {
    let blob = encrypted_blob(100);
    let peer = FakePeer::start(Mode::Good, blob_map([&blob])).await;
    let got = within(short_client().fetch(peer.addr(), *blob.hash(), None)).await;
    assert_eq!(got, Ok(blob));
}

#[tokio::test]
async fn corrupt_bytes_are_a_hash_mismatch() {
    let blob = encrypted_blob(3000);
    let (result, _peer) = fetch_from(Mode::Corrupt, &blob).await;
    let mut bad = blob.data().to_vec();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x01;
    assert_eq!(
        result,
        Err(PeerError::HashMismatch {
            actual: BlobHash::digest(&bad)
        })
    );
}

#[tokio::test]
async fn a_silent_peer_times_out_waiting_for_the_header() {
    let blob = encrypted_blob(100);
    let (result, peer) = fetch_from(Mode::Stall, &blob).await;
    assert_eq!(result, Err(PeerError::Timeout("waiting for header")));
    assert_eq!(peer.requests(), 1, "the request was sent and read");
}

#[tokio::test]
async fn a_peer_stalling_mid_blob_times_out_receiving() {
    let blob = encrypted_blob(100_000);
    let (result, _peer) = fetch_from(Mode::StallMidBlob, &blob).await;
    assert_eq!(
        result,
        Err(PeerError::Timeout("receiving blob: peer went silent"))
    );
}

#[tokio::test]
async fn a_slow_peer_that_keeps_sending_is_not_cut_off() {
    // Ten pieces 100 ms apart: a second in all, each gap well inside the 300 ms silence limit.
    let blob = encrypted_blob(100_000);
    let (result, _peer) = fetch_from(Mode::Trickle, &blob).await;
    assert_eq!(result.map(|b| *b.hash()), Ok(*blob.hash()));
}

#[tokio::test]
async fn the_whole_body_still_has_a_deadline() {
    let blob = encrypted_blob(100_000);
    let peer = FakePeer::start(Mode::Trickle, blob_map([&blob])).await;
    let client = ExchangeClient::new(ClientConfig {
        body_deadline: Duration::from_millis(400),
        ..ClientConfig::default()
    });
    let result = within(client.fetch(peer.addr(), *blob.hash(), Some(blob.len() as u64))).await;
    assert_eq!(
        result.map(|b| *b.hash()),
        Err(PeerError::Timeout("receiving blob"))
    );
}

#[tokio::test]
async fn a_disconnect_mid_blob_is_a_short_read() {
    let blob = encrypted_blob(100_000);
    let len = blob.len() as u64;
    let (result, _peer) = fetch_from(Mode::DisconnectMidBlob, &blob).await;
    assert_eq!(
        result,
        Err(PeerError::ShortRead {
            got: len / 2,
            expected: len
        })
    );
}

#[tokio::test]
async fn a_wrong_announced_length_not_backed_by_the_blob_is_a_lie() {
    let blob = encrypted_blob(1000);
    let len = blob.len() as u64;
    let (result, _peer) = fetch_from(Mode::WrongLength, &blob).await;
    assert_eq!(
        result,
        Err(PeerError::WrongLength {
            expected: len,
            got: len + 16
        })
    );
}

#[tokio::test]
async fn garbage_is_a_protocol_error() {
    let blob = encrypted_blob(100);
    let (result, _peer) = fetch_from(Mode::Garbage, &blob).await;
    match result {
        Err(PeerError::Protocol(msg)) => assert!(msg.contains("JSON object"), "{msg}"),
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_refusal_is_not_available() {
    let blob = encrypted_blob(100);
    let (result, _peer) = fetch_from(Mode::Refuse, &blob).await;
    assert_eq!(result, Err(PeerError::NotAvailable));
    let other = encrypted_blob(10);
    let good = FakePeer::start(Mode::Good, blob_map([&blob])).await;
    let missing = within(short_client().fetch(good.addr(), *other.hash(), None)).await;
    assert_eq!(missing, Err(PeerError::NotAvailable));
}

#[tokio::test]
async fn nobody_listening_is_a_connect_error() {
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let blob = encrypted_blob(10);
    let result = within(short_client().fetch(addr, *blob.hash(), None)).await;
    assert!(matches!(result, Err(PeerError::Connect(_))), "{result:?}");
}

#[tokio::test]
async fn a_pooled_connection_closed_by_the_peer_is_replaced() {
    let blobs = [encrypted_blob(100), encrypted_blob(200)];
    let peer = FakePeer::start(Mode::OneBlobPerConnection, blob_map(&blobs)).await;
    let client = short_client();
    for blob in &blobs {
        let got = within(client.fetch(peer.addr(), *blob.hash(), None)).await;
        assert_eq!(got.as_ref(), Ok(blob));
    }
    assert_eq!(
        peer.connections(),
        2,
        "the dead connection was replaced once"
    );
    assert_eq!(peer.requests(), 3, "the second request was retried");
}

#[tokio::test]
async fn availability_query_returns_what_the_peer_has() {
    let have: Vec<VerifiedBlob> = (0..3).map(|i| encrypted_blob(i * 10)).collect();
    let lacking: Vec<VerifiedBlob> = (0..12).map(encrypted_blob).collect();
    let peer = FakePeer::start(Mode::Good, blob_map(&have)).await;
    let mut asked: Vec<BlobHash> = lacking.iter().map(|b| *b.hash()).collect();
    asked.insert(4, *have[0].hash());
    asked.push(*have[2].hash());
    let client = short_client();
    let found = within(client.available(peer.addr(), &asked)).await;
    assert_eq!(found, Ok(vec![*have[0].hash(), *have[2].hash()]));
    assert_eq!(peer.requests(), 2, "14 hashes take two queries");
    assert_eq!(peer.connections(), 1);
}
