//! A list of hubs with failover: one connection at a time, to the first hub
//! that answers; a hub that fails is skipped for a while (5 s, doubling up
//! to 5 min) instead of being asked again at once, so a dead hub is not
//! hammered and a flaky one is not preferred.
//!
//! [`HubList`] is the pure part (which hub to try, back-off) and takes
//! `now` as an argument; [`Hubs`] owns the connection and makes the calls.
//! Calls are serialised on the one connection: a resolve is two calls, and
//! a hub answers them in milliseconds, so a pool would buy little.

use super::conn::{Conn, ConnError};
use serde_json::Value;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tracing::Instrument;

const FIRST_BACKOFF: Duration = Duration::from_secs(5);
/// A connection idle this long is pinged before use, as lbry-sdk pings
/// after 60 s; hubs drop sessions idle for 600 s, and a NAT may drop them
/// silently sooner.
const IDLE_PING: Duration = Duration::from_secs(60);
const PING_DEADLINE: Duration = Duration::from_secs(3);
const MAX_BACKOFF: Duration = Duration::from_secs(300);

#[derive(Debug, Clone)]
struct HubState {
    addr: String,
    failures: u32,
    retry_at: Option<Instant>,
    last_error: Option<String>,
}

/// Which hubs may be tried now, and how long failed ones wait.
#[derive(Debug, Clone)]
pub struct HubList {
    hubs: Vec<HubState>,
}

impl HubList {
    pub fn new(addrs: &[String]) -> Self {
        let hubs = addrs
            .iter()
            .map(|a| HubState {
                addr: a.clone(),
                failures: 0,
                retry_at: None,
                last_error: None,
            })
            .collect();
        HubList { hubs }
    }

    pub fn addr(&self, i: usize) -> &str {
        &self.hubs[i].addr
    }

    /// The hubs that may be tried at `now`, in the configured order.
    pub fn candidates(&self, now: Instant) -> Vec<usize> {
        (0..self.hubs.len())
            .filter(|&i| !matches!(self.hubs[i].retry_at, Some(t) if t > now))
            .collect()
    }

    /// Hub `i` failed at `now`: wait before trying it again.
    pub fn failed(&mut self, i: usize, now: Instant, why: String) {
        let h = &mut self.hubs[i];
        h.failures = h.failures.saturating_add(1);
        let wait = FIRST_BACKOFF
            .saturating_mul(1 << (h.failures - 1).min(16))
            .min(MAX_BACKOFF);
        h.retry_at = Some(now + wait);
        h.last_error = Some(why);
    }

    /// Hub `i` answered: forget its failures.
    pub fn succeeded(&mut self, i: usize) {
        let h = &mut self.hubs[i];
        h.failures = 0;
        h.retry_at = None;
    }

    /// Every hub's last error, with when it is tried again, for an error message.
    pub fn causes(&self, now: Instant) -> String {
        let parts: Vec<String> = self
            .hubs
            .iter()
            .map(|h| {
                let why = h.last_error.as_deref().unwrap_or("not tried");
                match h.retry_at.filter(|&t| t > now) {
                    Some(t) => format!(
                        "{}: {why} (retried in {} s)",
                        h.addr,
                        (t - now).as_secs() + 1
                    ),
                    None => format!("{}: {why}", h.addr),
                }
            })
            .collect();
        parts.join("; ")
    }
}

/// What the hubs did last, for `status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HubStatus {
    /// The hub the open connection goes to.
    pub in_use: Option<String>,
    /// The last failure of any hub, with its address.
    pub last_error: Option<String>,
    /// The last answer taken from the data dir because no hub answered.
    pub stale: Option<String>,
}

/// Why a call got no answer.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The hub answered with an error reply.
    #[error("hub {hub}: {source}")]
    Rpc {
        hub: String,
        #[source]
        source: ConnError,
    },
    #[error("no hub answered: {0}")]
    NoHub(String),
}

/// The configured hubs and the one open connection.
pub struct Hubs {
    list: Mutex<HubList>,
    conn: tokio::sync::Mutex<Option<(usize, Conn)>>,
    status: Mutex<HubStatus>,
    connect_timeout: Duration,
    call_timeout: Duration,
}

impl Hubs {
    pub fn new(addrs: &[String], connect_timeout: Duration, call_timeout: Duration) -> Self {
        Hubs {
            list: Mutex::new(HubList::new(addrs)),
            conn: tokio::sync::Mutex::new(None),
            status: Mutex::new(HubStatus::default()),
            connect_timeout,
            call_timeout,
        }
    }

    pub fn status(&self) -> HubStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub(crate) fn set_stale(&self, what: String) {
        if let Ok(mut s) = self.status.lock() {
            s.stale = Some(what);
        }
    }

    /// Records a hub that answered but could not be believed.
    pub(crate) fn note_error(&self, why: String) {
        if let Ok(mut s) = self.status.lock() {
            s.last_error = Some(why);
        }
    }

    /// Calls `method` on the hub in use, failing over to the next ones.
    pub async fn call(&self, method: &str, params: &Value) -> Result<Value, HubError> {
        let mut guard = self.conn.lock().await;
        self.drop_if_gone(&mut guard).await;
        if let Some((i, conn)) = guard.as_mut() {
            let i = *i;
            match conn.call(method, params, self.call_timeout).await {
                Ok(v) => return Ok(v),
                Err(e) if e.keeps_connection() => return Err(self.rpc_error(i, e)),
                Err(e) => {
                    // A connection the hub dropped while idle is no fault of
                    // the hub's; anything else counts against it.
                    let idle_drop = matches!(e, ConnError::Closed | ConnError::Io(_));
                    *guard = None;
                    self.hub_failed(i, e, !idle_drop);
                }
            }
        }
        let candidates = self.lock_list().candidates(Instant::now());
        for i in candidates {
            let addr = self.lock_list().addr(i).to_string();
            let span = tracing::debug_span!("hub", hub = %addr);
            let opened = Conn::open(&addr, self.connect_timeout, self.call_timeout)
                .instrument(span)
                .await;
            let mut conn = match opened {
                Ok(c) => c,
                Err(e) => {
                    self.hub_failed(i, e, true);
                    continue;
                }
            };
            match conn.call(method, params, self.call_timeout).await {
                Ok(v) => {
                    self.lock_list().succeeded(i);
                    self.set_in_use(Some(addr));
                    *guard = Some((i, conn));
                    return Ok(v);
                }
                Err(e) if e.keeps_connection() => {
                    self.lock_list().succeeded(i);
                    self.set_in_use(Some(addr));
                    *guard = Some((i, conn));
                    return Err(self.rpc_error(i, e));
                }
                Err(e) => self.hub_failed(i, e, true),
            }
        }
        self.set_in_use(None);
        Err(HubError::NoHub(self.lock_list().causes(Instant::now())))
    }

    /// Pings a connection idle for a while, and forgets it when the hub
    /// no longer answers on it.
    async fn drop_if_gone(&self, open: &mut Option<(usize, Conn)>) {
        if let Some((_, conn)) = open.as_mut() {
            let deadline = PING_DEADLINE.min(self.call_timeout);
            if conn.idle() > IDLE_PING
                && conn
                    .call("server.ping", &Value::Null, deadline)
                    .await
                    .is_err()
            {
                tracing::debug!(hub = conn.addr(), "idle connection gone; reconnecting");
                *open = None;
            }
        }
    }

    fn lock_list(&self) -> std::sync::MutexGuard<'_, HubList> {
        self.list.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn rpc_error(&self, i: usize, source: ConnError) -> HubError {
        HubError::Rpc {
            hub: self.lock_list().addr(i).to_string(),
            source,
        }
    }

    fn hub_failed(&self, i: usize, e: ConnError, back_off: bool) {
        let why = crate::error_chain(&e);
        let mut list = self.lock_list();
        let addr = list.addr(i).to_string();
        tracing::debug!(hub = %addr, error = %why, back_off, "hub failed");
        if back_off {
            list.failed(i, Instant::now(), why.clone());
        }
        drop(list);
        if let Ok(mut s) = self.status.lock() {
            s.last_error = Some(format!("{addr}: {why}"));
        }
        self.set_in_use(None);
    }

    fn set_in_use(&self, hub: Option<String>) {
        if let Ok(mut s) = self.status.lock() {
            s.in_use = hub;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_hub_waits_longer_each_time_and_is_forgiven_on_success() {
        let t0 = Instant::now();
        let mut l = HubList::new(&["a:1".into(), "b:2".into()]);
        assert_eq!(l.candidates(t0), vec![0, 1]);
        l.failed(0, t0, "refused".into());
        assert_eq!(l.candidates(t0), vec![1], "not asked again at once");
        assert_eq!(l.candidates(t0 + Duration::from_secs(5)), vec![0, 1]);
        l.failed(0, t0, "refused".into());
        assert_eq!(l.candidates(t0 + Duration::from_secs(9)), vec![1]);
        assert_eq!(l.candidates(t0 + Duration::from_secs(10)), vec![0, 1]);
        for _ in 0..40 {
            l.failed(0, t0, "refused".into());
        }
        assert_eq!(
            l.candidates(t0 + MAX_BACKOFF - Duration::from_secs(1)),
            vec![1]
        );
        assert_eq!(l.candidates(t0 + MAX_BACKOFF), vec![0, 1]);
        l.succeeded(0);
        assert_eq!(l.candidates(t0), vec![0, 1]);
        let causes = l.causes(t0);
        assert!(
            causes.contains("a:1: refused") && causes.contains("b:2: not tried"),
            "{causes}"
        );
    }
}
