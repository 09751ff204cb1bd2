//! `BlobServer` against our client, against raw sockets that check its exact
//! bytes, and against clients that misbehave.

use crate::common::fakepeer::encrypted_blob;
use crate::stores::FileStore;
use crate::{short_client, within};
use lbrymount::blob::{encrypt, StreamKey, VerifiedBlob};
use lbrymount::exchange::server::PLACEHOLDER_ADDRESS;
use lbrymount::exchange::{BlobServer, RunningServer, ServedStore, ServerConfig};
use lbrymount::store::{Keep, MemStore};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub async fn start(store: Arc<dyn ServedStore>, cfg: ServerConfig) -> RunningServer {
    let addr = "127.0.0.1:0".parse().unwrap();
    BlobServer::bind(addr, store, cfg)
        .await
        .expect("bind 127.0.0.1:0")
        .spawn()
}

pub fn mem_with<'a>(blobs: impl IntoIterator<Item = &'a VerifiedBlob>) -> Arc<MemStore> {
    let store = MemStore::new();
    for b in blobs {
        store.put(b, Keep::Cache).unwrap();
    }
    Arc::new(store)
}

/// Everything received until the server closes the connection (a reset counts as closed).
pub async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let _ = within(stream.read_to_end(&mut got)).await;
    got
}

async fn read_n(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    within(stream.read_exact(&mut buf))
        .await
        .expect("server answered in full");
    buf
}

/// The hello blob of docs/protocol.md §1.5: a 16-byte blob with a known hash.
fn hello_blob() -> VerifiedBlob {
    let key = StreamKey::new(&hex::decode("000102030405060708090a0b0c0d0e0f").unwrap()).unwrap();
    VerifiedBlob::from_bytes(encrypt(&key, &[1u8; 16], b"hello lbry\n"))
}

#[tokio::test]
async fn serves_several_blobs_over_one_reused_connection() {
    let blobs = [
        encrypted_blob(2_097_151),
        encrypted_blob(1000),
        encrypted_blob(0),
    ];
    let server = start(mem_with(&blobs), ServerConfig::default()).await;
    let client = short_client();
    for blob in &blobs {
        let len = Some(blob.len() as u64);
        let got = within(client.fetch(server.local_addr(), *blob.hash(), len)).await;
        assert_eq!(got.as_ref(), Ok(blob));
    }
    let stats = server.stats().snapshot();
    assert_eq!(stats.connections, 1, "one connection for all three blobs");
    assert_eq!(stats.requests, 3);
    assert_eq!(stats.blobs_served, 3);
    let total: usize = blobs.iter().map(VerifiedBlob::len).sum();
    assert_eq!(stats.bytes_served, total as u64);
    within(server.shutdown()).await;
}

#[tokio::test]
async fn blobs_stored_as_files_go_out_through_sendfile() {
    let blobs = [encrypted_blob(2_097_151), encrypted_blob(33)];
    let server = start(Arc::new(FileStore::with(&blobs)), ServerConfig::default()).await;
    let client = short_client();
    for blob in &blobs {
        let got = within(client.fetch(server.local_addr(), *blob.hash(), None)).await;
        assert_eq!(got.as_ref(), Ok(blob));
    }
    let stats = server.stats().snapshot();
    assert_eq!((stats.connections, stats.blobs_served), (1, 2));
    within(server.shutdown()).await;
}

#[tokio::test]
async fn answers_are_lbry_sdk_bytes_in_lbry_sdk_key_order() {
    let blob = hello_blob();
    let h = blob.hash().to_hex();
    assert!(h.starts_with("772edb0f") && h.ends_with("04971026"));
    let unknown = encrypted_blob(5).hash().to_hex();
    let a = PLACEHOLDER_ADDRESS;
    let server = start(mem_with([&blob]), ServerConfig::default()).await;
    let mut s = TcpStream::connect(server.local_addr()).await.unwrap();
    let standard = |x: &str| {
        format!(
            r#"{{"requested_blobs": ["{x}"], "lbrycrd_address": true, "blob_data_payment_rate": 0.0, "requested_blob": "{x}"}}"#
        )
    };
    // One connection, five exchanges: each answer must be exactly these bytes, nothing more.
    let exchanges: Vec<(String, String, &[u8])> = vec![
        (
            standard(&h),
            format!(
                r#"{{"incoming_blob": {{"blob_hash": "{h}", "length": 16}}, "blob_data_payment_rate": "RATE_ACCEPTED", "available_blobs": ["{h}"], "lbrycrd_address": "{a}"}}"#
            ),
            blob.data(),
        ),
        (
            standard(&unknown),
            format!(
                r#"{{"blob_data_payment_rate": "RATE_ACCEPTED", "available_blobs": [], "lbrycrd_address": "{a}"}}"#
            ),
            b"",
        ),
        (
            format!(r#"{{"requested_blobs": ["{h}", "{unknown}"], "lbrycrd_address": true}}"#),
            format!(r#"{{"available_blobs": ["{h}"], "lbrycrd_address": "{a}"}}"#),
            b"",
        ),
        (
            format!("{{\"requested_blobs\": [\"{h}\"]}}\n"),
            format!(r#"{{"available_blobs": ["{h}"], "lbrycrd_address": true}}"#),
            b"",
        ),
        (
            format!(r#"{{"requested_blob": "{h}"}}"#),
            format!(r#"{{"incoming_blob": {{"blob_hash": "{h}", "length": 16}}}}"#),
            blob.data(),
        ),
    ];
    for (request, header, body) in exchanges {
        s.write_all(request.as_bytes()).await.unwrap();
        let got = read_n(&mut s, header.len() + body.len()).await;
        assert_eq!(String::from_utf8_lossy(&got[..header.len()]), header);
        assert_eq!(&got[header.len()..], body);
    }
    s.shutdown().await.unwrap();
    assert_eq!(read_until_closed(&mut s).await, b"", "no stray bytes");
    within(server.shutdown()).await;
}

#[tokio::test]
async fn a_1199_byte_request_is_still_answered() {
    let blob = hello_blob();
    let h = blob.hash().to_hex();
    let server = start(mem_with([&blob]), ServerConfig::default()).await;
    let short = format!(r#"{{"requested_blobs": ["{h}"], "pad": ""}}"#);
    let request = format!(
        r#"{{"requested_blobs": ["{h}"], "pad": "{}"}}"#,
        "x".repeat(1199 - short.len())
    );
    assert_eq!(request.len(), 1199);
    let mut s = TcpStream::connect(server.local_addr()).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let want = format!(r#"{{"available_blobs": ["{h}"], "lbrycrd_address": true}}"#);
    assert_eq!(read_n(&mut s, want.len()).await, want.as_bytes());
    within(server.shutdown()).await;
}

#[tokio::test]
async fn bad_clients_lose_their_connection_and_nothing_else() {
    let blob = encrypted_blob(70_000);
    let h = blob.hash().to_hex();
    let server = start(mem_with([&blob]), ServerConfig::default()).await;
    let standard = format!(
        r#"{{"requested_blobs": ["{h}"], "lbrycrd_address": true, "blob_data_payment_rate": 0.0, "requested_blob": "{h}"}}"#
    );
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        (
            "oversized",
            format!(r#"{{"pad": "{}"}}"#, "x".repeat(1300)).into_bytes(),
        ),
        ("pipelined", format!("{standard}{standard}").into_bytes()),
        ("unknown keys only", br#"{"foo": 1, "bar": [2]}"#.to_vec()),
        (
            "invalid hash",
            format!(r#"{{"requested_blob": "{}"}}"#, h.to_uppercase()).into_bytes(),
        ),
        ("empty list", br#"{"requested_blobs": []}"#.to_vec()),
    ];
    let client = short_client();
    for (i, (what, payload)) in bad.iter().enumerate() {
        let mut s = TcpStream::connect(server.local_addr()).await.unwrap();
        s.write_all(payload).await.unwrap();
        assert_eq!(
            read_until_closed(&mut s).await,
            b"",
            "{what}: closed without an answer"
        );
        let stats = server.stats().snapshot();
        assert_eq!(stats.bad_requests, i as u64 + 1, "{what}");
        let got = within(client.fetch(server.local_addr(), *blob.hash(), None)).await;
        assert_eq!(
            got.as_ref(),
            Ok(&blob),
            "after {what}, a good client is served"
        );
    }
    within(server.shutdown()).await;
}

#[tokio::test]
async fn silent_connections_are_closed_after_the_idle_timeout() {
    let blob = encrypted_blob(100);
    let cfg = ServerConfig {
        idle_timeout: Duration::from_millis(200),
        ..ServerConfig::default()
    };
    let server = start(mem_with([&blob]), cfg).await;
    let mut silent = TcpStream::connect(server.local_addr()).await.unwrap();
    assert_eq!(read_until_closed(&mut silent).await, b"");
    // A query does not count as activity (lbry-sdk): the timer keeps running.
    let mut querier = TcpStream::connect(server.local_addr()).await.unwrap();
    let query = format!(r#"{{"requested_blobs": ["{}"]}}"#, blob.hash());
    querier.write_all(query.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut querier).await;
    assert!(
        answer.starts_with(b"{\"available_blobs\""),
        "answered, then closed"
    );
    let got = within(short_client().fetch(server.local_addr(), *blob.hash(), None)).await;
    assert_eq!(got, Ok(blob));
    within(server.shutdown()).await;
}

#[tokio::test]
async fn connections_over_the_cap_are_closed_at_once() {
    let blob = encrypted_blob(100);
    let cfg = ServerConfig {
        max_connections: 1,
        ..ServerConfig::default()
    };
    let server = start(mem_with([&blob]), cfg).await;
    let mut first = TcpStream::connect(server.local_addr()).await.unwrap();
    let mut second = TcpStream::connect(server.local_addr()).await.unwrap();
    assert_eq!(read_until_closed(&mut second).await, b"");
    assert_eq!(server.stats().snapshot().refused, 1);
    // The first connection is served normally.
    let req = format!(r#"{{"requested_blobs": ["{}"]}}"#, blob.hash());
    first.write_all(req.as_bytes()).await.unwrap();
    let want = format!(
        r#"{{"available_blobs": ["{}"], "lbrycrd_address": true}}"#,
        blob.hash()
    );
    assert_eq!(read_n(&mut first, want.len()).await, want.as_bytes());
    within(server.shutdown()).await;
}

/// A connection from 127.0.0.2 with a tiny receive buffer: a blob sent to
/// it and never read stays stuck in the server's send path.
async fn connect_from_127_0_0_2(server: std::net::SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    socket.connect(server).await.unwrap()
}

#[tokio::test]
async fn one_address_cannot_take_every_slot() {
    let blob = encrypted_blob(100);
    let cfg = ServerConfig {
        max_connections: 8,
        max_per_ip: 2,
        ..ServerConfig::default()
    };
    let server = start(mem_with([&blob]), cfg).await;
    let mut hoard = Vec::new();
    for _ in 0..2 {
        hoard.push(connect_from_127_0_0_2(server.local_addr()).await);
    }
    let mut third = connect_from_127_0_0_2(server.local_addr()).await;
    assert_eq!(
        read_until_closed(&mut third).await,
        b"",
        "over the per-address cap"
    );
    assert_eq!(server.stats().snapshot().refused, 1);
    // 127.0.0.1 is another address: served while 127.0.0.2 holds its share.
    let got = within(short_client().fetch(server.local_addr(), *blob.hash(), None)).await;
    assert_eq!(got, Ok(blob));
    within(server.shutdown()).await;
}

#[tokio::test]
async fn requesters_that_stop_reading_lose_their_slot() {
    let blob = encrypted_blob(2_097_151);
    let cfg = ServerConfig {
        max_connections: 2,
        stall_timeout: Duration::from_millis(200),
        ..ServerConfig::default()
    };
    let server = start(mem_with([&blob]), cfg).await;
    let request = format!(r#"{{"requested_blob": "{}"}}"#, blob.hash());
    let mut stuck = Vec::new();
    for _ in 0..2 {
        let mut s = connect_from_127_0_0_2(server.local_addr()).await;
        s.write_all(request.as_bytes()).await.unwrap();
        s.readable().await.unwrap();
        stuck.push(s);
    }
    // Both slots are taken by requesters that never read; once the stall
    // deadline closes them, a real client is served.
    let client = short_client();
    let fetched = within(async {
        loop {
            if let Ok(b) = client.fetch(server.local_addr(), *blob.hash(), None).await {
                return b;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert_eq!(fetched, blob);
    within(server.shutdown()).await;
}
