//! The share folder end to end on a real temp dir, with a fake publisher
//! whose sd hash is the SHA-384 of the bytes it read.

use super::collections;
use super::watcher::{fallback_warning, is_watch_limit};
use super::*;
use std::collections::HashSet;
use std::fs;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

const DEBOUNCE: Duration = Duration::from_millis(300);
/// Long, so that in `Watch::Notify` tests inotify is what notices changes.
const RESCAN: Duration = Duration::from_secs(30);
const WAIT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    Publish(PathBuf, SdHash),
    Unpublish(SdHash),
}

type Hook = Box<dyn FnMut(&Path) + Send>;

#[derive(Default)]
struct Fake {
    calls: Mutex<Vec<Call>>,
    live: Mutex<HashSet<SdHash>>,
    /// Failed publish attempts so far, and how many more to fail.
    failed: AtomicUsize,
    fail_next: AtomicUsize,
    /// Runs once, inside the next `publish`, after the file was read.
    hook: Mutex<Option<Hook>>,
}

impl Fake {
    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
    fn publishes(&self) -> usize {
        self.calls()
            .iter()
            .filter(|c| matches!(c, Call::Publish(..)))
            .count()
    }
    fn set_hook(&self, hook: impl FnMut(&Path) + Send + 'static) {
        *self.hook.lock().unwrap() = Some(Box::new(hook));
    }
}

impl SharePublisher for Fake {
    fn publish(&self, path: &Path) -> Result<SdHash, String> {
        if self
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            self.failed.fetch_add(1, Ordering::SeqCst);
            return Err(format!("cannot read {}: permission denied", path.display()));
        }
        let bytes = fs::read(path).map_err(|e| e.to_string())?;
        let hook = self.hook.lock().unwrap().take();
        if let Some(mut hook) = hook {
            hook(path);
        }
        let sd = SdHash::digest(&bytes);
        self.live.lock().unwrap().insert(sd);
        self.calls
            .lock()
            .unwrap()
            .push(Call::Publish(path.to_path_buf(), sd));
        Ok(sd)
    }
    fn unpublish(&self, sd: &SdHash) {
        self.live.lock().unwrap().remove(sd);
        self.calls.lock().unwrap().push(Call::Unpublish(*sd));
    }
    fn is_published(&self, sd: &SdHash) -> bool {
        self.live.lock().unwrap().contains(sd)
    }
    fn publish_collection(&self, name: &str, bytes: &[u8]) -> Result<SdHash, String> {
        let sd = SdHash::digest(&[name.as_bytes(), bytes].concat());
        self.live.lock().unwrap().insert(sd);
        Ok(sd)
    }
}

struct Env {
    _tmp: tempfile::TempDir,
    share: PathBuf,
    manifest: PathBuf,
    fake: Arc<Fake>,
}

fn env() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    Env {
        share: tmp.path().join("share"),
        manifest: tmp.path().join("data/share.json"),
        _tmp: tmp,
        fake: Arc::new(Fake::default()),
    }
}

impl Env {
    fn config(&self, rescan: Duration) -> ShareConfig {
        ShareConfig {
            dir: self.share.clone(),
            manifest: self.manifest.clone(),
            debounce: DEBOUNCE,
            rescan,
        }
    }
    fn start(&self) -> ShareHandle {
        start(self.config(RESCAN), self.fake.clone()).unwrap()
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.share.canonicalize().unwrap().join(rel)
    }
    fn write(&self, rel: &str, data: &[u8]) {
        let p = self.share.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
    }
}

/// Every file the manifest at `path` records, of any folder.
fn saved(path: &Path) -> Vec<state::Record> {
    manifest::load(path)
        .unwrap()
        .folders
        .into_iter()
        .flat_map(|f| f.records)
        .collect()
}

fn entry(rel: &str, data: &[u8]) -> (PathBuf, SdHash) {
    (PathBuf::from(rel), SdHash::digest(data))
}

/// Polls `cond` until it holds; fails the test after `WAIT`.
async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Gives the driver time to do something it should not.
async fn settle() {
    tokio::time::sleep(DEBOUNCE * 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copied_file_is_published_once_then_republished_and_unpublished() {
    let env = env();
    let share = env.start();
    env.write("a.txt", b"first");
    for ignored in [".hidden", "movie.part", "notes~", ".cache/x"] {
        env.write(ignored, b"ignored");
    }
    let first = entry("a.txt", b"first");
    wait_for("the publish", || share.shared() == vec![first.clone()]).await;
    assert!(
        !share.is_polling(),
        "inotify noticed the file, not a rescan"
    );
    settle().await;
    assert_eq!(
        env.fake.calls(),
        vec![Call::Publish(env.path("a.txt"), first.1)]
    );
    let kept = saved(&env.manifest);
    assert_eq!((kept.len(), kept[0].sd), (1, first.1));

    env.write("a.txt", b"second version");
    let second = entry("a.txt", b"second version");
    wait_for("the republish", || share.shared() == vec![second.clone()]).await;
    let calls = env.fake.calls();
    assert_eq!(
        calls[1..],
        [
            Call::Publish(env.path("a.txt"), second.1),
            Call::Unpublish(first.1)
        ]
    );

    fs::remove_file(env.share.join("a.txt")).unwrap();
    wait_for("the unpublish", || share.shared().is_empty()).await;
    assert_eq!(env.fake.calls().last(), Some(&Call::Unpublish(second.1)));
    assert_eq!(env.fake.publishes(), 2);
    wait_for("the manifest", || saved(&env.manifest).is_empty()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_is_a_collection_whose_previous_version_stays_whole() {
    let env = env();
    let share = env.start();
    env.write("pics/a.txt", b"first");
    env.write("pics/deep/b.txt", b"bee");
    let first = entry("pics/a.txt", b"first");
    let b = entry("pics/deep/b.txt", b"bee");
    wait_for("the publish", || {
        share.shared() == vec![first.clone(), b.clone()]
    })
    .await;
    let kept = collections::kept_path(&env.manifest, &fs::canonicalize(&env.share).unwrap());
    wait_for("the collection", || {
        collections::load(&kept)
            .folders
            .get("pics")
            .is_some_and(|f| f.current.is_some())
    })
    .await;
    let v1 = collections::load(&kept).folders["pics"]
        .current
        .clone()
        .unwrap();
    assert_eq!(v1.files.len(), 2);

    env.write("pics/a.txt", b"second version");
    let second = entry("pics/a.txt", b"second version");
    wait_for("the republish", || {
        share.shared() == vec![second.clone(), b.clone()]
    })
    .await;
    wait_for("the new collection", || {
        collections::load(&kept).folders["pics"]
            .current
            .as_ref()
            .map(|k| k.sd)
            != Some(v1.sd)
    })
    .await;
    let f = collections::load(&kept).folders["pics"].clone();
    assert_eq!(
        f.previous.map(|k| k.sd),
        Some(v1.sd),
        "the previous is kept"
    );
    assert!(
        env.fake.is_published(&first.1) && env.fake.is_published(&v1.sd),
        "the previous collection and the old file stream stay published"
    );

    env.write("pics/a.txt", b"third");
    let third = entry("pics/a.txt", b"third");
    wait_for("the old one released", || {
        share.shared() == vec![third.clone(), b.clone()]
            && !env.fake.is_published(&first.1)
            && !env.fake.is_published(&v1.sd)
    })
    .await;
    assert!(
        env.fake.is_published(&second.1),
        "named by the previous collection"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowly_written_file_is_published_once_with_its_final_content() {
    let env = env();
    let cfg = ShareConfig {
        debounce: Duration::from_secs(1),
        ..env.config(RESCAN)
    };
    let share = start(cfg, env.fake.clone()).unwrap();
    let path = env.share.join("slow.bin");
    let mut written = Vec::new();
    {
        use std::io::Write;
        let mut f = fs::File::create(&path).unwrap();
        // 20 pieces over about 3 s, each gap well under the debounce time.
        for i in 0..20u8 {
            let piece = vec![i; 10_000];
            f.write_all(&piece).unwrap();
            f.flush().unwrap();
            written.extend_from_slice(&piece);
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }
    let full = entry("slow.bin", &written);
    wait_for("the publish", || share.shared() == vec![full.clone()]).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        env.fake.calls(),
        vec![Call::Publish(env.path("slow.bin"), full.1)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_live_streams_and_republishes_lost_ones() {
    let env = env();
    let (a, b) = (entry("a", b"alpha"), entry("d/b", b"beta"));
    {
        let share = env.start();
        env.write("a", b"alpha");
        env.write("d/b", b"beta");
        wait_for("both publishes", || {
            share.shared() == vec![a.clone(), b.clone()]
        })
        .await;
        share.shutdown();
        share.shutdown();
        tokio::time::timeout(WAIT, share.stopped()).await.unwrap();
    }
    // Same files, same manifest, streams still pinned: nothing is published.
    {
        let share = env.start();
        wait_for("the manifest's streams", || {
            share.shared() == vec![a.clone(), b.clone()]
        })
        .await;
        settle().await;
        assert_eq!(env.fake.publishes(), 2);
        share.shutdown();
        tokio::time::timeout(WAIT, share.stopped()).await.unwrap();
    }
    // `b`'s stream was lost (its sd blob is no longer pinned): only it is published again.
    env.fake.live.lock().unwrap().remove(&b.1);
    let share = env.start();
    wait_for("the republish", || env.fake.publishes() == 3).await;
    wait_for("both shared", || {
        share.shared() == vec![a.clone(), b.clone()]
    })
    .await;
    assert_eq!(
        env.fake.calls().last(),
        Some(&Call::Publish(env.path("d/b"), b.1))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_changed_during_its_publish_is_unpublished_and_published_when_stable() {
    let env = env();
    env.fake.set_hook(|path| {
        use std::io::Write;
        let mut f = fs::OpenOptions::new().append(true).open(path).unwrap();
        f.write_all(b" and the rest").unwrap();
    });
    let share = env.start();
    env.write("f", b"the start");
    let full = entry("f", b"the start and the rest");
    wait_for("the final publish", || share.shared() == vec![full.clone()]).await;
    let half = SdHash::digest(b"the start");
    assert_eq!(
        env.fake.calls(),
        vec![
            Call::Publish(env.path("f"), half),
            Call::Unpublish(half),
            Call::Publish(env.path("f"), full.1),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_publish_is_retried_at_the_next_rescan() {
    let env = env();
    env.fake.fail_next.store(1, Ordering::SeqCst);
    let share = start(env.config(Duration::from_millis(500)), env.fake.clone()).unwrap();
    env.write("locked", b"data");
    wait_for("the retry", || {
        share.shared() == vec![entry("locked", b"data")]
    })
    .await;
    assert_eq!(env.fake.failed.load(Ordering::SeqCst), 1);
    assert_eq!(env.fake.publishes(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polled_share_publishes_new_files() {
    let env = env();
    let share = start_with(
        env.config(RESCAN),
        env.fake.clone(),
        Watch::Poll(Duration::from_millis(200)),
    )
    .unwrap();
    assert!(share.is_polling());
    env.write("new", b"polled");
    wait_for("the publish", || {
        share.shared() == vec![entry("new", b"polled")]
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watch_limit_makes_the_share_fall_back_to_polling() {
    let env = env();
    let limit = || notify::Error::new(notify::ErrorKind::MaxFilesWatch);
    // A rescan period shorter than FALLBACK_RESCAN is also the fallback period.
    let cfg = env.config(Duration::from_millis(300));
    let share = start_inner(cfg, env.fake.clone(), Setup::FailNotify(limit)).unwrap();
    wait_for("polling mode", || share.is_polling()).await;
    env.write("x", b"found by a rescan");
    wait_for("the publish", || {
        share.shared() == vec![entry("x", b"found by a rescan")]
    })
    .await;
}

#[test]
fn the_fallback_warning_names_the_limit_to_raise() {
    let enospc = notify::Error::io(std::io::Error::from_raw_os_error(libc::ENOSPC));
    let max = notify::Error::new(notify::ErrorKind::MaxFilesWatch);
    for e in [&enospc, &max] {
        assert!(is_watch_limit(e));
        let w = fallback_warning(e, FALLBACK_RESCAN);
        assert!(
            w.contains("fs.inotify.max_user_watches") && w.contains("5s"),
            "{w}"
        );
    }
    let emfile = notify::Error::io(std::io::Error::from_raw_os_error(libc::EMFILE));
    assert!(!is_watch_limit(&emfile));
    assert!(fallback_warning(&emfile, FALLBACK_RESCAN).contains("max_user_instances"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_manifest_is_set_aside_and_treated_as_empty() {
    let env = env();
    fs::create_dir_all(env.manifest.parent().unwrap()).unwrap();
    fs::write(&env.manifest, b"{\"version\": 1, \"files\": [tru").unwrap();
    env.write("kept", b"user data");
    let share = env.start();
    wait_for("the publish", || {
        share.shared() == vec![entry("kept", b"user data")]
    })
    .await;
    assert_eq!(fs::read(env.share.join("kept")).unwrap(), b"user data");
    assert!(env.manifest.with_file_name("share.json.corrupt").exists());
    wait_for("a new manifest", || {
        manifest::load(&env.manifest).is_ok() && saved(&env.manifest).len() == 1
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_does_not_wait_for_a_running_publish_and_undoes_it() {
    let env = env();
    let (entered_tx, entered_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    env.fake.set_hook(move |_| {
        let _ = entered_tx.send(());
        let _ = release_rx.recv_timeout(WAIT);
    });
    let share = env.start();
    env.write("big", b"a big file");
    tokio::task::spawn_blocking(move || entered_rx.recv_timeout(WAIT))
        .await
        .unwrap()
        .unwrap();
    share.shutdown();
    tokio::time::timeout(Duration::from_secs(5), share.stopped())
        .await
        .expect("the watcher stops while the publish still runs");
    release_tx.send(()).unwrap();
    let sd = SdHash::digest(b"a big file");
    wait_for("the abandoned publish undone", || {
        env.fake.calls().last() == Some(&Call::Unpublish(sd))
    })
    .await;
    assert!(saved(&env.manifest).is_empty());
}

#[test]
fn start_needs_a_runtime() {
    let env = env();
    let e = start(env.config(RESCAN), env.fake.clone()).err().unwrap();
    assert!(matches!(e, ShareError::NoRuntime), "{e}");
}

#[path = "tests_pause.rs"]
mod pause;
