//! The publish's tests: test vectors, staging and discarding, cancellation.

use super::*;
use crate::store::{MemStore, Stats};

fn vector_opts() -> PublishOptions {
    let key = StreamKey::new(&hex::decode("000102030405060708090a0b0c0d0e0f").unwrap()).unwrap();
    PublishOptions {
        key: Some(key),
        ivs: IvSource::Sequence,
        workers: 2,
        ..PublishOptions::default()
    }
}

#[test]
fn a_cancelled_publish_fails_and_leaves_nothing_stored() {
    let store = MemStore::new();
    let opts = vector_opts();
    let data = vec![7u8; 3 * PLAIN_CHUNK];
    // Cancelled once the first chunk is stored: the rest is never read.
    let cancel = opts.cancel.clone();
    let err = publish_reader(&store, "big.bin", &data[..], &opts, &|_| cancel.cancel());
    assert!(matches!(err, Err(PublishError::Cancelled)), "{err:?}");
    assert_eq!(store.stats().blobs, 0, "its blobs are discarded");
}

fn publish_bytes(name: &str, data: &[u8]) -> (MemStore, Published) {
    let store = MemStore::new();
    let p = publish_reader(&store, name, data, &vector_opts(), &|_| {}).unwrap();
    (store, p)
}

#[test]
fn reproduces_protocol_vectors_byte_for_byte() {
    let (store, p) = publish_bytes("hello.txt", b"hello lbry\n");
    assert_eq!(p.sd_hash.to_hex(), "8581c1b3afbf0ed1c7af5800ddd5103f3ec2fe705cc424b88b474c42796b8a52f4b67ebdec914b72229cd83ad8f4a613");
    assert_eq!(store.get(&p.sd_hash.as_blob()).unwrap().unwrap().len(), 536);

    let exact: Vec<u8> = (0..PLAIN_CHUNK).map(|i| i as u8).collect();
    let (_, p) = publish_bytes("exact.bin", &exact);
    assert_eq!(p.sd_hash.to_hex(), "dc31c6e891eea616a1318a23e42122e113499e368defad1f16f31a2b155171c2b01391bb1169a3f33fb0b0c72238e69d");

    let multi: Vec<u8> = (0..4_194_402usize).map(|i| (7 * i + 3) as u8).collect();
    let (store, p) = publish_bytes("multi.bin", &multi);
    assert_eq!(p.sd_hash.to_hex(), "eeebe32ee7ec5e0d808b254870c8a1377b8558eb0be9a6aed4be0b23040fe63839abc76eeef4cdfb00e1483d6a4c7ef5");
    let lens: Vec<u32> = p.descriptor.blobs().iter().map(|b| b.length).collect();
    assert_eq!(lens, vec![2_097_152, 2_097_152, 112]);
    // Every blob and the sd blob are in the store, pinned.
    assert_eq!(store.stats().blobs, 4);
    assert_eq!(store.stats().cached_bytes, 0);
}

#[test]
fn empty_file_is_a_terminator_only_stream() {
    let (store, p) = publish_bytes("empty", b"");
    assert!(p.descriptor.blobs().is_empty());
    assert_eq!(p.size, 0);
    assert!(store.contains(&p.sd_hash.as_blob()));
}

#[test]
fn random_ivs_and_keys_differ_per_publish() {
    let store = MemStore::new();
    let a = publish_reader(
        &store,
        "x",
        &b"same"[..],
        &PublishOptions::default(),
        &|_| {},
    )
    .unwrap();
    let b = publish_reader(
        &store,
        "x",
        &b"same"[..],
        &PublishOptions::default(),
        &|_| {},
    )
    .unwrap();
    assert_ne!(a.sd_hash, b.sd_hash);
}

#[test]
fn read_errors_name_the_file() {
    struct Broken;
    impl Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("disk on fire"))
        }
    }
    let store = MemStore::new();
    let e = publish_reader(&store, "f.bin", Broken, &vector_opts(), &|_| {}).unwrap_err();
    assert!(e.to_string().contains("f.bin"), "{e}");
    assert_eq!(
        store.stats().blobs,
        0,
        "nothing is described after a failed read"
    );
}

/// Yields `left` pseudo-random bytes, then fails once `store` holds
/// `stored` blobs, so the publish has really stored some when it fails.
struct FailsAfter<'a> {
    left: usize,
    store: &'a (dyn Stats + Sync),
    stored: usize,
}

impl Read for FailsAfter<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while self.store.stats().blobs < self.stored && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            return Err(io::Error::other("disk on fire"));
        }
        let n = buf.len().min(self.left);
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = (self.left - i) as u8 ^ 0x5a;
        }
        self.left -= n;
        Ok(n)
    }
}

fn publish_failing_midway<S: PublishStore + Stats>(store: &S) {
    let reader = FailsAfter {
        left: 5 * PLAIN_CHUNK / 2,
        store,
        stored: store.stats().blobs + 1,
    };
    let e = publish_reader(store, "f.bin", reader, &vector_opts(), &|_| {}).unwrap_err();
    assert!(matches!(e, PublishError::Read { .. }), "{e}");
}

#[test]
fn a_publish_that_fails_midway_leaves_no_blob_behind() {
    let mem = MemStore::new();
    let earlier = publish_reader(&mem, "a", &b"kept"[..], &vector_opts(), &|_| {}).unwrap();
    publish_failing_midway(&mem);
    assert_eq!(mem.list().len(), 2, "only the earlier stream's blobs");
    assert!(mem.contains(&earlier.sd_hash.as_blob()));

    let dir = tempfile::TempDir::new().unwrap();
    let disk = crate::store::DiskStore::open(dir.path(), u64::MAX).unwrap();
    publish_failing_midway(&disk);
    assert_eq!(
        disk.stats(),
        crate::store::StoreStats {
            cap_bytes: u64::MAX,
            ..Default::default()
        }
    );
    let files = std::fs::read_dir(dir.path().join("blobfiles")).unwrap();
    assert_eq!(files.count(), 0);
    let pins = std::fs::read_to_string(dir.path().join("pinned")).unwrap();
    assert_eq!(pins, "", "nothing was pinned");
}

#[test]
fn a_published_stream_is_pinned_whole() {
    let dir = tempfile::TempDir::new().unwrap();
    let data: Vec<u8> = (0..PLAIN_CHUNK + 10).map(|i| i as u8).collect();
    let p = {
        let disk = crate::store::DiskStore::open(dir.path(), 0).unwrap();
        publish_reader(&disk, "b", &data[..], &vector_opts(), &|_| {}).unwrap()
    };
    let disk = crate::store::DiskStore::open(dir.path(), 0).unwrap();
    let st = disk.stats();
    assert_eq!(
        (st.blobs, st.cached_bytes),
        (3, 0),
        "two data blobs and the sd blob, all pinned"
    );
    assert!(disk.contains(&p.sd_hash.as_blob()));
}
