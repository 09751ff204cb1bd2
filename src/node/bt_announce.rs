//! Telling BitTorrent's mainline DHT which torrents this node serves, so
//! peers that look a torrent up find our `--bt-listen` port beside the
//! seeds: every torrent open in the mount is announced when it opens and
//! again every [`ANNOUNCE_EVERY`] (nodes forget an announce after about
//! 30 minutes; libtorrent re-announces on the same scale). An announce that
//! fails (no node gave a token, nothing joined) is tried again after
//! [`RETRY_AFTER`], and the torrents due after it wait for the next round:
//! a node offline with many torrents tries once a minute, not once per
//! torrent. A full node (`--bt-dht-listen`) also has its table
//! refreshed every [`REFRESH_EVERY`].
//!
//! Which torrents are due is a pure function of the schedule, the torrents
//! open and `now` ([`due`]), tested without a network.

use super::bt_dht::MainlineFinder;
use super::bt_seed::Seeding;
use crate::wire::krpc::Id20;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How often a torrent is announced again.
pub const ANNOUNCE_EVERY: Duration = Duration::from_secs(15 * 60);
/// How soon a failed announce is tried again.
pub const RETRY_AFTER: Duration = Duration::from_secs(60);
/// How often a full node refreshes its routing table.
pub const REFRESH_EVERY: Duration = Duration::from_secs(120);

/// The infohashes of `open` whose next announce is due at `now`, in
/// `open`'s order; `next` keeps only torrents still open (it is bounded by
/// what the mount has open).
pub fn due(next: &mut HashMap<Id20, Instant>, open: &[Id20], now: Instant) -> Vec<Id20> {
    next.retain(|ih, _| open.contains(ih));
    let due = open
        .iter()
        .filter(|ih| next.get(*ih).is_none_or(|t| *t <= now));
    due.copied().collect()
}

/// What the announcer needs: where to announce, what is open, which port.
pub struct Announcer {
    pub dht: Arc<MainlineFinder>,
    pub seeding: Arc<Seeding>,
    /// Our `--bt-listen` port, or `None`: nothing to announce (a full node
    /// still refreshes its table).
    pub port: Option<u16>,
    /// Woken when a torrent opens, so it is announced at once.
    pub opened: Arc<Notify>,
    /// Open torrents whose last announce was taken (for `status`).
    pub announced: Arc<AtomicUsize>,
}

impl Announcer {
    /// Runs until `stop`.
    pub fn spawn(self, stop: CancellationToken) {
        let span = tracing::info_span!("bt announce", port = ?self.port);
        crate::task::spawn("bt announce", span, async move {
            stop.run_until_cancelled(self.run()).await;
        });
    }

    async fn run(self) {
        let mut next = HashMap::new();
        let mut refreshed: Option<Instant> = None;
        let mut tick = tokio::time::interval(RETRY_AFTER);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = self.opened.notified() => {}
            }
            let now = Instant::now();
            if refreshed.is_none_or(|t| now.duration_since(t) >= REFRESH_EVERY) {
                self.dht.refresh().await;
                refreshed = Some(now);
            }
            let Some(port) = self.port else { continue };
            let open = self.seeding.info_hashes();
            for ih in due(&mut next, &open, now) {
                let taken = self.announce(ih, port).await;
                let wait = if taken { ANNOUNCE_EVERY } else { RETRY_AFTER };
                next.insert(ih, Instant::now() + wait);
                if !taken {
                    break;
                }
            }
            let taken = next.values().filter(|t| **t > now + RETRY_AFTER).count();
            self.announced.store(taken, Ordering::Relaxed);
        }
    }

    /// Announces one torrent; whether a node took it.
    async fn announce(&self, ih: Id20, port: u16) -> bool {
        let btih = hex::encode(ih);
        match self.dht.announce(ih, port).await {
            Ok(stored) => {
                tracing::info!(%btih, port, stored, "announced in the mainline DHT");
                true
            }
            Err(e) => {
                tracing::warn!(%btih, error = %e, "announce in the mainline DHT failed");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torrents_are_due_when_new_and_again_after_their_time() {
        let t0 = Instant::now();
        let (a, b) = ([1; 20], [2; 20]);
        let mut next = HashMap::new();
        assert_eq!(due(&mut next, &[a, b], t0), [a, b], "new: both due");
        next.insert(a, t0 + ANNOUNCE_EVERY);
        next.insert(b, t0 + RETRY_AFTER);
        assert!(due(&mut next, &[a, b], t0).is_empty());
        assert_eq!(due(&mut next, &[a, b], t0 + RETRY_AFTER), [b]);
        assert_eq!(due(&mut next, &[a, b], t0 + ANNOUNCE_EVERY), [a, b]);
        // A torrent no longer open is forgotten.
        assert_eq!(due(&mut next, &[b], t0), Vec::<Id20>::new());
        assert!(!next.contains_key(&a));
    }
}
