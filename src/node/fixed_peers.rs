//! lbry-sdk's fixed peers: blob servers speaking the ordinary blob-exchange
//! protocol (LBRY's `cdn.reflector.lbry.com:5567` by default), asked as a
//! fallback when the DHT and the trackers give no usable peer within
//! [`FIXED_PEER_DELAY`] (lbry-sdk's `fixed_peer_delay`), and raced against
//! slow DHT peers after it. The transfer decides when (`fetch::transfer`);
//! this says who.
//!
//! Names are resolved when first needed, never at start-up, so a node that
//! finds every blob elsewhere never looks the host up. A resolution is kept
//! for [`RESOLVED_FOR`]; when every name failed, none is tried again for
//! [`REST_AFTER_FAILURE`], so a dead name costs one lookup a minute, not one
//! per blob. Failures show in `status` through the [`SourceBook`].

use super::source_status::SourceBook;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// lbry-sdk's `fixed_peers`, used when no `--fixed-peer` and no
/// `--no-fixed-peers` is given.
pub const DEFAULT_FIXED_PEERS: [&str; 1] = ["cdn.reflector.lbry.com:5567"];
/// How long a transfer waits for other peers before asking the fixed ones
/// (lbry-sdk's `fixed_peer_delay`).
pub const FIXED_PEER_DELAY: Duration = Duration::from_secs(2);
/// How long a resolved address is used before the name is looked up again.
pub const RESOLVED_FOR: Duration = Duration::from_secs(600);
/// How long after every name failed to resolve none is tried again.
pub const REST_AFTER_FAILURE: Duration = Duration::from_secs(60);

/// The fixed peers (`HOST:PORT`), resolved lazily.
pub struct FixedPeers {
    specs: Vec<String>,
    book: Arc<SourceBook>,
    resolved: tokio::sync::Mutex<Resolved>,
}

#[derive(Default)]
struct Resolved {
    addrs: Vec<SocketAddr>,
    /// Until when `addrs` is used as it is.
    until: Option<Instant>,
}

/// How a fixed peer is named in `status`.
fn label(spec: &str) -> String {
    format!("fixed peer {spec}")
}

impl FixedPeers {
    /// The fixed peers of `specs`, listed in `book` for `status`.
    pub fn new(specs: Vec<String>, book: Arc<SourceBook>) -> Self {
        for spec in &specs {
            book.add(label(spec), spec.parse::<SocketAddr>().ok().map(Into::into));
        }
        Self {
            specs,
            book,
            resolved: tokio::sync::Mutex::default(),
        }
    }

    /// Their addresses, resolving the names when due (one resolution at a
    /// time: transfers that need them meanwhile wait for it).
    pub async fn addrs(&self) -> Vec<SocketAddr> {
        let mut resolved = self.resolved.lock().await;
        let now = Instant::now();
        if resolved.until.is_some_and(|until| now < until) {
            return resolved.addrs.clone();
        }
        let mut addrs = Vec::new();
        for spec in &self.specs {
            match super::parts::resolve(std::slice::from_ref(spec)).await {
                Ok(a) => {
                    for addr in &a {
                        self.book.resolved(&label(spec), (*addr).into());
                    }
                    addrs.extend(a);
                }
                Err(e) => {
                    tracing::warn!("fixed peer {spec}: {e:#}");
                    self.book.failed(&label(spec), format!("{e:#}"));
                }
            }
        }
        let keep = if addrs.is_empty() {
            REST_AFTER_FAILURE
        } else {
            RESOLVED_FOR
        };
        resolved.until = Some(now + keep);
        resolved.addrs.clone_from(&addrs);
        addrs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_name_that_does_not_resolve_is_not_looked_up_for_every_blob() {
        let book = Arc::new(SourceBook::default());
        // No port: refused before any name lookup.
        let fixed = FixedPeers::new(vec!["nowhere".into()], book.clone());
        assert!(fixed.addrs().await.is_empty());
        let status = book.status();
        assert_eq!(status[0].source, "fixed peer nowhere");
        assert!(status[0].last_error.is_some(), "{status:?}");
        let until = fixed.resolved.lock().await.until.expect("a rest");
        assert!(until >= Instant::now() + REST_AFTER_FAILURE - Duration::from_secs(5));
    }

    #[tokio::test]
    async fn addresses_resolve_without_a_lookup() {
        let book = Arc::new(SourceBook::default());
        let fixed = FixedPeers::new(vec!["127.0.0.1:5567".into()], book);
        assert_eq!(fixed.addrs().await, ["127.0.0.1:5567".parse().unwrap()]);
    }
}
