//! Candidates still to come while a transfer runs: the peer search (which
//! may be slow: a DHT lookup takes seconds) and the fallback peers, which
//! join when the search and the peers it found have delivered nothing for
//! [`PeerFinder::fallback_after`](crate::fetch::PeerFinder::fallback_after)
//! (lbry-sdk's fixed peers, raced against slow DHT peers), or at once when
//! nobody else is left to ask.

use super::super::fetcher::Inner;
use super::super::{BoxFuture, PeerAddr, PeerSearch};
use crate::hash::BlobHash;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::time::Instant;

/// What arrived.
pub(super) enum Arrived {
    Search(PeerSearch),
    Fallback(Vec<PeerAddr>),
}

pub(super) struct More<'a> {
    search: Option<BoxFuture<'a, PeerSearch>>,
    fallback: Option<BoxFuture<'a, Vec<PeerAddr>>>,
    /// When the fallback is due; `None` once asked, or when there is none.
    fallback_at: Option<Instant>,
    inner: &'a Arc<Inner>,
    /// Why the search found nobody, when it did not.
    pub(super) why_none: Option<String>,
}

impl<'a> More<'a> {
    /// Starts the search for `hash`; the fallback is due `fallback_after` from `start`.
    pub(super) fn start(inner: &'a Arc<Inner>, hash: BlobHash, start: Instant) -> Self {
        let fallback_at = inner.finder.fallback_after(hash).map(|d| start + d);
        Self {
            search: Some(inner.finder.search(hash)),
            fallback: None,
            fallback_at,
            inner,
            why_none: None,
        }
    }

    /// Whether something may still arrive.
    pub(super) fn pending(&self) -> bool {
        self.search.is_some() || self.fallback.is_some()
    }

    /// When the fallback is due, if it is still to be asked.
    pub(super) fn fallback_at(&self) -> Option<Instant> {
        self.fallback_at
    }

    /// Asks the fallback now, if it is still to be asked; whether it was.
    pub(super) fn start_fallback(&mut self) -> bool {
        if self.fallback_at.take().is_none() {
            return false;
        }
        tracing::debug!("asking the fallback peers");
        self.fallback = Some(self.inner.finder.fallback());
        true
    }

    /// The next thing to arrive (pending forever when nothing is pending:
    /// guard with [`pending`](Self::pending)).
    pub(super) async fn next(&mut self) -> Arrived {
        std::future::poll_fn(|cx| self.poll_next(cx)).await
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Arrived> {
        if let Some(search) = self.search.as_mut() {
            if let Poll::Ready(found) = search.as_mut().poll(cx) {
                self.search = None;
                self.why_none.clone_from(&found.why_none);
                return Poll::Ready(Arrived::Search(found));
            }
        }
        if let Some(fallback) = self.fallback.as_mut() {
            if let Poll::Ready(peers) = fallback.as_mut().poll(cx) {
                self.fallback = None;
                return Poll::Ready(Arrived::Fallback(peers));
            }
        }
        Poll::Pending
    }
}
