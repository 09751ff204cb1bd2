mod reads;
mod staging;
mod sums;

use super::*;
use std::fs;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tempfile::TempDir;

fn blob(seed: u32, len: usize) -> VerifiedBlob {
    let data = (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) as u8 ^ seed as u8)
        .collect();
    VerifiedBlob::from_bytes(data)
}

/// Names of the files in `blobfiles/`, sorted.
fn files_in(store_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(store_dir.join("blobfiles"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn bytes_on_disk(store_dir: &Path) -> u64 {
    fs::read_dir(store_dir.join("blobfiles"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

fn no_temp_files(store_dir: &Path) -> bool {
    !files_in(store_dir).iter().any(|n| n.starts_with(".tmp-"))
}

#[test]
fn put_then_get_round_trips_in_lbrynet_layout() {
    let dir = TempDir::new().unwrap();
    let s = DiskStore::open(dir.path(), 10 << 20).unwrap();
    let b = blob(1, 100_000);
    s.put(&b, Keep::Cache).unwrap();
    assert_eq!(s.get(b.hash()).unwrap().as_ref(), Some(&b));
    assert!(s.contains(b.hash()));
    assert_eq!(s.len_of(b.hash()), Some(100_000));
    assert_eq!(s.list(), vec![*b.hash()]);
    assert_eq!(files_in(dir.path()), vec![b.hash().to_hex()]);
    assert_eq!(s.blob_dir(), dir.path().join("blobfiles"));
    match s.open_raw(b.hash()).unwrap() {
        Some(RawBlob::File(mut f, len)) => {
            let mut data = Vec::new();
            f.read_to_end(&mut data).unwrap();
            assert_eq!((len, data.as_slice()), (100_000, b.data()));
        }
        other => panic!("expected a file, got {other:?}"),
    }
    let absent = blob(2, 10);
    assert!(s.get(absent.hash()).unwrap().is_none());
    assert!(s.open_raw(absent.hash()).unwrap().is_none());
}

#[test]
fn a_blob_is_invisible_until_it_is_complete_and_renamed() {
    let dir = TempDir::new().unwrap();
    let s = DiskStore::open(dir.path(), 10 << 20).unwrap();
    let b = blob(3, 50_000);
    s.put_with(&b, Keep::Cache, |f, data| {
        f.write_all(&data[..1000])?;
        assert!(!s.contains(b.hash()));
        assert!(s.get(b.hash()).unwrap().is_none());
        assert!(!s.blob_dir().join(b.hash().to_hex()).exists());
        assert!(!no_temp_files(dir.path()), "bytes go to a temp file first");
        f.write_all(&data[1000..])
    })
    .unwrap();
    assert!(s.contains(b.hash()));
    assert!(no_temp_files(dir.path()));
}

#[test]
fn reopen_rebuilds_the_index_and_cleans_up_after_a_crash() {
    let dir = TempDir::new().unwrap();
    let (a, b) = (blob(4, 3000), blob(5, 4000));
    {
        let s = DiskStore::open(dir.path(), 10 << 20).unwrap();
        s.put(&a, Keep::Cache).unwrap();
        s.put(&b, Keep::Cache).unwrap();
    }
    let blobs = dir.path().join("blobfiles");
    fs::write(blobs.join(".tmp-deadbeef-0123456789abcdef"), b"half a blob").unwrap();
    let torn = blob(6, 5000);
    fs::write(blobs.join(torn.hash().to_hex()), &torn.data()[..2500]).unwrap();
    fs::write(blobs.join("notes.txt"), b"not a blob").unwrap();

    let s = DiskStore::open(dir.path(), 10 << 20).unwrap();
    assert!(no_temp_files(dir.path()));
    assert!(
        blobs.join("notes.txt").exists(),
        "foreign files are left alone"
    );
    assert_eq!(s.stats().blobs, 3, "blobs are indexed without hashing them");
    match s.get(torn.hash()) {
        Err(StoreError::Corrupt { hash, actual }) => {
            assert_eq!(hash, *torn.hash());
            assert_eq!(actual, BlobHash::digest(&torn.data()[..2500]));
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert!(!blobs.join(torn.hash().to_hex()).exists());
    assert!(!s.contains(torn.hash()));
    assert_eq!(s.get(a.hash()).unwrap().as_ref(), Some(&a));
    assert_eq!(s.get(b.hash()).unwrap().as_ref(), Some(&b));
    assert_eq!(s.stats().cached_bytes, 7000);
}

#[test]
fn lru_order_survives_a_restart_through_mtimes() {
    let dir = TempDir::new().unwrap();
    let (a, b, c) = (blob(7, 1000), blob(8, 1000), blob(9, 1000));
    {
        let s = DiskStore::open(dir.path(), 3000).unwrap();
        for x in [&a, &b, &c] {
            s.put(x, Keep::Cache).unwrap();
        }
    }
    let t0 = SystemTime::now() - Duration::from_secs(3600);
    for (x, age) in [(&a, 30), (&b, 10), (&c, 20)] {
        let f = File::options()
            .write(true)
            .open(dir.path().join("blobfiles").join(x.hash().to_hex()))
            .unwrap();
        f.set_modified(t0 - Duration::from_secs(age)).unwrap();
    }
    let s = DiskStore::open(dir.path(), 3000).unwrap();
    s.get(a.hash()).unwrap();
    s.put(&blob(10, 1000), Keep::Cache).unwrap();
    assert!(s.contains(a.hash()) && s.contains(b.hash()));
    assert!(
        !s.contains(c.hash()),
        "the oldest mtime not used since goes first"
    );
}

#[test]
fn pins_survive_reopen_and_are_never_evicted() {
    let dir = TempDir::new().unwrap();
    let (p, q) = (blob(11, 3000), blob(12, 3000));
    {
        let s = DiskStore::open(dir.path(), 4000).unwrap();
        s.put(&p, Keep::Pin).unwrap();
        s.put(&q, Keep::Cache).unwrap();
        s.pin(&[*q.hash()]).unwrap();
    }
    let s = DiskStore::open(dir.path(), 4000).unwrap();
    for i in 0..10 {
        s.put(&blob(100 + i, 1500), Keep::Cache).unwrap();
    }
    assert_eq!(s.get(p.hash()).unwrap().as_ref(), Some(&p));
    assert_eq!(s.get(q.hash()).unwrap().as_ref(), Some(&q));
    let st = s.stats();
    assert_eq!(
        (st.pinned_bytes, st.cached_bytes, st.blobs),
        (6000, 3000, 4)
    );
}

#[test]
fn the_pin_file_is_compacted_at_open() {
    let dir = TempDir::new().unwrap();
    let p = blob(13, 100);
    {
        let s = DiskStore::open(dir.path(), 1000).unwrap();
        s.put(&p, Keep::Pin).unwrap();
        s.put(&p, Keep::Pin).unwrap();
    }
    let gone = blob(14, 100).hash().to_hex();
    let mut pins = fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("pinned"))
        .unwrap();
    writeln!(pins, "not a hash\n{gone}\n{}", p.hash()).unwrap();
    drop(DiskStore::open(dir.path(), 1000).unwrap());
    let text = fs::read_to_string(dir.path().join("pinned")).unwrap();
    assert_eq!(text, format!("{}\n", p.hash()));
}

#[test]
fn removed_blobs_are_gone_and_their_pins_stay_forgotten_after_reopen() {
    let dir = TempDir::new().unwrap();
    let (p, q, c) = (blob(15, 2000), blob(16, 2000), blob(17, 500));
    {
        let s = DiskStore::open(dir.path(), 1000).unwrap();
        s.put(&p, Keep::Pin).unwrap();
        s.put(&q, Keep::Pin).unwrap();
        s.put(&c, Keep::Cache).unwrap();
        s.remove(&[*p.hash(), *c.hash()]).unwrap();
        assert!(!s.contains(p.hash()) && !s.contains(c.hash()));
        assert_eq!(s.get(p.hash()).unwrap(), None);
        let st = s.stats();
        assert_eq!((st.pinned_bytes, st.cached_bytes, st.blobs), (2000, 0, 1));
    }
    assert_eq!(files_in(dir.path()), vec![q.hash().to_hex()]);
    // The same bytes fetched again later are ordinary cache, not a pin.
    let s = DiskStore::open(dir.path(), 4000).unwrap();
    s.put(&p, Keep::Cache).unwrap();
    drop(s);
    let s = DiskStore::open(dir.path(), 4000).unwrap();
    let st = s.stats();
    assert_eq!((st.pinned_bytes, st.cached_bytes), (2000, 2000));
    let text = fs::read_to_string(dir.path().join("pinned")).unwrap();
    assert_eq!(text, format!("{}\n", q.hash()), "compacted at open");
}

#[test]
fn cached_bytes_on_disk_never_exceed_the_cap() {
    let dir = TempDir::new().unwrap();
    let cap = 10_000;
    let s = DiskStore::open(dir.path(), cap).unwrap();
    for i in 0..60u32 {
        let b = blob(200 + i, 100 + (i as usize * 397) % 4000);
        s.put(&b, Keep::Cache).unwrap();
        assert!(bytes_on_disk(dir.path()) <= cap, "after put {i}");
        assert_eq!(bytes_on_disk(dir.path()), s.stats().cached_bytes);
        assert!(s.contains(b.hash()));
    }
    let before = files_in(dir.path());
    let err = s.put(&blob(999, 10_001), Keep::Cache).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Full {
                needed: 10_001,
                cap: 10_000,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        files_in(dir.path()),
        before,
        "a refused blob evicts nothing"
    );
    // A smaller cap at the next open (`ls` with its default cap after a
    // `get` with a bigger one) deletes nothing; the next put evicts back
    // under it.
    drop(s);
    let s = DiskStore::open(dir.path(), 3000).unwrap();
    assert_eq!(files_in(dir.path()), before, "opening deleted blobs");
    assert_eq!(s.stats().cached_bytes, bytes_on_disk(dir.path()));
    assert!(s.stats().cached_bytes > 3000);
    s.put(&blob(998, 1000), Keep::Cache).unwrap();
    assert!(bytes_on_disk(dir.path()) <= 3000);
    assert_eq!(bytes_on_disk(dir.path()), s.stats().cached_bytes);
}

#[test]
fn opening_an_lbrynet_folder_over_the_cap_deletes_nothing() {
    let dir = TempDir::new().unwrap();
    let blobs_dir = dir.path().join("blobfiles");
    fs::create_dir_all(&blobs_dir).unwrap();
    let blobs: Vec<_> = (0..5).map(|i| blob(300 + i, 2000)).collect();
    for b in &blobs {
        fs::write(blobs_dir.join(b.hash().to_hex()), b.data()).unwrap();
    }
    let s = DiskStore::open(dir.path(), 1000).unwrap();
    assert_eq!(files_in(dir.path()).len(), 5);
    assert_eq!(s.stats().cached_bytes, 10_000);
    for b in &blobs {
        assert_eq!(s.get(b.hash()).unwrap().as_ref(), Some(b));
    }
}

#[test]
fn held_blobs_are_not_evicted() {
    let dir = TempDir::new().unwrap();
    let s = DiskStore::open(dir.path(), 2000).unwrap();
    let (a, b) = (blob(15, 1000), blob(16, 1000));
    s.put(&a, Keep::Cache).unwrap();
    s.put(&b, Keep::Cache).unwrap();
    s.hold(a.hash());
    s.hold(b.hash());
    let err = s.put(&blob(17, 500), Keep::Cache).unwrap_err();
    assert!(matches!(err, StoreError::Full { held: 2000, .. }), "{err}");
    s.release(a.hash());
    s.put(&blob(17, 500), Keep::Cache).unwrap();
    assert!(!s.contains(a.hash()) && s.contains(b.hash()));
}

#[test]
fn a_second_open_is_refused_until_the_first_is_dropped() {
    let dir = TempDir::new().unwrap();
    let first = DiskStore::open(dir.path(), 1000).unwrap();
    match DiskStore::open(dir.path(), 1000) {
        Err(e @ StoreError::Locked { .. }) => {
            let StoreError::Locked { ref path, pid } = e else {
                unreachable!()
            };
            assert_eq!(path, dir.path());
            assert_eq!(pid, Some(std::process::id()));
            assert!(
                e.to_string()
                    .contains("in use by another lbrymount process"),
                "{e}"
            );
        }
        other => panic!("expected Locked, got {:?}", other.map(|_| ())),
    }
    drop(first);
    DiskStore::open(dir.path(), 1000).unwrap();
}

#[test]
fn a_failed_write_leaves_nothing_behind() {
    let dir = TempDir::new().unwrap();
    let s = DiskStore::open(dir.path(), 3000).unwrap();
    let a = blob(18, 2000);
    s.put(&a, Keep::Cache).unwrap();
    let b = blob(19, 2500);
    let err = s
        .put_with(&b, Keep::Cache, |f, data| {
            f.write_all(&data[..1000])?;
            Err(io::Error::from_raw_os_error(libc::ENOSPC))
        })
        .unwrap_err();
    match &err {
        StoreError::Io { op, path, source } => {
            assert_eq!(*op, "write");
            assert!(path.starts_with(s.blob_dir()), "{}", path.display());
            assert_eq!(source.raw_os_error(), Some(libc::ENOSPC));
        }
        other => panic!("expected Io, got {other}"),
    }
    assert!(no_temp_files(dir.path()));
    assert!(!s.contains(b.hash()));
    assert_eq!(
        s.stats().cached_bytes,
        0,
        "a was evicted to make room, b was never stored"
    );
    s.put(&b, Keep::Cache).unwrap();
    assert_eq!(s.get(b.hash()).unwrap().as_ref(), Some(&b));
}

#[test]
fn open_reports_a_data_dir_it_cannot_use() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("plain-file");
    fs::write(&file, b"x").unwrap();
    match DiskStore::open(&file, 1000) {
        Err(StoreError::Io { path, .. }) => assert_eq!(path, file),
        other => panic!("expected Io, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn oversized_blobs_are_refused() {
    let dir = TempDir::new().unwrap();
    let s = DiskStore::open(dir.path(), u64::MAX).unwrap();
    let big = VerifiedBlob::from_bytes(vec![0; MAX_BLOB_SIZE + 1]);
    assert!(matches!(
        s.put(&big, Keep::Pin),
        Err(StoreError::TooLarge { .. })
    ));
}

#[test]
fn concurrent_puts_of_one_blob_all_succeed_and_leave_one_file() {
    let dir = TempDir::new().unwrap();
    let s = Arc::new(DiskStore::open(dir.path(), 1 << 20).unwrap());
    let b = blob(20, 300_000);
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let (s, b) = (s.clone(), b.clone());
            std::thread::spawn(move || s.put(&b, Keep::Cache).map(|()| s.contains(b.hash())))
        })
        .collect();
    for t in threads {
        assert!(t.join().unwrap().unwrap(), "visible when put returns");
    }
    assert_eq!(files_in(dir.path()), vec![b.hash().to_hex()]);
    assert_eq!(s.stats().cached_bytes, 300_000);
    assert_eq!(s.get(b.hash()).unwrap().as_ref(), Some(&b));
}

#[test]
fn concurrent_puts_under_a_cap_stay_under_it() {
    let dir = TempDir::new().unwrap();
    let cap = 50_000;
    let s = Arc::new(DiskStore::open(dir.path(), cap).unwrap());
    let threads: Vec<_> = (0..4u32)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    let b = blob(1000 + t * 100 + i % 10, 4000 + (i as usize % 7) * 1000);
                    s.put(&b, Keep::Cache).unwrap();
                    let _ = s.get(b.hash());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(bytes_on_disk(dir.path()) <= cap);
    assert_eq!(bytes_on_disk(dir.path()), s.stats().cached_bytes);
    assert!(no_temp_files(dir.path()));
}

/// Measures the durable put of a full 2 MiB blob:
/// `cargo test --lib put_cost -- --ignored --nocapture`.
#[test]
#[ignore]
fn put_cost_of_a_full_blob() {
    let dir = TempDir::new_in(".").unwrap();
    let s = DiskStore::open(dir.path(), u64::MAX).unwrap();
    let blobs: Vec<_> = (0..20).map(|i| blob(5000 + i, MAX_BLOB_SIZE)).collect();
    let start = Instant::now();
    for b in &blobs {
        s.put(b, Keep::Cache).unwrap();
    }
    let per_put = start.elapsed() / blobs.len() as u32;
    println!(
        "durable put of a 2 MiB blob: {per_put:?} on average over {}",
        blobs.len()
    );
}
