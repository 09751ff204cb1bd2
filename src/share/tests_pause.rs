//! The share folder going away (at start, or while watched) and coming back:
//! nothing is unpublished, sharing pauses and resumes.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_gone_while_watched_pauses_sharing_and_unpublishes_nothing() {
    let env = env();
    let poll = Watch::Poll(Duration::from_millis(100));
    let share = start_with(env.config(RESCAN), env.fake.clone(), poll).unwrap();
    let a = entry("a", b"alpha");
    env.write("a", b"alpha");
    wait_for("the publish", || share.shared() == vec![a.clone()]).await;
    let away = env.share.with_file_name("away");
    fs::rename(&env.share, &away).unwrap();
    wait_for("the pause", || share.paused().is_some()).await;
    let why = share.paused().unwrap();
    assert!(why.contains("its 1 files stay published"), "{why}");
    fs::rename(&away, &env.share).unwrap();
    wait_for("the resume", || share.paused().is_none()).await;
    env.write("b", b"beta");
    let b = entry("b", b"beta");
    wait_for("b's publish", || {
        share.shared() == vec![a.clone(), b.clone()]
    })
    .await;
    assert!(
        !env.fake
            .calls()
            .iter()
            .any(|c| matches!(c, Call::Unpublish(_))),
        "{:?}",
        env.fake.calls()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_folder_with_entries_is_waited_for_not_created() {
    let (env, a) = published_a_then_stopped().await;
    let away = env.share.with_file_name("away");
    fs::rename(&env.share, &away).unwrap();
    let poll = Watch::Poll(Duration::from_millis(100));
    let share = start_with(env.config(RESCAN), env.fake.clone(), poll).unwrap();
    assert!(share.paused().is_some());
    assert_eq!(share.shared(), vec![a.clone()]);
    settle().await;
    assert!(!env.share.exists(), "not created");
    fs::rename(&away, &env.share).unwrap();
    wait_for("the resume", || share.paused().is_none()).await;
    settle().await;
    assert_eq!(share.shared(), vec![a.clone()]);
    assert_eq!(env.fake.publishes(), 1);
    assert_nothing_unpublished(&env);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_folder_on_another_device_than_recorded_unpublishes_nothing() {
    let (env, a) = published_a_then_stopped().await;
    // As if the files were on a disk now unmounted: the manifest names
    // another device, and the folder left is empty.
    let text = fs::read_to_string(&env.manifest).unwrap();
    let dev = folder::device(&env.share).unwrap();
    let moved = text.replace(&format!("\"dev\": {dev}"), &format!("\"dev\": {}", dev + 1));
    assert_ne!(moved, text, "the manifest records the device: {text}");
    fs::write(&env.manifest, moved).unwrap();
    fs::remove_file(env.share.join("a")).unwrap();
    let poll = Watch::Poll(Duration::from_millis(100));
    let share = start_with(env.config(RESCAN), env.fake.clone(), poll).unwrap();
    wait_for("the pause", || share.paused().is_some()).await;
    settle().await;
    assert_eq!(share.shared(), vec![a.clone()]);
    // The disk is back with its file: sharing resumes, nothing published again.
    env.write("a", b"alpha");
    wait_for("the resume", || share.paused().is_none()).await;
    settle().await;
    assert_eq!(share.shared(), vec![a.clone()]);
    assert_eq!(env.fake.publishes(), 1);
    assert_nothing_unpublished(&env);
}

/// A folder where `a` was published by a share folder that then stopped.
async fn published_a_then_stopped() -> (Env, (PathBuf, SdHash)) {
    let env = env();
    let a = entry("a", b"alpha");
    let share = env.start();
    env.write("a", b"alpha");
    wait_for("the publish", || share.shared() == vec![a.clone()]).await;
    share.shutdown();
    tokio::time::timeout(WAIT, share.stopped()).await.unwrap();
    (env, a)
}

fn assert_nothing_unpublished(env: &Env) {
    let calls = env.fake.calls();
    assert!(
        !calls.iter().any(|c| matches!(c, Call::Unpublish(_))),
        "{calls:?}"
    );
}
