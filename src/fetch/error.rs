//! What a failed fetch reports: every peer that was a candidate, and why it
//! did not deliver (asked and failed, or not asked and why not).
//!
//! `FetchError` is `Clone` because single flight hands one result to every
//! waiter; the store's error (which holds an `io::Error`) is shared in an `Arc`.

use super::PeerError;
use crate::fetch::PeerAddr;
use crate::hash::BlobHash;
use crate::store::StoreError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Why a candidate peer was not asked for a blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skipped {
    /// It sent corrupt data or lied about a length recently.
    Banned { reason: PeerError, left: Duration },
    /// It said recently that it does not have this blob.
    NotAvailable { left: Duration },
    /// It was at its in-flight limit (serving other blobs) until the deadline.
    Busy,
    /// The deadline passed before its turn came.
    NotReached,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skipped::Banned { reason, left } => write!(
                f,
                "not asked: banned for another {} s after: {reason}",
                left.as_secs()
            ),
            Skipped::NotAvailable { left } => write!(
                f,
                "not asked: said it lacks this blob (remembered for another {} s)",
                left.as_secs()
            ),
            Skipped::Busy => f.write_str("not asked: busy with other blobs until the deadline"),
            Skipped::NotReached => f.write_str("not asked: the deadline passed before its turn"),
        }
    }
}

/// Why a blob could not be fetched.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    /// Every candidate was asked and failed, or could not be asked.
    /// `attempts` is in the order peers were asked; a peer still running at
    /// the deadline appears with `PeerError::Timeout`.
    #[error("{}", all_failed(hash, attempts, skipped))]
    AllPeersFailed {
        hash: BlobHash,
        attempts: Vec<(PeerAddr, PeerError)>,
        skipped: Vec<(PeerAddr, Skipped)>,
    },
    /// A peer sent the blob (its hash verifies) at another length than the
    /// stream descriptor gives. No peer can do better: the descriptor is wrong.
    #[error("blob {hash}: the stream descriptor is wrong: it gives {expected} bytes, the blob (whose hash verifies, from {peer}) has {actual}")]
    DescriptorLength {
        hash: BlobHash,
        peer: PeerAddr,
        expected: u64,
        actual: u64,
    },
    /// The peer finder knows nobody who might have the blob; `why` says
    /// what the search ran into, when it knows.
    #[error("no peers known for blob {hash}{}", why.as_ref().map(|w| format!(": {w}")).unwrap_or_default())]
    NoPeers { hash: BlobHash, why: Option<String> },
    /// The blob store failed (reading a cached copy or storing the fetched one).
    #[error("blob {hash}: blob store failed")]
    Store {
        hash: BlobHash,
        #[source]
        source: Arc<StoreError>,
    },
    /// The transfer task ended without a result (a panic, the runtime
    /// shutting down, or the fetcher stopped with the node).
    #[error("transfer of blob {hash} stopped without a result")]
    Interrupted { hash: BlobHash },
}

impl FetchError {
    /// The blob this error is about.
    pub fn hash(&self) -> &BlobHash {
        match self {
            FetchError::AllPeersFailed { hash, .. }
            | FetchError::DescriptorLength { hash, .. }
            | FetchError::NoPeers { hash, .. }
            | FetchError::Store { hash, .. }
            | FetchError::Interrupted { hash } => hash,
        }
    }

    pub(crate) fn store(hash: BlobHash, e: StoreError) -> Self {
        FetchError::Store {
            hash,
            source: Arc::new(e),
        }
    }
}

fn all_failed(
    hash: &BlobHash,
    attempts: &[(PeerAddr, PeerError)],
    skipped: &[(PeerAddr, Skipped)],
) -> String {
    use fmt::Write;
    let total = attempts.len() + skipped.len();
    let mut s = format!(
        "could not fetch blob {hash}: all {total} peer{} failed",
        if total == 1 { "" } else { "s" }
    );
    for (peer, e) in attempts {
        let _ = write!(s, "\n  {peer}: {e}");
    }
    for (peer, why) in skipped {
        let _ = write!(s, "\n  {peer}: {why}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_peers_failed_lists_one_line_per_peer() {
        let hash = BlobHash::digest(b"x");
        let a = PeerAddr::Tcp("10.0.0.1:4444".parse().unwrap());
        let b = PeerAddr::Tcp("10.0.0.2:4444".parse().unwrap());
        let c = PeerAddr::Tcp("10.0.0.3:4444".parse().unwrap());
        let e = FetchError::AllPeersFailed {
            hash,
            attempts: vec![
                (a, PeerError::Connect("connection refused".into())),
                (b, PeerError::Timeout("waiting for the response header")),
            ],
            skipped: vec![(c, Skipped::NotReached)],
        };
        let text = e.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].contains(&hash.to_hex()) && lines[0].contains("all 3 peers"));
        assert!(lines[1].contains("10.0.0.1:4444") && lines[1].contains("refused"));
        assert!(lines[2].contains("10.0.0.2:4444") && lines[2].contains("timed out"));
        assert!(lines[3].contains("10.0.0.3:4444") && lines[3].contains("deadline"));
        assert_eq!(e.hash(), &hash);
    }
}
