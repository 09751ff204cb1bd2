//! Read-ahead policy for one open file: which blobs to fetch before the
//! reader asks for them. Pure (takes `now`), so its behaviour is a unit test.
//!
//! A reader is sequential when each read starts where the previous one
//! ended, give or take the reordering of the kernel's parallel reads.
//! Sequential readers get a window of blobs ahead of the blob being read,
//! sized so the window holds `lead` seconds of reading at the rate measured
//! so far, between `min_window` and `max_window` blobs. A read elsewhere
//! (a seek) ends the run: random readers get no read-ahead, so a `pread` at
//! 200 scattered offsets fetches the blobs it touches and nothing more.
//! Each blob is wished for once per run; the fetcher's single flight would
//! merge repeats anyway, but they would cost a task each.

use std::ops::Range;
use std::time::{Duration, Instant};

/// Tunables of the policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReadAheadConfig {
    /// Smallest window once a reader is sequential, in blobs.
    pub min_window: usize,
    /// Largest window, in blobs (bounds memory and the cache share of one reader).
    pub max_window: usize,
    /// How far ahead, in seconds of reading at the measured rate, to fetch.
    pub lead: Duration,
    /// How far a read may start from the previous read's end and still count
    /// as sequential (the kernel issues reads in parallel and they arrive
    /// slightly out of order).
    pub slack: u64,
    /// Sequential reads needed before read-ahead starts (a read at offset 0
    /// counts as sequential at once: a file read from the start is streamed).
    pub streak: u32,
    /// Blobs of the window fetched at once, nearest first (see `queue`).
    pub parallel: usize,
}

impl Default for ReadAheadConfig {
    fn default() -> Self {
        Self {
            min_window: 2,
            max_window: 8,
            lead: Duration::from_secs(4),
            slack: 4 << 20,
            streak: 2,
            parallel: 4,
        }
    }
}

/// The state of one reader.
#[derive(Debug, Clone)]
pub struct ReadAhead {
    cfg: ReadAheadConfig,
    /// End of the furthest read of the current run.
    next: u64,
    /// Sequential reads in the current run.
    run: u32,
    /// When the current run started, and the bytes read in it since.
    run_start: Option<Instant>,
    run_bytes: u64,
    /// Blobs below this index were already wished for in this run.
    wished_until: usize,
    /// Runs so far: a seek starts a new one.
    runs: u64,
}

impl ReadAhead {
    pub fn new(cfg: ReadAheadConfig) -> Self {
        Self {
            cfg,
            next: 0,
            run: 0,
            run_start: None,
            run_bytes: 0,
            wished_until: 0,
            runs: 0,
        }
    }

    /// How many runs have started: it changes when a read is a seek, and
    /// what was wished for before is then no longer ahead of the reader.
    pub fn runs(&self) -> u64 {
        self.runs
    }

    /// Records a read of `len` bytes at `offset`, which falls in blob `blob`
    /// of `blob_count`; returns the blobs to fetch ahead (possibly none).
    /// `blob_len` is the plaintext size of a full blob.
    pub fn on_read(
        &mut self,
        offset: u64,
        len: u64,
        blob: usize,
        blob_count: usize,
        blob_len: u64,
        now: Instant,
    ) -> Range<usize> {
        let end = offset.saturating_add(len);
        let sequential = (offset == 0 && self.run == 0)
            || (self.run > 0
                && offset <= self.next.saturating_add(self.cfg.slack)
                && end.saturating_add(self.cfg.slack) >= self.next);
        if !sequential {
            // A seek: start a new run from here.
            self.runs += 1;
            self.run = 1;
            self.run_start = Some(now);
            self.run_bytes = len;
            self.next = end;
            self.wished_until = 0;
            return 0..0;
        }
        self.run = self.run.saturating_add(1);
        self.run_bytes = self.run_bytes.saturating_add(len);
        self.next = self.next.max(end);
        let start = *self.run_start.get_or_insert(now);
        if self.run < self.cfg.streak && offset != 0 {
            return 0..0;
        }
        let window = self.window(now.saturating_duration_since(start), blob_len);
        let from = self.wished_until.max(blob + 1);
        let to = (blob + 1 + window).min(blob_count);
        if from >= to {
            return 0..0;
        }
        self.wished_until = to;
        from..to
    }

    /// The window in blobs for the rate measured over `elapsed`.
    fn window(&self, elapsed: Duration, blob_len: u64) -> usize {
        let (min, max) = (
            self.cfg.min_window,
            self.cfg.max_window.max(self.cfg.min_window),
        );
        let secs = elapsed.as_secs_f64();
        if secs < 0.05 || blob_len == 0 {
            // Too early to measure: assume a fast reader, the costly mistake
            // is a stalled one.
            return max;
        }
        let rate = self.run_bytes as f64 / secs;
        let want = (rate * self.cfg.lead.as_secs_f64() / blob_len as f64).ceil();
        (want as usize).clamp(min, max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;
    const BLOB: u64 = 2 * MIB;

    fn cfg() -> ReadAheadConfig {
        ReadAheadConfig {
            min_window: 2,
            max_window: 8,
            lead: Duration::from_secs(4),
            slack: MIB,
            streak: 2,
            parallel: 4,
        }
    }

    /// Reads `len` bytes at `off` at time `t` seconds.
    fn read(ra: &mut ReadAhead, t0: Instant, t: f64, off: u64, len: u64) -> Range<usize> {
        let now = t0 + Duration::from_secs_f64(t);
        ra.on_read(off, len, (off / BLOB) as usize, 100, BLOB, now)
    }

    #[test]
    fn a_read_from_the_start_wishes_for_the_window_at_once() {
        let t0 = Instant::now();
        let mut ra = ReadAhead::new(cfg());
        assert_eq!(read(&mut ra, t0, 0.0, 0, 128 << 10), 1..9);
        // Further reads in blob 0 wish for nothing new.
        assert_eq!(read(&mut ra, t0, 0.01, 128 << 10, 128 << 10), 0..0);
    }

    #[test]
    fn each_blob_is_wished_once_and_the_window_slides() {
        let t0 = Instant::now();
        let mut ra = ReadAhead::new(cfg());
        let mut wished = Vec::new();
        let mut off = 0;
        // A fast reader: 1 MiB every millisecond.
        for i in 0..40 {
            wished.extend(read(&mut ra, t0, i as f64 * 0.001, off, MIB));
            off += MIB;
        }
        // Reading blob 19 (offset 39 MiB) the window reaches blob 27.
        assert_eq!(wished, (1..28).collect::<Vec<_>>());
    }

    #[test]
    fn the_window_follows_the_measured_rate() {
        let t0 = Instant::now();
        let mut ra = ReadAhead::new(cfg());
        // A slow reader: just over 1 MiB per second (20 MiB in 19 s); 4 s of
        // lead is a little over 4 MiB: 3 blobs.
        let mut off = 0;
        let mut last = 0..0;
        for i in 0..20 {
            let w = read(&mut ra, t0, i as f64, off, MIB);
            if !w.is_empty() {
                last = w;
            }
            off += MIB;
        }
        // At offset 19 MiB (blob 9) the window ends 3 blobs ahead.
        assert_eq!(last.end, 9 + 1 + 3);
    }

    #[test]
    fn random_readers_get_no_read_ahead() {
        let t0 = Instant::now();
        let mut ra = ReadAhead::new(cfg());
        for (i, off) in [37, 5, 91, 12, 60, 3, 77].iter().enumerate() {
            let w = read(&mut ra, t0, i as f64 * 0.01, off * BLOB + 4096, 4096);
            assert!(w.is_empty(), "read at blob {off} wished for {w:?}");
        }
    }

    #[test]
    fn a_seek_then_sequential_reads_start_a_new_window() {
        let t0 = Instant::now();
        let mut ra = ReadAhead::new(cfg());
        assert_eq!(read(&mut ra, t0, 0.0, 0, MIB), 1..9);
        assert_eq!(ra.runs(), 0);
        // Seek to blob 50: nothing yet (one read is not a run).
        assert_eq!(read(&mut ra, t0, 0.01, 50 * BLOB, MIB), 0..0);
        assert_eq!(ra.runs(), 1, "a seek starts a new run");
        // The second sequential read there starts the window.
        assert_eq!(read(&mut ra, t0, 0.02, 50 * BLOB + MIB, MIB), 51..59);
    }

    #[test]
    fn reads_slightly_out_of_order_stay_sequential() {
        let t0 = Instant::now();
        let mut ra = ReadAhead::new(cfg());
        read(&mut ra, t0, 0.0, 0, MIB);
        read(&mut ra, t0, 0.001, 2 * MIB, MIB);
        // The read at 1 MiB arrives after the one at 2 MiB.
        read(&mut ra, t0, 0.002, MIB, MIB);
        assert_eq!(read(&mut ra, t0, 0.003, 3 * MIB, MIB), 0..0);
        assert_eq!(read(&mut ra, t0, 0.004, 4 * MIB, MIB), 10..11);
    }

    #[test]
    fn the_window_stops_at_the_last_blob() {
        let t0 = Instant::now();
        let mut ra = ReadAhead::new(cfg());
        let now = t0;
        assert_eq!(ra.on_read(0, MIB, 0, 3, BLOB, now), 1..3);
        assert_eq!(ra.on_read(MIB, MIB, 0, 3, BLOB, now), 0..0);
    }
}
