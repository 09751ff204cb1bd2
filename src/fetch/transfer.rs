//! One blob's transfer: find candidates, ask the best free peer, fail over on
//! any error, hedge when urgent and slow, give up at the deadline, hand the
//! winner to the flight (which stores it). Runs in the flight's own task (see `flight`).
//!
//! Every candidate ends up accounted for: asked (with its error) or skipped
//! (with the reason), so a failure says exactly who was tried and why.
//!
//! A peer that cut a transfer short (closed or truncated mid-blob) is asked
//! again, up to [`MAX_TRIES`] times per blob: a dropped connection says little
//! about the next one, and it may be the only peer there is. A blob whose
//! hash verifies at another length than the descriptor's ends the transfer at
//! once: every peer would send the same bytes, and the descriptor is to blame.

use super::error::Skipped;
use super::fetcher::{self, Got, Inner};
use super::hedge::{Attempt, Race};
use super::{FetchError, PeerError};
use crate::fetch::PeerAddr;
use crate::hash::BlobHash;
use more::{Arrived, More};
use std::sync::Arc;
use tokio::sync::watch;
use tokio::time::{sleep_until, Instant};

/// Attempts at one peer for one blob when each ends cut short.
pub(crate) const MAX_TRIES: usize = 3;

/// How a request still running at the deadline is reported.
pub(crate) const AT_DEADLINE: PeerError = PeerError::Timeout("at the overall per-blob deadline");

/// Fetches `hash` from peers (the caller stores it). `urgent` may turn on mid-way.
pub(crate) async fn run(
    inner: &Arc<Inner>,
    hash: BlobHash,
    len: Option<u64>,
    urgent: watch::Receiver<bool>,
) -> Result<Got, FetchError> {
    let result = transfer(inner, hash, len, urgent).await;
    if let Err(e) = &result {
        tracing::debug!(error = %e, "fetch failed");
    }
    result
}

async fn transfer(
    inner: &Arc<Inner>,
    hash: BlobHash,
    len: Option<u64>,
    mut urgent: watch::Receiver<bool>,
) -> Result<Got, FetchError> {
    let start = Instant::now();
    let deadline = start + inner.cfg.deadline;
    // The blob may have landed between the caller's cache check and this flight.
    if let Some(blob) = fetcher::cached(inner, hash).await? {
        return Ok(Got::Stored(blob));
    }
    let mut more = More::start(inner, hash, start);
    let mut tally = Tally::new(hash, Vec::new());
    let max_parallel = inner.cfg.hedge.max_parallel.max(1);
    let mut race = Race::default();
    let mut granted = 1usize;
    // Requests kept running once fallback peers joined a slow race.
    let mut racing = 0usize;
    let mut urgent_open = true;
    loop {
        // Registered before looking at slots, so a slot freed meanwhile is not missed.
        let freed = inner.slot_freed.notified();
        tokio::pin!(freed);
        freed.as_mut().enable();

        let is_urgent = *urgent.borrow_and_update();
        let want = wanted(&race, is_urgent, granted, max_parallel).max(racing.min(max_parallel));
        let blocked = launch(inner, &mut race, &mut tally, want, len);
        if race.is_empty() && !blocked && !more.pending() && !more.start_fallback() {
            return Err(tally.failed_or_none(inner, more.why_none));
        }
        let hedge_at = if is_urgent && race.len() >= granted && race.len() < max_parallel {
            race.hedge_at(inner, len)
        } else {
            None
        };
        let fallback_at = more.fallback_at();

        tokio::select! {
            attempt = race.next(), if !race.is_empty() => {
                if let Some(end) = settle(inner, &mut tally, attempt) {
                    // Cancel the losers before the (blocking) store write.
                    drop(race);
                    return end;
                }
            }
            arrived = more.next(), if more.pending() => match arrived {
                Arrived::Search(found) => tally.extend(found.peers),
                Arrived::Fallback(peers) => {
                    if !race.is_empty() {
                        racing = race.len() + 1;
                    }
                    tally.extend(peers);
                }
            },
            () = sleep_until(fallback_at.unwrap_or(deadline)), if fallback_at.is_some() => {
                more.start_fallback();
            }
            () = sleep_until(hedge_at.unwrap_or(deadline)), if hedge_at.is_some() => {
                tracing::debug!(running = ?race.peers(), "request is slow; hedging");
                granted = race.len() + 1;
            }
            () = &mut freed, if blocked => {}
            changed = urgent.changed(), if urgent_open && !is_urgent => {
                urgent_open = changed.is_ok();
            }
            () = sleep_until(deadline) => return Err(at_deadline(inner, tally, race)),
        }
    }
}

/// How many requests should run: urgent blobs keep `granted` running (one
/// more per hedge); otherwise a new request starts only when none is running.
fn wanted(race: &Race, is_urgent: bool, granted: usize, max_parallel: usize) -> usize {
    match (race.is_empty(), is_urgent) {
        (true, _) => 1,
        (false, true) => granted.min(max_parallel),
        (false, false) => race.len(),
    }
}

/// Starts requests at the best free peers until `want` run. Returns whether
/// it stopped short only for lack of a free slot (someone may still be asked
/// once a slot frees up).
fn launch(
    inner: &Arc<Inner>,
    race: &mut Race,
    tally: &mut Tally,
    want: usize,
    len: Option<u64>,
) -> bool {
    let limit = inner.cfg.per_peer_in_flight.max(1);
    let hash = tally.hash;
    while race.len() < want {
        let remaining = tally.remaining();
        let now = std_now();
        let score = inner.score();
        match score.pick(&remaining, &hash, now, limit) {
            Some(peer) => {
                drop(score);
                tally.asked.push(peer);
                race.launch(inner, peer, hash, len);
            }
            None => {
                return remaining
                    .iter()
                    .any(|p| score.excluded(p, &hash, now).is_none());
            }
        }
    }
    false
}

/// Scores one finished request. The transfer ends (`Some`) with a blob, or
/// when the descriptor's length is to blame; any other error fails over.
fn settle(inner: &Inner, tally: &mut Tally, attempt: Attempt) -> Option<Result<Got, FetchError>> {
    let peer = attempt.peer;
    match attempt.result {
        Ok(blob) => {
            let elapsed = attempt.elapsed;
            inner
                .score()
                .record_success(peer, blob.len() as u64, elapsed);
            tracing::debug!(%peer, ms = elapsed.as_millis() as u64, "fetched");
            Some(Ok(Got::Fetched(blob)))
        }
        Err(PeerError::DescriptorLength { expected, actual }) => {
            tracing::debug!(%peer, expected, actual, "the descriptor gives a wrong length");
            let hash = tally.hash;
            Some(Err(FetchError::DescriptorLength {
                hash,
                peer,
                expected,
                actual,
            }))
        }
        Err(e) => {
            tracing::debug!(%peer, error = %e, "attempt failed");
            inner
                .score()
                .record_failure(peer, tally.hash, &e, std_now());
            tally.failed_attempt(peer, e);
            None
        }
    }
}

/// The deadline passed: every request still running counts as failed.
fn at_deadline(inner: &Inner, mut tally: Tally, race: Race) -> FetchError {
    let now = std_now();
    for peer in race.peers() {
        inner
            .score()
            .record_failure(peer, tally.hash, &AT_DEADLINE, now);
        tally.attempts.push((peer, AT_DEADLINE));
    }
    drop(race);
    let why = "the search for peers did not end before the deadline";
    tally.failed_or_none(inner, Some(why.to_owned()))
}

/// The scoreboard's clock: tokio's, so that transfers and scores agree.
fn std_now() -> std::time::Instant {
    Instant::now().into_std()
}

/// Who could be asked, who was, and how each attempt ended.
struct Tally {
    hash: BlobHash,
    candidates: Vec<PeerAddr>,
    asked: Vec<PeerAddr>,
    attempts: Vec<(PeerAddr, PeerError)>,
}

impl Tally {
    fn new(hash: BlobHash, found: Vec<PeerAddr>) -> Self {
        let mut tally = Self {
            hash,
            candidates: Vec::with_capacity(found.len()),
            asked: Vec::new(),
            attempts: Vec::new(),
        };
        tally.extend(found);
        tally
    }

    /// Adds candidates that arrived (each once).
    fn extend(&mut self, found: Vec<PeerAddr>) {
        for p in found {
            if !self.candidates.contains(&p) {
                self.candidates.push(p);
            }
        }
    }

    /// The final error; [`FetchError::NoPeers`] when nobody was a candidate.
    fn failed_or_none(self, inner: &Inner, why: Option<String>) -> FetchError {
        if self.candidates.is_empty() {
            return FetchError::NoPeers {
                hash: self.hash,
                why,
            };
        }
        self.failed(inner)
    }

    /// Records a failed attempt; a peer that cut the transfer short may be asked again.
    fn failed_attempt(&mut self, peer: PeerAddr, e: PeerError) {
        let cut_short = matches!(e, PeerError::ShortRead { .. });
        self.attempts.push((peer, e));
        let tries = self.attempts.iter().filter(|(p, _)| *p == peer).count();
        if cut_short && tries < MAX_TRIES {
            tracing::debug!(%peer, tries, "the transfer was cut short; asking again");
            self.asked.retain(|p| *p != peer);
        }
    }

    fn remaining(&self) -> Vec<PeerAddr> {
        let asked = &self.asked;
        self.candidates
            .iter()
            .filter(|p| !asked.contains(p))
            .copied()
            .collect()
    }

    /// The final error: every attempt, and why each other candidate was not asked.
    fn failed(self, inner: &Inner) -> FetchError {
        let now = std_now();
        let score = inner.score();
        let limit = inner.cfg.per_peer_in_flight.max(1);
        let skipped = self
            .remaining()
            .into_iter()
            .map(|p| {
                let why = score.excluded(&p, &self.hash, now).unwrap_or({
                    if score.in_flight(&p) >= limit {
                        Skipped::Busy
                    } else {
                        Skipped::NotReached
                    }
                });
                (p, why)
            })
            .collect();
        FetchError::AllPeersFailed {
            hash: self.hash,
            attempts: self.attempts,
            skipped,
        }
    }
}

mod more;

#[cfg(test)]
mod tests;
