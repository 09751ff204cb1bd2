//! A fixed list of peers (`--peer HOST:PORT`): every peer is a candidate for
//! every blob. Useful on its own (a private pair of nodes, a known mirror) and
//! as a fallback beside the DHT, like lbry-sdk's `fixed_peers`.

use super::{BoxFuture, PeerFinder};
use crate::hash::BlobHash;
use std::net::SocketAddr;

/// A [`PeerFinder`] that always answers the same peers, in the given order,
/// without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaticPeers(pub Vec<SocketAddr>);

impl StaticPeers {
    pub fn new(peers: impl IntoIterator<Item = SocketAddr>) -> Self {
        let mut out: Vec<SocketAddr> = Vec::new();
        for p in peers {
            if !out.contains(&p) {
                out.push(p);
            }
        }
        Self(out)
    }
}

impl PeerFinder for StaticPeers {
    fn find_peers(&self, _hash: BlobHash) -> BoxFuture<'_, Vec<SocketAddr>> {
        let peers = self.0.clone();
        Box::pin(async move { peers })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_the_list_for_any_blob_without_duplicates() {
        let a: SocketAddr = "127.0.0.1:4444".parse().unwrap();
        let b: SocketAddr = "[::1]:5567".parse().unwrap();
        let finder = StaticPeers::new([a, b, a]);
        assert_eq!(finder.find_peers(BlobHash::digest(b"1")).await, [a, b]);
        assert_eq!(finder.find_peers(BlobHash::digest(b"2")).await, [a, b]);
        assert!(StaticPeers::default()
            .find_peers(BlobHash::digest(b"3"))
            .await
            .is_empty());
    }
}
