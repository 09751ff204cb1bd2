//! Reads checked by the checksum records (`sums.rs`): fast for our own
//! writes, never letting a changed blob through, hashed when unrecorded.

use super::*;

fn path_of(dir: &Path, hash: &BlobHash) -> PathBuf {
    dir.join("blobfiles").join(hash.to_hex())
}

fn log_text(dir: &Path) -> String {
    fs::read_to_string(dir.join(super::super::sums::LOG_NAME)).unwrap_or_default()
}

/// Whether the blob was hashed with SHA-384 in this process, and whether
/// the store holds a checksum record of it.
fn state(s: &DiskStore, hash: &BlobHash) -> (bool, bool) {
    let ready = s.lock().ready(hash, false).expect("a visible blob");
    (ready.verified, ready.sum.is_some())
}

fn expect_corrupt(got: Result<Option<VerifiedBlob>, StoreError>, hash: &BlobHash, actual: &[u8]) {
    match got {
        Err(StoreError::Corrupt { hash: h, actual: a }) => {
            assert_eq!(h, *hash);
            assert_eq!(a, BlobHash::digest(actual), "the hash of the bytes on disk");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn own_writes_are_read_back_by_checksum_even_after_a_restart() {
    let dir = TempDir::new().unwrap();
    let (a, p) = (blob(60, 300_000), blob(61, 5000));
    {
        let s = DiskStore::open(dir.path(), 1 << 20).unwrap();
        s.put(&a, Keep::Cache).unwrap();
        s.put(&p, Keep::Pin).unwrap();
        assert_eq!(state(&s, a.hash()), (true, true));
    }
    assert_eq!(log_text(dir.path()).lines().count(), 2);
    let s = DiskStore::open(dir.path(), 1 << 20).unwrap();
    for x in [&a, &p] {
        assert_eq!(state(&s, x.hash()), (false, true), "record loaded at open");
        assert_eq!(s.get(x.hash()).unwrap().as_ref(), Some(x));
        assert_eq!(s.get_quiet(x.hash()).unwrap().as_ref(), Some(x));
        assert_eq!(state(&s, x.hash()), (false, true), "read without SHA-384");
    }
    assert_eq!(log_text(dir.path()).lines().count(), 2, "nothing to add");
}

#[test]
fn a_blob_changed_on_disk_fails_its_checksum_and_is_removed() {
    let dir = TempDir::new().unwrap();
    let (rotten, truncated, short) = (blob(62, 100_000), blob(63, 100_000), blob(64, 100_000));
    {
        let s = DiskStore::open(dir.path(), 1 << 20).unwrap();
        for x in [&rotten, &truncated, &short] {
            s.put(x, Keep::Cache).unwrap();
        }
        // In the process that wrote it: one byte flipped, same length.
        let mut bytes = rotten.data().to_vec();
        bytes[50_000] ^= 0x01;
        fs::write(path_of(dir.path(), rotten.hash()), &bytes).unwrap();
        assert_eq!(state(&s, rotten.hash()), (true, true));
        expect_corrupt(s.get(rotten.hash()), rotten.hash(), &bytes);
        assert!(!s.contains(rotten.hash()));
    }
    // After a restart, with the records read back from the log.
    let t = path_of(dir.path(), truncated.hash());
    File::options()
        .write(true)
        .open(&t)
        .unwrap()
        .set_len(99_999)
        .unwrap();
    let mut bytes = short.data().to_vec();
    bytes[0] ^= 0x80;
    fs::write(path_of(dir.path(), short.hash()), &bytes).unwrap();
    let s = DiskStore::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(state(&s, truncated.hash()), (false, true));
    let cut = &truncated.data()[..99_999];
    expect_corrupt(s.get(truncated.hash()), truncated.hash(), cut);
    expect_corrupt(s.get_quiet(short.hash()), short.hash(), &bytes);
    assert!(files_in(dir.path()).is_empty());
    assert_eq!(s.stats().cached_bytes, 0);
    // Stored again, each reads back fine.
    for x in [&rotten, &truncated, &short] {
        s.put(x, Keep::Cache).unwrap();
        assert_eq!(s.get(x.hash()).unwrap().as_ref(), Some(x));
    }
}

#[test]
fn a_blob_with_a_missing_or_torn_record_is_hashed_then_recorded() {
    let dir = TempDir::new().unwrap();
    let (missing, garbled, torn) = (blob(65, 70_000), blob(66, 70_000), blob(67, 70_000));
    {
        let s = DiskStore::open(dir.path(), 1 << 20).unwrap();
        for x in [&missing, &garbled, &torn] {
            s.put(x, Keep::Cache).unwrap();
        }
    }
    // No line for `missing`; a flipped digit in `garbled`'s checksum; half
    // of `torn`'s line, as a crash mid-append leaves it.
    let line_of = |x: &VerifiedBlob| {
        let text = log_text(dir.path());
        let line = text.lines().find(|l| l.starts_with(&x.hash().to_hex()));
        line.unwrap().to_string()
    };
    let mut bad = line_of(&garbled);
    let last = bad.pop().unwrap();
    bad.push(if last == '0' { '1' } else { '0' });
    let half = line_of(&torn)[..60].to_string();
    fs::write(
        dir.path().join(super::super::sums::LOG_NAME),
        format!("{bad}\n{half}"),
    )
    .unwrap();

    let s = DiskStore::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(state(&s, missing.hash()), (false, false));
    assert_eq!(state(&s, garbled.hash()), (false, true));
    assert_eq!(state(&s, torn.hash()), (false, false));
    assert_eq!(
        log_text(dir.path()),
        format!("{bad}\n"),
        "compacted at open"
    );
    for x in [&missing, &garbled, &torn] {
        assert_eq!(s.get(x.hash()).unwrap().as_ref(), Some(x));
        assert_eq!(state(&s, x.hash()), (true, true), "hashed, then recorded");
    }
    assert!(
        matches!(s.open_raw(missing.hash()).unwrap(), Some(RawBlob::File(..))),
        "hashed by this process: sent as it is"
    );
    drop(s);
    let s = DiskStore::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(log_text(dir.path()).lines().count(), 3);
    for x in [&missing, &garbled, &torn] {
        assert_eq!(s.get(x.hash()).unwrap().as_ref(), Some(x));
        assert_eq!(state(&s, x.hash()), (false, true), "the fast path now");
    }
}

#[test]
fn the_checksum_log_stays_bounded_under_eviction_churn() {
    let dir = TempDir::new().unwrap();
    let s = DiskStore::open(dir.path(), 1000).unwrap();
    let rounds = 5000;
    for i in 0..rounds {
        s.put(&blob(1000 + i, 100), Keep::Cache).unwrap();
    }
    let text = log_text(dir.path());
    let lines = text.lines().count();
    assert!(lines < rounds as usize, "compacted: {lines} lines");
    let live = s.list();
    assert_eq!(live.len(), 10);
    for h in &live {
        assert!(text.contains(&h.to_hex()), "the records in use are kept");
    }
    drop(s);
    let s = DiskStore::open(dir.path(), 1000).unwrap();
    assert_eq!(
        log_text(dir.path()).lines().count(),
        10,
        "only live records"
    );
    for h in &live {
        assert_eq!(state(&s, h), (false, true));
    }
}
