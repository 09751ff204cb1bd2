//! Telling BitTorrent's mainline DHT and a torrent's trackers which
//! torrents this node serves, so peers that look a torrent up find our
//! `--bt-listen` port beside the seeds: every torrent open in the mount is
//! announced to the DHT when it opens (its trackers were told as they were
//! asked for peers) and to both again every [`ANNOUNCE_EVERY`]; the peers
//! the trackers name join the torrent (nodes forget an announce after about
//! 30 minutes; libtorrent re-announces on the same scale). An announce that
//! fails (no node gave a token, nothing joined) is tried again after
//! [`RETRY_AFTER`], and the torrents due after it wait for the next round:
//! a node offline with many torrents tries once a minute, not once per
//! torrent. A full node (`--bt-dht-listen`) also has its table
//! refreshed every [`REFRESH_EVERY`].
//!
//! Which torrents are due is a pure function of the [`Schedule`], the
//! torrents open and `now`, tested without a network.

use super::bt_peers::Discovery;
use super::bt_seed::Seeding;
use crate::wire::krpc::Id20;
use std::collections::{HashMap, HashSet};
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

/// When each open torrent is next announced, and which were taken last
/// time; both keep only torrents still open (bounded by what the mount has
/// open).
#[derive(Default)]
pub struct Schedule {
    next: HashMap<Id20, Instant>,
    taken: HashSet<Id20>,
}

impl Schedule {
    /// The torrents of `open` due at `now`, in `open`'s order.
    pub fn due(&mut self, open: &[Id20], now: Instant) -> Vec<Id20> {
        self.next.retain(|ih, _| open.contains(ih));
        self.taken.retain(|ih| open.contains(ih));
        let due = open
            .iter()
            .filter(|ih| self.next.get(*ih).is_none_or(|t| *t <= now));
        due.copied().collect()
    }

    /// Whether `ih` was announced before (its trackers were then told by
    /// the open, and are told again from the next round).
    pub fn seen(&self, ih: &Id20) -> bool {
        self.next.contains_key(ih)
    }

    /// Records an announce of `ih` at `now`, taken or not.
    pub fn done(&mut self, ih: Id20, taken: bool, now: Instant) {
        let wait = if taken { ANNOUNCE_EVERY } else { RETRY_AFTER };
        self.next.insert(ih, now + wait);
        match taken {
            true => self.taken.insert(ih),
            false => self.taken.remove(&ih),
        };
    }

    /// Open torrents whose last announce was taken.
    pub fn taken(&self) -> usize {
        self.taken.len()
    }
}

/// What the announcer needs: where to announce, what is open, which port.
pub struct Announcer {
    /// The DHT (if on) and each torrent's trackers.
    pub discovery: Discovery,
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
        let mut schedule = Schedule::default();
        let mut refreshed: Option<Instant> = None;
        let mut tick = tokio::time::interval(RETRY_AFTER);
        // A long round is not followed by a burst of missed ticks.
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = self.opened.notified() => {}
            }
            let now = Instant::now();
            let dht = self.discovery.dht.as_ref();
            if refreshed.is_none_or(|t| now.duration_since(t) >= REFRESH_EVERY) {
                if let Some(dht) = dht {
                    dht.refresh().await;
                }
                refreshed = Some(now);
            }
            let Some(port) = self.port else { continue };
            let open = self.seeding.info_hashes();
            for ih in schedule.due(&open, now) {
                let taken = self.announce(ih, port, schedule.seen(&ih)).await;
                schedule.done(ih, taken, Instant::now());
                if !taken {
                    break;
                }
            }
            self.announced.store(schedule.taken(), Ordering::Relaxed);
        }
    }

    /// Announces one torrent to the DHT, and `again` to its trackers;
    /// whether a DHT node or a tracker took it.
    async fn announce(&self, ih: Id20, port: u16, again: bool) -> bool {
        let btih = hex::encode(ih);
        let dht = async {
            let dht = self.discovery.dht.as_ref()?;
            Some(dht.announce(ih, port).await)
        };
        let trackers = async {
            match again {
                true => self.discovery.trackers.ask(ih, port).await,
                false => (Vec::new(), 0),
            }
        };
        let (dht, (found, answered)) = tokio::join!(dht, trackers);
        if let Some(swarm) = self.seeding.find(&ih) {
            swarm.add_peers(&found);
        }
        match &dht {
            Some(Ok(stored)) => {
                tracing::info!(%btih, port, stored, "announced in the mainline DHT")
            }
            Some(Err(e)) => {
                tracing::warn!(%btih, error = %e, "announce in the mainline DHT failed")
            }
            None => {}
        }
        matches!(dht, Some(Ok(_))) || answered > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torrents_are_due_when_new_and_again_after_their_time() {
        let t0 = Instant::now();
        let (a, b) = ([1; 20], [2; 20]);
        let mut s = Schedule::default();
        assert_eq!(s.due(&[a, b], t0), [a, b], "new: both due");
        assert!(!s.seen(&a));
        s.done(a, true, t0);
        s.done(b, false, t0);
        assert!(s.seen(&a) && s.seen(&b));
        assert_eq!(s.taken(), 1, "a failed announce is not counted");
        assert!(s.due(&[a, b], t0).is_empty());
        assert_eq!(
            s.due(&[a, b], t0 + RETRY_AFTER),
            [b],
            "a failure is retried soon"
        );
        assert_eq!(s.due(&[a, b], t0 + ANNOUNCE_EVERY), [a, b]);
        s.done(a, false, t0 + ANNOUNCE_EVERY);
        assert_eq!(s.taken(), 0, "taken, then not: not counted");
        // A torrent no longer open is forgotten.
        s.done(b, true, t0);
        assert_eq!(s.due(&[a], t0 + ANNOUNCE_EVERY * 2), [a]);
        assert!(!s.seen(&b));
        assert_eq!(s.taken(), 0);
    }
}
