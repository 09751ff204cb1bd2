//! Joining the network and staying in it: the join itself, the refresh loop,
//! expiry of stored announcements and snapshots of the state file
//! (lbry-sdk's `Node.join_network` and `Node.refresh_node`, docs/protocol.md §4.5).
//!
//! The refresh loop runs every `NodeConfig::refresh_every` (lbry-sdk's
//! `CHECK_REFRESH_INTERVAL`, 720 s). Each pass looks up an id in every bucket
//! nobody touched for `RoutingConfig::refresh_interval` (an hour), then pings
//! every contact that is not good: the live answer and are good again, the
//! dead collect failures and are evicted (`routing.rs`), so the table stops
//! handing them out within one pass and forgets them after three failures.
//!
//! Beside it the watchdog looks at the table every second (`rejoin.rs`
//! decides): with no live contact it rejoins at once through the bootstrap
//! nodes, the saved contacts, the recently evicted and the failed ones,
//! then with backoff up to `rejoin_every`; with fewer than K it looks up our
//! own id with backoff up to the refresh period. A lookup that finds no live
//! contact rejoins first (`Inner::rejoin`) rather than ask nobody.
//!
//! Every task here holds only a weak reference between passes, so dropping
//! the `Node` ends them; a pass in progress is aborted by `shutdown`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use super::lookup::LookupKind;
use super::node::{lock, DhtError, Inner};
use super::rejoin::{Action, Watch};
use super::state::{chain, SavedState, MAX_SAVED_CONTACTS};
use super::K;
use crate::task;
use crate::wire::dht::Request;

/// How often expired announcements are pruned.
const EXPIRE_EVERY: Duration = Duration::from_secs(60);
/// The shortest period any loop here accepts, so a zero in the config
/// cannot make it spin.
const MIN_PERIOD: Duration = Duration::from_millis(10);
/// How often the watchdog looks at the routing table.
const WATCH_EVERY: Duration = Duration::from_secs(1);

impl Inner {
    /// Pings `bootstrap`, every remembered seed, the recently evicted and
    /// the failed contacts, then looks up our own id.
    pub(super) async fn join(
        self: &Arc<Self>,
        bootstrap: &[SocketAddr],
    ) -> Result<usize, DhtError> {
        let mut addrs = {
            let mut seeds = lock(&self.seeds);
            for a in bootstrap {
                if !seeds.contains(a) {
                    seeds.push(*a);
                }
            }
            seeds.clone()
        };
        let bad = lock(&self.routing).bad();
        let former = lock(&self.former).clone();
        for a in former.into_iter().chain(bad.iter().take(K).map(|c| c.addr)) {
            if !addrs.contains(&a) {
                addrs.push(a);
            }
        }
        let mut set = JoinSet::new();
        for &addr in &addrs {
            let inner = self.clone();
            let span = tracing::debug_span!("bootstrap", peer = %addr);
            task::spawn_in(&mut set, "dht_bootstrap_ping", span, async move {
                inner.ping(addr).await
            });
        }
        let mut answered = 0;
        while let Some(res) = set.join_next().await {
            match res {
                Ok(Ok(_)) => answered += 1,
                Ok(Err(e)) => debug!(error = %e, "bootstrap node did not answer"),
                Err(e) => debug!(error = %e, "bootstrap ping task failed"),
            }
        }
        if answered == 0 {
            return Err(DhtError::NoBootstrap { tried: addrs.len() });
        }
        let seeds = lock(&self.routing).closest_or_bad(&self.id, K);
        self.search_from(self.id, LookupKind::FindNode, None, seeds)
            .await;
        let size = lock(&self.routing).len();
        info!(answered, contacts = size, "joined the DHT");
        Ok(size)
    }

    /// Whether a rejoin has anyone to ask.
    fn can_rejoin(&self) -> bool {
        !lock(&self.seeds).is_empty()
            || !lock(&self.former).is_empty()
            || !lock(&self.routing).is_empty()
    }

    /// Rejoins unless a contact is live, once at a time: a caller that
    /// waited for someone else's rejoin does not start another.
    pub(super) async fn rejoin(self: &Arc<Self>) {
        let seen = self.joins.load(Ordering::SeqCst);
        let _one = self.joining.lock().await;
        if self.joins.load(Ordering::SeqCst) != seen
            || lock(&self.routing).live_len() > 0
            || !self.can_rejoin()
        {
            return;
        }
        match self.join(&[]).await {
            Ok(n) => info!(contacts = n, "rejoined the DHT"),
            Err(e) => debug!(error = %e, "rejoin failed"),
        }
        self.joins.fetch_add(1, Ordering::SeqCst);
    }

    /// One pass of the refresh loop (an empty table is the watchdog's).
    async fn refresh_once(self: &Arc<Self>) {
        if lock(&self.routing).is_empty() {
            return;
        }
        let targets = {
            let mut rng = rand::thread_rng();
            lock(&self.routing).refresh_targets(Instant::now(), &mut rng)
        };
        for target in &targets {
            self.search(*target, LookupKind::FindNode, None).await;
        }
        let (pinged, answered) = self.ping_questionable().await;
        let contacts = lock(&self.routing).len();
        debug!(
            lookups = targets.len(),
            pinged, answered, contacts, "routing table refreshed"
        );
    }

    /// Pings every contact that is not good; returns (pinged, answered).
    async fn ping_questionable(self: &Arc<Self>) -> (usize, usize) {
        let contacts = lock(&self.routing).questionable(Instant::now());
        let mut set = JoinSet::new();
        for c in contacts {
            let Ok(permit) = self.checks.clone().acquire_owned().await else {
                break;
            };
            let inner = self.clone();
            let span = tracing::debug_span!("refresh_ping", peer = %c.addr);
            task::spawn_in(&mut set, "dht_refresh_ping", span, async move {
                let _permit = permit;
                inner.call_contact(c, Request::Ping).await.is_ok()
            });
        }
        let pinged = set.len();
        let mut answered = 0;
        while let Some(res) = set.join_next().await {
            answered += usize::from(res.unwrap_or(false));
        }
        (pinged, answered)
    }

    /// Writes the state file, if there is one. An empty table does not
    /// overwrite the contacts a file holds (a node cut off from the network
    /// must not forget them), unless `initial`: then the file gets its id.
    /// Blocking; failures are logged, never fatal.
    pub(super) fn save_state(&self, initial: bool) {
        let Some(path) = &self.state_file else {
            return;
        };
        let mut contacts = lock(&self.routing).snapshot(MAX_SAVED_CONTACTS);
        if contacts.is_empty() {
            if !initial {
                return;
            }
            contacts = self.saved.clone();
        }
        let state = SavedState {
            node_id: self.id,
            contacts,
        };
        let _serial = lock(&self.save_lock);
        match state.save(path) {
            Ok(()) => {
                debug!(path = %path.display(), contacts = state.contacts.len(), "DHT state saved")
            }
            Err(e) => warn!(error = %chain(&e), "DHT state not saved"),
        }
    }
}

/// Reads the state file on the blocking pool; a missing file is `None`, an
/// unreadable one is logged and also `None`.
pub(super) async fn load_state(path: Option<PathBuf>) -> Option<SavedState> {
    let path = path?;
    let loaded = crate::blocking::run(move || SavedState::load(&path)).await;
    match loaded {
        Ok(Ok(state)) => state,
        Ok(Err(e)) => {
            warn!(error = %chain(&e), "ignoring the DHT state file; starting afresh");
            None
        }
        Err(e) => {
            warn!(error = %e, "reading the DHT state file failed");
            None
        }
    }
}

/// The refresh loop (see the module docs).
pub(super) async fn refresh_loop(inner: Weak<Inner>, every: Duration) {
    let every = every.max(MIN_PERIOD);
    loop {
        tokio::time::sleep(every).await;
        let Some(node) = inner.upgrade() else {
            return;
        };
        node.refresh_once().await;
    }
}

/// The watchdog (see the module docs): `grow_max` bounds the backoff of a
/// young table's lookups, `rejoin_max` that of rejoins.
pub(super) async fn watch_loop(inner: Weak<Inner>, grow_max: Duration, rejoin_max: Duration) {
    let mut watch = Watch::new(K, rejoin_max.max(MIN_PERIOD), grow_max.max(MIN_PERIOD));
    loop {
        let Some(node) = inner.upgrade() else {
            return;
        };
        let live = lock(&node.routing).live_len();
        match watch.tick(live, node.can_rejoin(), Instant::now()) {
            Action::Wait => {}
            Action::Rejoin => node.rejoin().await,
            Action::Grow => {
                let found = node.search(node.id, LookupKind::FindNode, None).await;
                debug!(closest = found.closest.len(), "looked for more contacts");
            }
        }
        drop(node);
        tokio::time::sleep(WATCH_EVERY).await;
    }
}

/// Prunes expired announcements and snapshots the state file.
pub(super) async fn maintenance_loop(inner: Weak<Inner>, save_every: Duration) {
    let mut tick = tokio::time::interval(EXPIRE_EVERY.min(save_every).max(MIN_PERIOD));
    let mut saved_at = Instant::now();
    loop {
        tick.tick().await;
        let Some(node) = inner.upgrade() else {
            return;
        };
        lock(&node.peers).expire(Instant::now());
        if node.state_file.is_some() && saved_at.elapsed() >= save_every {
            saved_at = Instant::now();
            let _ = crate::blocking::run(move || node.save_state(false)).await;
        }
    }
}

#[cfg(test)]
#[path = "maintain_tests.rs"]
mod tests;
