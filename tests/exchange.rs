//! The blob exchange over real sockets on 127.0.0.1: our client against peers
//! that misbehave on purpose, and our server against good and bad clients.
//! Deadlines in these tests are short (hundreds of milliseconds) so a hang
//! fails fast; no test asserts how fast anything is.

mod common;

#[path = "exchange/client.rs"]
mod client;
#[path = "exchange/payments.rs"]
mod payments;
#[path = "exchange/server.rs"]
mod server;
#[path = "exchange/shutdown.rs"]
mod shutdown;
#[path = "exchange/stores.rs"]
mod stores;

use lbrymount::exchange::{ClientConfig, ExchangeClient};
use std::future::Future;
use std::time::Duration;

/// Per-phase client deadline in these tests.
pub const SHORT: Duration = Duration::from_millis(300);

/// A client whose every deadline is `SHORT`.
pub fn short_client() -> ExchangeClient {
    ExchangeClient::new(ClientConfig {
        connect_timeout: SHORT,
        header_timeout: SHORT,
        body_timeout: SHORT,
        ..ClientConfig::default()
    })
}

/// Fails the test if `fut` hangs: a guard against missing deadlines, not a speed check.
pub async fn within<T>(fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .expect("operation did not finish: a deadline is missing")
}
