use super::*;
use crate::blob::PLAIN_CHUNK;
use crate::publish::{publish_reader, PublishOptions};
use crate::store::MemStore;
use crate::stream::testing::{pseudo_random, MemSource};
use std::ffi::OsString;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Default)]
struct Hooks {
    known: AtomicUsize,
    cached: Mutex<Vec<SdHash>>,
}

impl NodeHooks for Hooks {
    fn stream_known(&self, _desc: &StreamDescriptor) {
        self.known.fetch_add(1, Ordering::SeqCst);
    }
    fn stream_cached(&self, sd: SdHash, _first: Option<BlobHash>) {
        self.cached.lock().unwrap().push(sd);
    }
    fn peers_known(&self, _sd: &SdHash) -> usize {
        3
    }
}

struct Fixture {
    vfs: Vfs,
    src: Arc<MemSource>,
    hooks: Arc<Hooks>,
    /// The cache the filesystem sees (the source has every blob).
    cache: Arc<MemStore>,
    data: Vec<u8>,
    desc: StreamDescriptor,
}

/// A network (the source) that has one stream of `len` bytes; the local
/// cache starts empty.
fn fixture(len: usize) -> Fixture {
    fixture_with_timeout(len, Duration::from_secs(5))
}

fn fixture_with_timeout(len: usize, read_timeout: Duration) -> Fixture {
    let data = pseudo_random(len, 42);
    let net = MemStore::new();
    let p = publish_reader(
        &net,
        "movie.mkv",
        &data[..],
        &PublishOptions::default(),
        &|_| {},
    )
    .unwrap();
    let src = Arc::new(MemSource::new(net));
    let hooks = Arc::new(Hooks::default());
    let cache = Arc::new(MemStore::new());
    let cfg = VfsConfig {
        read_timeout,
        ..VfsConfig::default()
    };
    let vfs = Vfs::new(cfg, cache.clone(), src.clone(), hooks.clone());
    Fixture {
        vfs,
        src,
        hooks,
        cache,
        data,
        desc: p.descriptor,
    }
}

fn name(s: &str) -> OsString {
    OsString::from(s)
}

#[tokio::test]
async fn names_that_are_not_sd_hashes_are_not_found_without_the_network() {
    let f = fixture(1000);
    for bad in [
        "hello",
        "ABC",
        &"a".repeat(95),
        &"A".repeat(96),
        &"g".repeat(96),
    ] {
        assert_eq!(f.vfs.lookup(ROOT, &name(bad)).await, Err(FsError::NotFound));
    }
    assert_eq!(f.src.calls(), 0);
}

#[tokio::test]
async fn an_unknown_sd_hash_is_resolved_from_the_network_then_listed() {
    let f = fixture(3 * PLAIN_CHUNK + 7);
    assert!(f.vfs.readdir(ROOT, 0).await.unwrap().is_empty());
    let sd = f.desc.sd_hash().to_string();
    let dir = f.vfs.lookup(ROOT, &name(&sd)).await.unwrap();
    assert_eq!(dir.kind, Kind::Dir);
    let listed = f.vfs.readdir(ROOT, 0).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, sd);
    assert_eq!(listed[0].ino, dir.ino);
    let inside = f.vfs.readdir(dir.ino, 0).await.unwrap();
    assert_eq!(inside.len(), 1);
    assert_eq!(inside[0].name, "movie.mkv");
    let file = f.vfs.lookup(dir.ino, &name("movie.mkv")).await.unwrap();
    assert_eq!(file.kind, Kind::File);
    assert_eq!(file.size, f.data.len() as u64, "the size is exact");
    assert_eq!(file.perm, 0o444);
    assert_eq!(f.hooks.known.load(Ordering::SeqCst), 1);
    // Other names in the directory do not exist.
    let other = f.vfs.lookup(dir.ino, &name("movie.mkv.part")).await;
    assert_eq!(other, Err(FsError::NotFound));
}

#[tokio::test]
async fn resolving_a_stream_starts_fetching_its_first_blob_before_any_open() {
    let f = fixture(3 * PLAIN_CHUNK + 7);
    let sd = f.desc.sd_hash().to_string();
    let dir = f.vfs.lookup(ROOT, &name(&sd)).await.unwrap();
    let first = f.desc.blobs()[0].hash;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !f.src.asked().contains(&first) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "blob 0 never fetched"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The descriptor, then what the size needs (the last blob: this
    // writer's last blob is short), then the first blob.
    let last = f.desc.blobs().last().unwrap().hash;
    assert_eq!(f.src.asked(), [f.desc.sd_hash().as_blob(), last, first]);
    // The open and the read join what is there: no second fetch.
    let file = f.vfs.lookup(dir.ino, &name("movie.mkv")).await.unwrap();
    let fh = f.vfs.open(file.ino).await.unwrap();
    assert_eq!(f.vfs.read(fh, 0, 10).await.unwrap(), &f.data[..10]);
    let asked = f.src.asked();
    assert_eq!(
        asked.iter().filter(|h| **h == first).count(),
        1,
        "{asked:?}"
    );
}

#[tokio::test]
async fn an_sd_hash_nobody_has_is_not_found_and_the_reason_is_kept() {
    let f = fixture(100);
    let unknown = SdHash::digest(b"no such stream").to_string();
    assert_eq!(
        f.vfs.lookup(ROOT, &name(&unknown)).await,
        Err(FsError::NotFound)
    );
    let errors = f.vfs.recent_errors();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].1.contains(&unknown), "{:?}", errors[0].1);
    assert!(f.vfs.readdir(ROOT, 0).await.unwrap().is_empty());
}

#[tokio::test]
async fn open_read_release_gives_exact_bytes() {
    let f = fixture(3 * PLAIN_CHUNK + 1234);
    let dir = f.vfs.add_stream(f.desc.clone());
    let file = f.vfs.lookup(dir, &name("movie.mkv")).await.unwrap();
    let fh = f.vfs.open(file.ino).await.unwrap();
    let n = f.data.len() as u64;
    for (off, len) in [
        (0u64, 131_072u32),
        (PLAIN_CHUNK as u64 - 10, 20),
        (n - 5, 4096),
        (n, 10),
    ] {
        let got = f.vfs.read(fh, off, len).await.unwrap();
        let end = (off + u64::from(len)).min(n) as usize;
        assert!(got == f.data[off as usize..end], "read {len} at {off}");
    }
    f.vfs.release(fh);
    assert_eq!(f.vfs.read(fh, 0, 10).await, Err(FsError::BadHandle));
}

#[tokio::test]
async fn xattrs_show_hash_blobs_and_peers() {
    let f = fixture(2 * PLAIN_CHUNK + 1);
    let dir = f.vfs.add_stream(f.desc.clone());
    let file = f.vfs.lookup(dir, &name("movie.mkv")).await.unwrap();
    let names = f.vfs.listxattr(file.ino).unwrap();
    assert_eq!(
        names,
        b"user.lbry.sd_hash\0user.lbry.blobs\0user.lbry.peers\0"
    );
    let get = |n: &str| String::from_utf8(f.vfs.getxattr(file.ino, &name(n)).unwrap()).unwrap();
    assert_eq!(get("user.lbry.sd_hash"), f.desc.sd_hash().to_string());
    assert_eq!(get("user.lbry.blobs"), "0/3");
    assert_eq!(get("user.lbry.peers"), "3");
    assert_eq!(
        f.vfs.getxattr(file.ino, &name("user.other")),
        Err(FsError::NoAttr)
    );
    for b in f.desc.blobs().iter().take(2) {
        let blob = f.src.store.get(&b.hash).unwrap().unwrap();
        f.cache.put(&blob, crate::store::Keep::Cache).unwrap();
    }
    assert_eq!(get("user.lbry.blobs"), "2/3");
}

#[tokio::test]
async fn a_stalled_read_fails_with_io_within_the_timeout() {
    let f = fixture_with_timeout(2 * PLAIN_CHUNK + 1, Duration::from_millis(500));
    let dir = f.vfs.add_stream(f.desc.clone());
    let file = f.vfs.lookup(dir, &name("movie.mkv")).await.unwrap();
    f.src.stall.lock().unwrap().push(f.desc.blobs()[1].hash);
    let fh = f.vfs.open(file.ino).await.unwrap();
    // The stalled blob never arrives; the read ends (the test would hang otherwise).
    let err = f
        .vfs
        .read(fh, PLAIN_CHUNK as u64 + 10, 4096)
        .await
        .unwrap_err();
    let FsError::Io(why) = err else {
        panic!("expected Io, got {err:?}")
    };
    assert!(why.contains("timed out"), "{why}");
    // The mount stays usable: other blobs still read.
    assert_eq!(f.vfs.read(fh, 0, 100).await.unwrap(), &f.data[..100]);
}

#[tokio::test]
async fn directories_are_not_files_and_inodes_are_stable() {
    let f = fixture(100);
    let dir = f.vfs.add_stream(f.desc.clone());
    assert_eq!(f.vfs.add_stream(f.desc.clone()), dir);
    assert_eq!(f.vfs.open(dir).await, Err(FsError::IsDir));
    assert_eq!(f.vfs.open(ROOT).await, Err(FsError::IsDir));
    assert_eq!(f.vfs.getattr(999).await, Err(FsError::NotFound));
    let file = table::file_ino(dir);
    assert_eq!(f.vfs.readdir(file, 0).await, Err(FsError::NotDir));
}

#[tokio::test]
async fn a_removed_stream_leaves_the_listing_but_open_files_keep_reading() {
    let f = fixture(2 * PLAIN_CHUNK + 99);
    let dir = f.vfs.add_stream(f.desc.clone());
    let file = f.vfs.lookup(dir, &name("movie.mkv")).await.unwrap();
    let fh = f.vfs.open(file.ino).await.unwrap();
    f.vfs.remove_stream(&f.desc.sd_hash());
    assert!(f.vfs.readdir(ROOT, 0).await.unwrap().is_empty());
    assert!(f.vfs.streams().is_empty());
    let got = f.vfs.read(fh, PLAIN_CHUNK as u64, 1000).await.unwrap();
    assert!(got == f.data[PLAIN_CHUNK..PLAIN_CHUNK + 1000]);
    f.vfs.release(fh);
    // Known again (here: resolved afresh from the network), under the same inode.
    let sd = f.desc.sd_hash().to_string();
    let again = f.vfs.lookup(ROOT, &name(&sd)).await.unwrap();
    assert_eq!(again.ino, dir);
    assert_eq!(f.vfs.readdir(ROOT, 0).await.unwrap().len(), 1);
}

/// Records what the kernel is told to forget.
#[derive(Default)]
struct Forgotten(std::sync::Mutex<Vec<(u64, String)>>);

impl super::KernelCache for Forgotten {
    fn forget_entry(&self, parent: u64, name: &str) {
        self.0.lock().unwrap().push((parent, name.to_string()));
    }
}

#[tokio::test]
async fn a_removed_stream_is_forgotten_by_the_kernel_and_keeps_its_cookie() {
    let f = fixture(PLAIN_CHUNK + 1);
    let kernel = Arc::new(Forgotten::default());
    f.vfs.set_kernel_cache(kernel.clone());
    f.vfs.add_stream(f.desc.clone());
    let before = f.vfs.readdir(ROOT, 0).await.unwrap();
    assert_eq!(before[0].cookie, 1);
    let sd = f.desc.sd_hash();
    f.vfs.remove_stream(&sd);
    f.vfs.remove_stream(&sd);
    assert_eq!(*kernel.0.lock().unwrap(), vec![(ROOT, sd.to_string())]);
    f.vfs.add_stream(f.desc.clone());
    assert_eq!(f.vfs.readdir(ROOT, 0).await.unwrap(), before);
}
