//! Measures re-reads from the disk cache: N cached 2 MiB blobs read through
//! `DiskStore::get` checked by SHA-384 (no checksum records: an lbrynet
//! folder, or records lost) against the same blobs checked by the XXH3-64
//! records the store made when it wrote them, in the same run, as a ratio.
//!
//!   cargo test --release --test store_reread -- --ignored --nocapture
//!
//! STORE_BENCH_BLOBS=N sets the number of blobs (default 128, 256 MiB).
//! The store lives under `target/` (a real disk, not tmpfs). "cold" reads
//! follow `posix_fadvise(DONTNEED)` on every blob file, which drops their
//! pages from the page cache as `echo 3 > /proc/sys/vm/drop_caches` would
//! (without root); "warm" reads repeat at once. Each figure is the best of 3.
//! `std::fs::read` of the same files, in the same order, is printed for
//! scale (cold, one 2 MiB `read` each is served differently by the kernel's
//! read-ahead than the store's growing reads, and measured slower here), and
//! SHA-384 of the bytes in memory as that check's cost.

use lbrymount::blob::{VerifiedBlob, MAX_BLOB_SIZE};
use lbrymount::hash::BlobHash;
use lbrymount::store::{DiskStore, Keep};
use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

fn blob(seed: u64) -> VerifiedBlob {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let data = (0..MAX_BLOB_SIZE)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    VerifiedBlob::from_bytes(data)
}

/// Drops the blob files' pages from the page cache.
fn evict(dir: &Path) {
    for entry in fs::read_dir(dir.join("blobfiles")).unwrap() {
        let f = File::open(entry.unwrap().path()).unwrap();
        // SAFETY: fadvise on a descriptor we own; touches no memory.
        let rc = unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        assert_eq!(rc, 0, "posix_fadvise");
    }
}

/// Best of `trials` runs of `f`.
fn best(trials: usize, mut f: impl FnMut() -> Duration) -> Duration {
    (0..trials).map(|_| f()).min().unwrap()
}

fn read_all(s: &DiskStore, hashes: &[BlobHash]) -> Duration {
    let start = Instant::now();
    for h in hashes {
        let b = s.get(h).unwrap().expect("cached blob");
        assert_eq!(b.len(), MAX_BLOB_SIZE);
    }
    start.elapsed()
}

/// Reads through a freshly opened store, its checksum records removed first
/// if `sha`; `cold` drops the page cache first.
fn through_store(dir: &Path, hashes: &[BlobHash], sha: bool, cold: bool) -> Duration {
    if sha {
        let _ = fs::remove_file(dir.join("blobsums"));
    }
    let s = DiskStore::open(dir, u64::MAX).unwrap();
    if cold {
        evict(dir);
    }
    read_all(&s, hashes)
}

/// The files read in the order the store reads them (the order they were
/// written, so the disk sees the same pattern).
fn raw_reads(dir: &Path, hashes: &[BlobHash], cold: bool) -> Duration {
    if cold {
        evict(dir);
    }
    let start = Instant::now();
    for h in hashes {
        let path = dir.join("blobfiles").join(h.to_hex());
        assert_eq!(fs::read(path).unwrap().len(), MAX_BLOB_SIZE);
    }
    start.elapsed()
}

#[test]
#[ignore]
fn reread_from_the_disk_cache_sha384_against_checksums() {
    let n: usize = std::env::var("STORE_BENCH_BLOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128);
    fs::create_dir_all("target").unwrap();
    let dir = tempfile::TempDir::new_in("target").unwrap();
    let mut hashes = Vec::new();
    {
        let s = DiskStore::open(dir.path(), u64::MAX).unwrap();
        for i in 0..n {
            let b = blob(i as u64 + 1);
            s.put(&b, Keep::Cache).unwrap();
            hashes.push(*b.hash());
        }
    }
    let mib = (n * MAX_BLOB_SIZE) as f64 / (1 << 20) as f64;
    let rate = |d: Duration| mib / d.as_secs_f64();
    let one = blob(0);
    let sha_mem = best(3, || {
        let start = Instant::now();
        for _ in 0..n.min(32) {
            std::hint::black_box(BlobHash::digest(one.data()));
        }
        start.elapsed() * (n as u32) / (n.min(32) as u32)
    });
    println!("{n} cached blobs of 2 MiB ({mib:.0} MiB), best of 3, MiB/s:");
    println!(
        "  SHA-384 of the bytes in memory (reference):  {:8.0}",
        rate(sha_mem)
    );
    for cold in [true, false] {
        let which = if cold { "cold" } else { "warm" };
        // Interleaved, so a slow minute of the (shared) disk hits all three.
        let (mut raw, mut sha, mut sum) = (Duration::MAX, Duration::MAX, Duration::MAX);
        for _ in 0..3 {
            raw = raw.min(raw_reads(dir.path(), &hashes, cold));
            sha = sha.min(through_store(dir.path(), &hashes, true, cold));
            sum = sum.min(through_store(dir.path(), &hashes, false, cold));
        }
        println!(
            "  {which}: std::fs::read of the files:           {:8.0}",
            rate(raw)
        );
        println!(
            "  {which}: DiskStore::get checked by SHA-384:    {:8.0}",
            rate(sha)
        );
        println!(
            "  {which}: DiskStore::get checked by XXH3-64:    {:8.0}",
            rate(sum)
        );
        println!(
            "  {which}: checksum / SHA-384 = {:.2}x; checksum / std::fs::read = {:.2}",
            sha.as_secs_f64() / sum.as_secs_f64(),
            raw.as_secs_f64() / sum.as_secs_f64()
        );
    }
}
