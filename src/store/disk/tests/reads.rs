//! Reads that are not uses, and the check before a blob found at open is served.

use super::*;

fn path_of(dir: &Path, hash: &BlobHash) -> PathBuf {
    dir.join("blobfiles").join(hash.to_hex())
}

fn mtime(dir: &Path, hash: &BlobHash) -> SystemTime {
    fs::metadata(path_of(dir, hash))
        .unwrap()
        .modified()
        .unwrap()
}

fn set_mtime(dir: &Path, hash: &BlobHash, t: SystemTime) {
    let f = File::options()
        .write(true)
        .open(path_of(dir, hash))
        .unwrap();
    f.set_modified(t).unwrap();
}

/// Flips one byte of a blob file, keeping its length (bit rot).
fn rot(dir: &Path, hash: &BlobHash) {
    let mut data = fs::read(path_of(dir, hash)).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0x40;
    fs::write(path_of(dir, hash), data).unwrap();
}

#[test]
fn peek_and_get_quiet_neither_reorder_the_cache_nor_touch_mtimes() {
    let dir = TempDir::new().unwrap();
    let s = DiskStore::open(dir.path(), 3000).unwrap();
    let (a, b, c) = (blob(30, 1000), blob(31, 1000), blob(32, 1000));
    for x in [&a, &b, &c] {
        s.put(x, Keep::Cache).unwrap();
    }
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    set_mtime(dir.path(), a.hash(), old);
    assert_eq!(s.peek(a.hash(), 2).unwrap(), Some(a.data()[..2].to_vec()));
    let whole = s.peek(a.hash(), 5000).unwrap();
    assert_eq!(whole.as_deref(), Some(a.data()), "all of a shorter blob");
    assert_eq!(s.get_quiet(a.hash()).unwrap().as_ref(), Some(&a));
    assert_eq!(mtime(dir.path(), a.hash()), old);
    s.put(&blob(33, 1000), Keep::Cache).unwrap();
    assert!(!s.contains(a.hash()), "still the least recently used");
    assert!(s.peek(a.hash(), 2).unwrap().is_none());
    assert!(s.get_quiet(a.hash()).unwrap().is_none());
    // Whereas `get` is a use.
    s.get(b.hash()).unwrap();
    s.put(&blob(34, 1000), Keep::Cache).unwrap();
    assert!(s.contains(b.hash()) && !s.contains(c.hash()));
}

#[test]
fn get_quiet_removes_a_corrupt_blob_like_get() {
    let dir = TempDir::new().unwrap();
    let s = DiskStore::open(dir.path(), 10_000).unwrap();
    let a = blob(35, 3000);
    s.put(&a, Keep::Cache).unwrap();
    rot(dir.path(), a.hash());
    match s.get_quiet(a.hash()) {
        Err(StoreError::Corrupt { hash, .. }) => assert_eq!(hash, *a.hash()),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert!(!s.contains(a.hash()));
    assert!(files_in(dir.path()).is_empty());
    assert_eq!(s.stats().cached_bytes, 0);
}

#[test]
fn a_corrupt_blob_found_at_open_is_never_served() {
    let dir = TempDir::new().unwrap();
    let (rotten, truncated) = (blob(36, 3000), blob(37, 3000));
    {
        let s = DiskStore::open(dir.path(), 10_000).unwrap();
        s.put(&rotten, Keep::Cache).unwrap();
        s.put(&truncated, Keep::Pin).unwrap();
    }
    rot(dir.path(), rotten.hash());
    let t = path_of(dir.path(), truncated.hash());
    fs::write(&t, &truncated.data()[..1000]).unwrap();
    let s = DiskStore::open(dir.path(), 10_000).unwrap();
    for x in [&rotten, &truncated] {
        match s.open_raw(x.hash()) {
            Err(StoreError::Corrupt { hash, .. }) => assert_eq!(hash, *x.hash()),
            other => panic!("expected Corrupt, got {other:?}"),
        }
        assert!(!s.contains(x.hash()));
    }
    assert!(files_in(dir.path()).is_empty());
    let st = s.stats();
    assert_eq!((st.blobs, st.cached_bytes, st.pinned_bytes), (0, 0, 0));
}

#[test]
fn a_blob_found_at_open_is_hashed_once_before_its_first_send() {
    let dir = TempDir::new().unwrap();
    let (a, b) = (blob(38, 3000), blob(39, 2000));
    {
        let s = DiskStore::open(dir.path(), 10_000).unwrap();
        s.put(&a, Keep::Cache).unwrap();
        s.put(&b, Keep::Cache).unwrap();
    }
    let s = DiskStore::open(dir.path(), 10_000).unwrap();
    match s.open_raw(a.hash()).unwrap() {
        Some(RawBlob::Bytes(data)) => assert_eq!(data, a.data(), "the bytes checked"),
        other => panic!("expected the checked bytes, got {other:?}"),
    }
    match s.open_raw(a.hash()).unwrap() {
        Some(RawBlob::File(_, len)) => assert_eq!(len, 3000),
        other => panic!("expected a file once verified, got {other:?}"),
    }
    // A get checks b against the checksum this data dir recorded, which is
    // no SHA-384: its first send still hashes it.
    s.get(b.hash()).unwrap();
    assert!(
        matches!(s.open_raw(b.hash()).unwrap(), Some(RawBlob::Bytes(..))),
        "a checksum is not a hash check"
    );
    assert!(matches!(
        s.open_raw(b.hash()).unwrap(),
        Some(RawBlob::File(..))
    ));
    let c = blob(40, 1000);
    s.put(&c, Keep::Cache).unwrap();
    assert!(
        matches!(s.open_raw(c.hash()).unwrap(), Some(RawBlob::File(..))),
        "a blob put by this process is verified"
    );
}
