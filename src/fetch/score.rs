//! Which peer to ask next: per-peer throughput, failures, bans and load.
//!
//! PURE: no clock, no I/O. Every method that depends on time takes `now`, so
//! bans, back-offs and expiries are tested by passing instants explicitly.
//!
//! The policy:
//! - a peer's worth is its observed throughput (an EWMA of bytes/s over
//!   transfers big enough to measure); an unknown peer is assumed as good as
//!   the best known one, so new peers get tried;
//! - the worth is shared among the requests the peer already serves, which
//!   spreads the blobs of a stream over equally good peers;
//! - corrupt data, or a length announced against the descriptor and not
//!   backed by the blob, bans the peer for a while (it is not asked at all);
//!   a blob whose hash verifies at another length than the descriptor's
//!   blames the descriptor, never the peer; a timeout, refusal or broken transfer halves its worth per
//!   consecutive failure and backs it off exponentially (it is asked only after
//!   every healthy peer); "not available" is remembered for that blob only.

use super::error::Skipped;
use super::PeerError;
use crate::fetch::PeerAddr;
use crate::hash::BlobHash;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Transfers smaller than this are dominated by latency and do not update throughput.
const MIN_MEASURED_BYTES: u64 = 256 * 1024;
/// The `missing` map is swept when it grows past this (and then past twice its live size).
const MIN_SWEEP_AT: usize = 1024;

/// Tunables of the scoring policy.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreConfig {
    /// How long a peer that sent corrupt data or a wrong length is not asked.
    pub ban_for: Duration,
    /// How long "peer lacks blob" is remembered.
    pub not_available_for: Duration,
    /// Back-off after the first consecutive failure; doubles per further failure.
    pub backoff_base: Duration,
    /// Longest back-off.
    pub backoff_max: Duration,
    /// Weight of the newest throughput sample in the EWMA (0..=1).
    pub ewma_alpha: f64,
    /// Throughput assumed for unknown peers when no peer is known yet (bytes/s).
    pub optimistic_bps: f64,
}

impl Default for ScoreConfig {
    fn default() -> Self {
        Self {
            ban_for: Duration::from_secs(600),
            not_available_for: Duration::from_secs(60),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            ewma_alpha: 0.3,
            optimistic_bps: 4.0 * 1024.0 * 1024.0,
        }
    }
}

#[derive(Debug, Clone, Default)]
struct PeerState {
    ewma_bps: Option<f64>,
    successes: u64,
    consecutive_failures: u32,
    backoff_until: Option<Instant>,
    banned: Option<(Instant, PeerError)>,
    in_flight: usize,
}

/// Scores of every peer seen, plus per-(peer, blob) "not available" memory.
#[derive(Debug, Clone)]
pub struct Scoreboard {
    cfg: ScoreConfig,
    peers: HashMap<PeerAddr, PeerState>,
    missing: HashMap<(PeerAddr, BlobHash), Instant>,
    sweep_at: usize,
}

impl Scoreboard {
    pub fn new(cfg: ScoreConfig) -> Self {
        Self {
            cfg,
            peers: HashMap::new(),
            missing: HashMap::new(),
            sweep_at: MIN_SWEEP_AT,
        }
    }

    /// A transfer of `bytes` from `peer` completed and verified in `elapsed`.
    pub fn record_success(&mut self, peer: PeerAddr, bytes: u64, elapsed: Duration) {
        let alpha = self.cfg.ewma_alpha;
        let p = self.peers.entry(peer).or_default();
        p.successes += 1;
        p.consecutive_failures = 0;
        p.backoff_until = None;
        if bytes >= MIN_MEASURED_BYTES {
            let sample = bytes as f64 / elapsed.as_secs_f64().max(0.001);
            p.ewma_bps = Some(match p.ewma_bps {
                Some(old) => alpha * sample + (1.0 - alpha) * old,
                None => sample,
            });
        }
    }

    /// An attempt at `peer` for `hash` failed with `err` at `now`.
    pub fn record_failure(
        &mut self,
        peer: PeerAddr,
        hash: BlobHash,
        err: &PeerError,
        now: Instant,
    ) {
        match err {
            PeerError::HashMismatch { .. } | PeerError::WrongLength { .. } => {
                let p = self.peers.entry(peer).or_default();
                p.banned = Some((now + self.cfg.ban_for, err.clone()));
            }
            // The peer sent the genuine blob; the descriptor is to blame.
            PeerError::DescriptorLength { .. } => {}
            PeerError::NotAvailable => {
                self.missing
                    .insert((peer, hash), now + self.cfg.not_available_for);
                self.sweep(now);
            }
            PeerError::Connect(_)
            | PeerError::Timeout(_)
            | PeerError::ShortRead { .. }
            | PeerError::Protocol(_) => {
                let (base, max) = (self.cfg.backoff_base, self.cfg.backoff_max);
                let p = self.peers.entry(peer).or_default();
                p.consecutive_failures = p.consecutive_failures.saturating_add(1);
                let doublings = (p.consecutive_failures - 1).min(20);
                p.backoff_until = Some(now + base.saturating_mul(1 << doublings).min(max));
            }
        }
    }

    /// A request to `peer` starts; pair with [`Scoreboard::end`].
    pub fn begin(&mut self, peer: PeerAddr) {
        self.peers.entry(peer).or_default().in_flight += 1;
    }

    /// A request to `peer` ended (whatever the outcome, cancelled included).
    pub fn end(&mut self, peer: PeerAddr) {
        if let Some(p) = self.peers.get_mut(&peer) {
            p.in_flight = p.in_flight.saturating_sub(1);
        }
    }

    pub fn in_flight(&self, peer: &PeerAddr) -> usize {
        self.peers.get(peer).map_or(0, |p| p.in_flight)
    }

    /// Observed throughput of `peer` in bytes/s, if measured.
    pub fn throughput(&self, peer: &PeerAddr) -> Option<f64> {
        self.peers.get(peer).and_then(|p| p.ewma_bps)
    }

    /// Why `peer` must not be asked for `hash` now, if it must not.
    pub fn excluded(&self, peer: &PeerAddr, hash: &BlobHash, now: Instant) -> Option<Skipped> {
        if let Some((until, reason)) = self.peers.get(peer).and_then(|p| p.banned.as_ref()) {
            if *until > now {
                let left = *until - now;
                let reason = reason.clone();
                return Some(Skipped::Banned { reason, left });
            }
        }
        match self.missing.get(&(*peer, *hash)) {
            Some(until) if *until > now => Some(Skipped::NotAvailable { left: *until - now }),
            _ => None,
        }
    }

    /// The candidates that may be asked for `hash`, best first.
    pub fn rank(&self, candidates: &[PeerAddr], hash: &BlobHash, now: Instant) -> Vec<PeerAddr> {
        let optimistic = self
            .peers
            .values()
            .filter_map(|p| p.ewma_bps)
            .fold(self.cfg.optimistic_bps, f64::max);
        let mut keyed: Vec<(PeerAddr, Key)> = candidates
            .iter()
            .filter(|p| self.excluded(p, hash, now).is_none())
            .map(|p| (*p, self.key(p, optimistic, now)))
            .collect();
        keyed.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
        keyed.dedup_by_key(|(p, _)| *p);
        keyed.into_iter().map(|(p, _)| p).collect()
    }

    /// The best candidate for `hash` with fewer than `limit` requests in flight.
    pub fn pick(
        &self,
        candidates: &[PeerAddr],
        hash: &BlobHash,
        now: Instant,
        limit: usize,
    ) -> Option<PeerAddr> {
        self.rank(candidates, hash, now)
            .into_iter()
            .find(|p| self.in_flight(p) < limit)
    }

    fn key(&self, peer: &PeerAddr, optimistic: f64, now: Instant) -> Key {
        let p = self.peers.get(peer).cloned().unwrap_or_default();
        let backed_off = p.backoff_until.is_some_and(|t| t > now);
        let penalty = 0.5f64.powi(p.consecutive_failures.min(30) as i32);
        let worth = p.ewma_bps.unwrap_or(optimistic) * penalty / (p.in_flight as f64 + 1.0);
        Key {
            backed_off,
            worth,
            in_flight: p.in_flight,
            successes: p.successes,
        }
    }

    /// Forgets expired "not available" entries, so the map stays bounded.
    fn sweep(&mut self, now: Instant) {
        if self.missing.len() >= self.sweep_at {
            self.missing.retain(|_, until| *until > now);
            self.sweep_at = (self.missing.len() * 2).max(MIN_SWEEP_AT);
        }
    }

    #[cfg(test)]
    fn missing_len(&self) -> usize {
        self.missing.len()
    }
}

/// Sort key, smallest first: healthy before backed off, then higher worth,
/// then fewer requests in flight, then fewer successes (tries peers in turn).
#[derive(Debug, Clone, Copy)]
struct Key {
    backed_off: bool,
    worth: f64,
    in_flight: usize,
    successes: u64,
}

impl Key {
    fn cmp(&self, other: &Key) -> Ordering {
        self.backed_off
            .cmp(&other.backed_off)
            .then(other.worth.total_cmp(&self.worth))
            .then(self.in_flight.cmp(&other.in_flight))
            .then(self.successes.cmp(&other.successes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(i: u8) -> PeerAddr {
        PeerAddr::Tcp(std::net::SocketAddr::from(([10, 0, 0, i], 4444)))
    }
    fn h(i: u8) -> BlobHash {
        BlobHash::digest(&[i])
    }
    const MB: u64 = 1024 * 1024;
    const S: Duration = Duration::from_secs(1);

    #[test]
    fn faster_peer_first_and_unknown_peer_gets_a_fair_chance() {
        let now = Instant::now();
        let mut s = Scoreboard::new(ScoreConfig::default());
        s.record_success(addr(1), 2 * MB, 2 * S); // 1 MB/s
        s.record_success(addr(2), 2 * MB, S / 2); // 4 MB/s
        assert_eq!(s.rank(&[addr(1), addr(2)], &h(0), now), [addr(2), addr(1)]);
        // Unknown peer 3 ties with the best known peer and, with fewer successes, goes first.
        assert_eq!(
            s.rank(&[addr(1), addr(2), addr(3)], &h(0), now),
            [addr(3), addr(2), addr(1)]
        );
        assert!((s.throughput(&addr(2)).unwrap() - 4.0 * MB as f64).abs() < 1.0);
    }

    #[test]
    fn small_transfers_do_not_set_throughput_but_count_as_success() {
        let mut s = Scoreboard::new(ScoreConfig::default());
        s.record_success(addr(1), 100, Duration::from_millis(50));
        assert_eq!(s.throughput(&addr(1)), None);
        // Peer 1 has one success, so unknown peer 2 is tried first next time.
        assert_eq!(
            s.rank(&[addr(1), addr(2)], &h(0), Instant::now()),
            [addr(2), addr(1)]
        );
    }

    #[test]
    fn load_spreads_over_equal_peers_and_limit_is_respected() {
        let now = Instant::now();
        let mut s = Scoreboard::new(ScoreConfig::default());
        let peers = [addr(1), addr(2), addr(3)];
        let mut got = Vec::new();
        for _ in 0..6 {
            let p = s.pick(&peers, &h(0), now, 2).unwrap();
            s.begin(p);
            got.push(p);
        }
        for p in peers {
            assert_eq!(got.iter().filter(|x| **x == p).count(), 2, "{got:?}");
        }
        assert_eq!(s.pick(&peers, &h(0), now, 2), None);
        s.end(addr(2));
        assert_eq!(s.pick(&peers, &h(0), now, 2), Some(addr(2)));
    }

    #[test]
    fn corrupt_data_or_wrong_length_bans_for_ten_minutes() {
        let now = Instant::now();
        let mut s = Scoreboard::new(ScoreConfig::default());
        let bad = PeerError::HashMismatch { actual: h(9) };
        s.record_failure(addr(1), h(0), &bad, now);
        s.record_failure(
            addr(2),
            h(0),
            &PeerError::WrongLength {
                expected: 1,
                got: 2,
            },
            now,
        );
        let peers = [addr(1), addr(2), addr(3)];
        // Banned for every blob, not only the one it corrupted.
        assert_eq!(s.rank(&peers, &h(5), now + 9 * 60 * S), [addr(3)]);
        assert!(matches!(
            s.excluded(&addr(1), &h(5), now + S),
            Some(Skipped::Banned { reason, .. }) if reason == bad
        ));
        assert_eq!(s.rank(&peers, &h(5), now + 10 * 60 * S).len(), 3);
    }

    #[test]
    fn timeouts_back_off_exponentially_and_success_forgives() {
        let now = Instant::now();
        let mut s = Scoreboard::new(ScoreConfig::default());
        let peers = [addr(1), addr(2)];
        let t = PeerError::Timeout("waiting for the response header");
        s.record_failure(addr(1), h(0), &t, now);
        // Backed off: still a candidate, but after the healthy peer.
        assert_eq!(s.rank(&peers, &h(0), now), [addr(2), addr(1)]);
        s.record_failure(addr(1), h(0), &PeerError::Connect("refused".into()), now);
        assert_eq!(s.rank(&peers, &h(0), now + S + S / 2), [addr(2), addr(1)]);
        // A success clears failures and back-off; then speed decides.
        s.record_success(addr(2), 2 * MB, 2 * S);
        s.record_success(addr(1), 2 * MB, S / 2);
        assert_eq!(s.rank(&peers, &h(0), now + 3 * S), [addr(1), addr(2)]);
    }

    #[test]
    fn backoff_is_capped() {
        let now = Instant::now();
        let mut s = Scoreboard::new(ScoreConfig::default());
        for _ in 0..64 {
            s.record_failure(addr(1), h(0), &PeerError::Timeout("x"), now);
        }
        let peers = [addr(1), addr(2)];
        assert_eq!(s.rank(&peers, &h(0), now + 299 * S)[0], addr(2));
        s.record_success(addr(2), 100, S);
        s.record_success(addr(2), 100, S);
        // Once the 300 s cap passes, peer 1 is healthy again; its failures still weigh.
        assert_eq!(s.rank(&peers, &h(0), now + 301 * S), [addr(2), addr(1)]);
        s.begin(addr(2));
        s.begin(addr(2));
        assert_eq!(s.rank(&peers, &h(0), now + 301 * S), [addr(2), addr(1)]);
    }

    #[test]
    fn not_available_is_per_blob_and_expires() {
        let now = Instant::now();
        let mut s = Scoreboard::new(ScoreConfig::default());
        s.record_failure(addr(1), h(0), &PeerError::NotAvailable, now);
        assert_eq!(s.rank(&[addr(1)], &h(0), now + 59 * S), []);
        assert!(matches!(
            s.excluded(&addr(1), &h(0), now),
            Some(Skipped::NotAvailable { .. })
        ));
        // Other blobs are still asked, and the peer is not penalised.
        assert_eq!(s.rank(&[addr(2), addr(1)], &h(1), now), [addr(1), addr(2)]);
        assert_eq!(s.rank(&[addr(1)], &h(0), now + 60 * S), [addr(1)]);
    }

    #[test]
    fn not_available_memory_stays_bounded() {
        let now = Instant::now();
        let mut s = Scoreboard::new(ScoreConfig::default());
        for i in 0..5000u32 {
            let t = now + Duration::from_secs(u64::from(i));
            s.record_failure(
                addr(1),
                BlobHash::digest(&i.to_le_bytes()),
                &PeerError::NotAvailable,
                t,
            );
        }
        // Entries live 60 s and one arrives per second: only the recent ones may stay.
        assert!(s.missing_len() < 2 * MIN_SWEEP_AT, "{}", s.missing_len());
    }

    #[test]
    fn duplicate_candidates_are_ranked_once() {
        let s = Scoreboard::new(ScoreConfig::default());
        let r = s.rank(&[addr(2), addr(1), addr(2)], &h(0), Instant::now());
        assert_eq!(r, [addr(1), addr(2)]);
    }
}
