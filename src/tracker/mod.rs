//! BEP-15 UDP trackers as LBRY uses them: announce the streams we hold and
//! ask who else holds one (docs/protocol.md §8). The info_hash is the first
//! 20 bytes of the stream's sd hash, the port our blob server's.
//!
//! One [`Tracker`] per configured tracker: it resolves its name when first
//! used, keeps the connection id BEP-15 hands out for [`CONNECTION_TTL`],
//! and records its last success and last error for `status`. Every exchange
//! has a deadline; within it a lost datagram is retried with BEP-15's
//! doubling timeouts, scaled down (BEP-15 starts at 15 s; a lookup must
//! answer within seconds) and capped to what is left of the deadline.
//! `announce` keeps the re-announce schedule (`announce::start`).

pub mod announce;
mod exchange;

pub use exchange::{exchange, TrackerError, Transport};

use crate::hash::BlobHash;
use crate::wire::tracker::{self as wire, Announce, Event, Response};
use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::UdpSocket;
use tokio::time::Instant;

/// LBRY's trackers (lbry-sdk's `tracker_servers`), used when no
/// `--tracker` and no `--no-trackers` is given.
pub const DEFAULT_TRACKERS: [&str; 5] = [
    "tracker.lbry.com:9252",
    "tracker.lbry.grin.io:9252",
    "tracker.lbry.pigg.es:9252",
    "tracker.lizard.technology:9252",
    "s1.lbry.network:9252",
];

/// How long a connection id may be used (BEP-15: one minute).
pub const CONNECTION_TTL: Duration = Duration::from_secs(60);
/// Longest a peer lookup waits for one tracker.
pub const LOOKUP_DEADLINE: Duration = Duration::from_secs(8);
/// Longest one announce waits for one tracker.
pub const ANNOUNCE_DEADLINE: Duration = Duration::from_secs(20);
/// How long a tracker that failed is left out of peer lookups, so a dead
/// one (the default list has some) costs one lookup a minute, not each.
pub const REST_AFTER_FAILURE: Duration = Duration::from_secs(60);

/// A tracker's health, for `status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TrackerStatus {
    /// `HOST:PORT` as configured.
    pub tracker: String,
    /// Seconds since the epoch of the last answer, if any.
    pub last_success: Option<u64>,
    /// The last failure: seconds since the epoch and why.
    pub last_error: Option<(u64, String)>,
}

/// What an announce answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Seconds until the tracker wants the next announce.
    pub interval: u32,
    pub peers: Vec<SocketAddr>,
}

/// One tracker and what we know of it.
pub struct Tracker {
    spec: String,
    peer_id: [u8; 20],
    addr: Mutex<Option<SocketAddr>>,
    conn: Mutex<Option<(u64, Instant)>>,
    status: Mutex<TrackerStatus>,
    resting_until: Mutex<Option<Instant>>,
}

/// The info_hash LBRY uses for a stream: the first 20 bytes of its sd hash.
pub fn info_hash(key: BlobHash) -> [u8; 20] {
    let mut out = [0u8; 20];
    out.copy_from_slice(&key.as_bytes()[..20]);
    out
}

fn epoch_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Tracker {
    /// A tracker at `spec` (`HOST:PORT`, resolved when first used).
    pub fn new(spec: String, peer_id: [u8; 20]) -> Self {
        let status = TrackerStatus {
            tracker: spec.clone(),
            ..TrackerStatus::default()
        };
        Self {
            spec,
            peer_id,
            addr: Mutex::new(None),
            conn: Mutex::new(None),
            status: Mutex::new(status),
            resting_until: Mutex::new(None),
        }
    }

    pub fn spec(&self) -> &str {
        &self.spec
    }

    /// Whether the tracker failed less than [`REST_AFTER_FAILURE`] ago.
    pub fn resting(&self, now: Instant) -> bool {
        self.resting_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some_and(|until| now < until)
    }

    pub fn status(&self) -> TrackerStatus {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Announces `key` (we serve it on `port`; `seeding` when we hold it)
    /// and returns who else did; records the outcome for `status`.
    pub async fn announce(
        &self,
        key: BlobHash,
        port: u16,
        seeding: bool,
        within: Duration,
    ) -> Result<Answer, TrackerError> {
        self.announce_hash(info_hash(key), port, seeding, within)
            .await
    }

    /// Announces a BitTorrent infohash as [`Tracker::announce`] does a
    /// stream (a torrent's trackers speak the same BEP-15).
    pub async fn announce_hash(
        &self,
        info_hash: [u8; 20],
        port: u16,
        seeding: bool,
        within: Duration,
    ) -> Result<Answer, TrackerError> {
        let deadline = Instant::now() + within;
        let result = self.try_announce(info_hash, port, seeding, deadline).await;
        let mut status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        match &result {
            Ok(_) => status.last_success = Some(epoch_secs()),
            Err(e) => {
                *self
                    .resting_until
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) =
                    Some(Instant::now() + REST_AFTER_FAILURE);
                status.last_error = Some((epoch_secs(), e.to_string()));
                // A refused announce may mean our connection id expired early.
                *self.conn.lock().unwrap_or_else(PoisonError::into_inner) = None;
            }
        }
        result
    }

    async fn try_announce(
        &self,
        info_hash: [u8; 20],
        port: u16,
        seeding: bool,
        deadline: Instant,
    ) -> Result<Answer, TrackerError> {
        let socket = self.socket(deadline).await?;
        let connection_id = self.connection_id(&socket, deadline).await?;
        let transaction_id = rand::random();
        let request = wire::announce_request(&Announce {
            connection_id,
            transaction_id,
            info_hash,
            peer_id: self.peer_id,
            left: u64::from(!seeding),
            event: if seeding {
                Event::Completed
            } else {
                Event::None
            },
            key: u32::from_be_bytes([self.peer_id[0], self.peer_id[1], 0, 0]),
            num_want: -1,
            port,
        });
        match exchange(&socket, &request, transaction_id, deadline).await? {
            Response::Announce {
                interval, peers, ..
            } => Ok(Answer { interval, peers }),
            _ => Err(TrackerError::Unexpected),
        }
    }

    /// The cached connection id, or a new one (BEP-15's connect).
    async fn connection_id(
        &self,
        socket: &UdpSocket,
        deadline: Instant,
    ) -> Result<u64, TrackerError> {
        let now = Instant::now();
        if let Some((id, at)) = *self.conn.lock().unwrap_or_else(PoisonError::into_inner) {
            if now.duration_since(at) < CONNECTION_TTL {
                return Ok(id);
            }
        }
        let transaction_id = rand::random();
        let request = wire::connect_request(transaction_id);
        match exchange(socket, &request, transaction_id, deadline).await? {
            Response::Connect { connection_id, .. } => {
                *self.conn.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some((connection_id, now));
                Ok(connection_id)
            }
            _ => Err(TrackerError::Unexpected),
        }
    }

    /// A UDP socket connected to the tracker (resolved once, within `deadline`).
    async fn socket(&self, deadline: Instant) -> Result<UdpSocket, TrackerError> {
        let known = *self.addr.lock().unwrap_or_else(PoisonError::into_inner);
        let addr = match known {
            Some(a) => a,
            None => {
                let found = tokio::time::timeout_at(deadline, tokio::net::lookup_host(&self.spec))
                    .await
                    .map_err(|_| TrackerError::Timeout)?
                    .map_err(|e| TrackerError::Resolve(e.to_string()))?;
                let mut found: Vec<SocketAddr> = found.collect();
                found.sort_by_key(|a| !a.is_ipv4());
                let a = *found
                    .first()
                    .ok_or_else(|| TrackerError::Resolve("no address".into()))?;
                *self.addr.lock().unwrap_or_else(PoisonError::into_inner) = Some(a);
                a
            }
        };
        let bind: SocketAddr = if addr.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            ([0u16; 8], 0).into()
        };
        let socket = UdpSocket::bind(bind).await.map_err(TrackerError::io)?;
        socket.connect(addr).await.map_err(TrackerError::io)?;
        Ok(socket)
    }
}

/// A fresh random peer id, the same for every tracker of this node.
pub fn peer_id() -> [u8; 20] {
    let mut id = *b"-LM0001-000000000000";
    for b in &mut id[8..] {
        *b = rand::random();
    }
    id
}
