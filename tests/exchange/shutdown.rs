//! Graceful shutdown of `BlobServer`: idle connections close at once, a
//! transfer in flight finishes, the grace period bounds the wait.

use crate::common::fakepeer::encrypted_blob;
use crate::server::{mem_with, read_until_closed, start};
use crate::stores::GateStore;
use crate::{short_client, within};
use lbrymount::exchange::{ClientConfig, ExchangeClient, ServerConfig};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

#[tokio::test]
async fn shutdown_closes_idle_connections_and_stops_listening() {
    let blob = encrypted_blob(100);
    let server = start(mem_with([&blob]), ServerConfig::default()).await;
    let addr = server.local_addr();
    let client = short_client();
    assert!(within(client.fetch(addr, *blob.hash(), None)).await.is_ok());
    let mut idle = TcpStream::connect(addr).await.unwrap();
    // The default idle timeout is 30 s: only shutdown can close these in time.
    within(server.shutdown()).await;
    assert_eq!(read_until_closed(&mut idle).await, b"");
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}

#[tokio::test]
async fn a_transfer_in_flight_finishes_during_shutdown() {
    let blob = encrypted_blob(1_000_000);
    let (store, mut entered, gate) = GateStore::new([&blob]);
    let cfg = ServerConfig {
        shutdown_grace: Duration::from_secs(10),
        ..ServerConfig::default()
    };
    let server = start(Arc::new(store), cfg).await;
    let addr = server.local_addr();
    let stats = server.stats();
    let client = Arc::new(ExchangeClient::new(ClientConfig {
        header_timeout: Duration::from_secs(10),
        ..ClientConfig::default()
    }));
    let hash = *blob.hash();
    let fetch = tokio::spawn({
        let client = client.clone();
        async move { client.fetch(addr, hash, None).await }
    });
    within(entered.recv())
        .await
        .expect("the server opens the blob");
    let mut stopping = tokio::spawn(server.shutdown());
    let early = tokio::time::timeout(Duration::from_millis(100), &mut stopping).await;
    assert!(early.is_err(), "shutdown waits for the transfer in flight");
    gate.send(()).unwrap();
    let got = within(fetch).await.unwrap();
    assert_eq!(got, Ok(blob));
    within(stopping).await.unwrap();
    assert_eq!(stats.snapshot().blobs_served, 1);
}

#[tokio::test]
async fn the_grace_period_bounds_shutdown() {
    let blob = encrypted_blob(100);
    let (store, mut entered, gate) = GateStore::new([&blob]);
    let cfg = ServerConfig {
        shutdown_grace: Duration::from_millis(200),
        ..ServerConfig::default()
    };
    let server = start(Arc::new(store), cfg).await;
    let addr = server.local_addr();
    let client = Arc::new(ExchangeClient::new(ClientConfig {
        header_timeout: Duration::from_secs(10),
        ..ClientConfig::default()
    }));
    let hash = *blob.hash();
    let fetch = tokio::spawn({
        let client = client.clone();
        async move { client.fetch(addr, hash, None).await }
    });
    within(entered.recv())
        .await
        .expect("the server opens the blob");
    // The gate stays shut: only the grace period can end this shutdown.
    within(server.shutdown()).await;
    let got = within(fetch).await.unwrap();
    assert!(
        got.is_err(),
        "the cut transfer fails for the client: {got:?}"
    );
    gate.send(()).unwrap();
}
