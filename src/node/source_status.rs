//! Each configured blob source's last success and last error, for
//! `status`, as trackers keep theirs: fixed peers (lbry-sdk's fallback)
//! and HTTP blob sources. The fetcher's [`BlobPeer`] is wrapped in
//! [`Watched`], which records the outcome of every request to a source the
//! [`SourceBook`] lists; a fixed peer's name that does not resolve is
//! recorded as its error. The book holds only what the configuration names.

use crate::blob::VerifiedBlob;
use crate::fetch::{BlobPeer, BoxFuture, PeerAddr, PeerError};
use crate::hash::BlobHash;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

/// One source's health, for `status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SourceStatus {
    /// What it is, as configured: `fixed peer HOST:PORT`, `HTTP source URL`.
    pub source: String,
    /// Seconds since the epoch of the last blob it delivered, if any.
    pub last_success: Option<u64>,
    /// The last failure: seconds since the epoch and why.
    pub last_error: Option<(u64, String)>,
}

struct Entry {
    /// The addresses it answers at (a fixed peer's once resolved).
    addr: Option<PeerAddr>,
    status: SourceStatus,
}

/// The configured sources and their health.
#[derive(Default)]
pub struct SourceBook {
    entries: Mutex<Vec<Entry>>,
}

fn epoch_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl SourceBook {
    /// Lists a source named `source`, answering at `addr` when known.
    pub fn add(&self, source: String, addr: Option<PeerAddr>) {
        let status = SourceStatus {
            source,
            ..SourceStatus::default()
        };
        self.lock().push(Entry { addr, status });
    }

    /// The source named `source` answers at `addr` (its name resolved).
    pub fn resolved(&self, source: &str, addr: PeerAddr) {
        if let Some(e) = self.lock().iter_mut().find(|e| e.status.source == source) {
            e.addr = Some(addr);
        }
    }

    /// The source named `source` failed before any request (`why`).
    pub fn failed(&self, source: &str, why: String) {
        if let Some(e) = self.lock().iter_mut().find(|e| e.status.source == source) {
            e.status.last_error = Some((epoch_secs(), why));
        }
    }

    /// Records how a request to `peer` ended, if `peer` is a listed source.
    pub fn record(&self, peer: PeerAddr, result: Result<(), &PeerError>) {
        let mut entries = self.lock();
        for e in entries.iter_mut().filter(|e| e.addr == Some(peer)) {
            match result {
                Ok(()) => e.status.last_success = Some(epoch_secs()),
                Err(why) => e.status.last_error = Some((epoch_secs(), why.to_string())),
            }
        }
    }

    pub fn status(&self) -> Vec<SourceStatus> {
        self.lock().iter().map(|e| e.status.clone()).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A [`BlobPeer`] that records each request's outcome in a [`SourceBook`].
pub struct Watched {
    pub inner: Arc<dyn BlobPeer>,
    pub book: Arc<SourceBook>,
}

impl BlobPeer for Watched {
    fn fetch_blob(
        &self,
        peer: PeerAddr,
        hash: BlobHash,
        expected_len: Option<u64>,
    ) -> BoxFuture<'_, Result<VerifiedBlob, PeerError>> {
        Box::pin(async move {
            let result = self.inner.fetch_blob(peer, hash, expected_len).await;
            self.book.record(peer, result.as_ref().map(|_| ()));
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_sources_are_recorded() {
        let book = SourceBook::default();
        let http = PeerAddr::Http(crate::fetch::HttpUrl::parse("http://127.0.0.1:1").unwrap());
        let tcp = PeerAddr::Tcp("127.0.0.1:2".parse().unwrap());
        book.add("HTTP source http://127.0.0.1:1".into(), Some(http));
        book.add("fixed peer localhost:2".into(), None);
        book.record(tcp, Err(&PeerError::NotAvailable));
        assert!(book.status().iter().all(|s| s.last_error.is_none()));
        book.resolved("fixed peer localhost:2", tcp);
        book.record(tcp, Err(&PeerError::NotAvailable));
        book.record(http, Ok(()));
        let status = book.status();
        assert!(status[0].last_success.is_some() && status[0].last_error.is_none());
        let (_, why) = status[1].last_error.clone().unwrap();
        assert_eq!(why, "peer does not have the blob");
    }
}
