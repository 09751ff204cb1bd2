use super::*;
use crate::share::scan::is_ignored_name;
use std::ffi::OsStr;

pub(super) const DEBOUNCE: Duration = Duration::from_secs(2);
const RETRY: Duration = Duration::from_secs(60);

pub(super) fn timing() -> Timing {
    Timing {
        debounce: DEBOUNCE,
        retry: RETRY,
    }
}

pub(super) fn stamp(size: u64, mtime_s: i64) -> FileStamp {
    FileStamp {
        size,
        mtime_s,
        mtime_ns: 0,
        ino: 7,
    }
}

pub(super) fn sd(n: u8) -> SdHash {
    SdHash::from_bytes([n; 48])
}

pub(super) fn scan(files: &[(&str, FileStamp)]) -> Scan {
    Scan {
        files: files.iter().map(|(p, s)| (PathBuf::from(p), *s)).collect(),
        unreadable: Vec::new(),
    }
}

pub(super) fn publish(path: &str, s: FileStamp) -> Action {
    Action::Publish {
        path: PathBuf::from(path),
        stamp: s,
    }
}

/// The digest of content number `n`.
pub(super) fn dg(n: u8) -> Digest {
    [n; 48]
}

/// Published as `sd`, from content `sd`'s number (so equal sd, equal content).
pub(super) fn ok(sd: SdHash, after: FileStamp) -> Outcome {
    Outcome::Published {
        sd,
        digest: dg(sd.as_bytes()[0]),
        after: Some(after),
    }
}

/// A state that has published `a` as `sd(1)` from `stamp(10, 1)`, at `t0 + DEBOUNCE`.
pub(super) fn with_a_published(t0: Instant) -> ShareState {
    let mut st = ShareState::new(timing());
    let a = stamp(10, 1);
    st.observe(t0, &scan(&[("a", a)]));
    st.observe(t0 + DEBOUNCE, &scan(&[("a", a)]));
    st.job_done(t0 + DEBOUNCE, Path::new("a"), ok(sd(1), a));
    st
}

#[test]
fn a_new_file_is_published_once_stable_for_the_debounce_time() {
    let t0 = Instant::now();
    let mut st = ShareState::new(timing());
    let a = stamp(10, 1);
    assert_eq!(st.observe(t0, &scan(&[("a", a)])), vec![]);
    assert_eq!(st.next_deadline(), Some(t0 + DEBOUNCE));
    let early = t0 + DEBOUNCE - Duration::from_millis(1);
    assert_eq!(st.observe(early, &scan(&[("a", a)])), vec![]);
    assert_eq!(
        st.observe(t0 + DEBOUNCE, &scan(&[("a", a)])),
        vec![publish("a", a)]
    );
    assert_eq!(st.in_flight(), Some(Path::new("a")));
    assert_eq!(
        st.next_deadline(),
        None,
        "the publish's end brings the next scan"
    );

    let done = st.job_done(t0 + DEBOUNCE, Path::new("a"), ok(sd(1), a));
    assert_eq!(done, vec![Action::WriteManifest]);
    assert_eq!(st.shared(), vec![(PathBuf::from("a"), sd(1))]);
    assert_eq!(
        st.records(),
        vec![Record {
            path: "a".into(),
            stamp: a,
            digest: Some(dg(1)),
            sd: sd(1)
        }]
    );
    // Seen again unchanged: nothing more to do.
    assert_eq!(st.observe(t0 + 10 * DEBOUNCE, &scan(&[("a", a)])), vec![]);
    assert_eq!(st.next_deadline(), None);
}

#[test]
fn a_growing_file_restarts_the_debounce_clock() {
    let t0 = Instant::now();
    let mut st = ShareState::new(timing());
    let step = Duration::from_secs(1);
    // Grows every second for five seconds: never stable for two.
    for i in 0..5u32 {
        let s = stamp(u64::from(i) * 100, i64::from(i));
        assert_eq!(st.observe(t0 + step * i, &scan(&[("big", s)])), vec![]);
    }
    let last = stamp(400, 4);
    assert_eq!(st.next_deadline(), Some(t0 + step * 4 + DEBOUNCE));
    assert_eq!(
        st.observe(t0 + step * 4 + DEBOUNCE, &scan(&[("big", last)])),
        vec![publish("big", last)]
    );
}

#[test]
fn a_file_not_seen_by_the_deciding_scan_is_not_published() {
    let t0 = Instant::now();
    let mut st = ShareState::new(timing());
    let a = stamp(10, 1);
    st.observe(t0, &scan(&[("d/a", a)]));
    // The folder cannot be listed now: `d/a` is neither gone nor confirmed.
    let blind = Scan {
        files: BTreeMap::new(),
        unreadable: vec![PathBuf::from("d")],
    };
    assert_eq!(st.observe(t0 + DEBOUNCE, &blind), vec![]);
    assert_eq!(
        st.observe(t0 + DEBOUNCE, &scan(&[("d/a", a)])),
        vec![publish("d/a", a)]
    );
}

#[test]
fn only_one_publish_runs_at_a_time_in_path_order() {
    let t0 = Instant::now();
    let mut st = ShareState::new(timing());
    let (a, b) = (stamp(1, 1), stamp(2, 2));
    let both = scan(&[("b", b), ("a", a)]);
    st.observe(t0, &both);
    assert_eq!(st.observe(t0 + DEBOUNCE, &both), vec![publish("a", a)]);
    assert_eq!(st.observe(t0 + 2 * DEBOUNCE, &both), vec![]);
    st.job_done(t0 + 2 * DEBOUNCE, Path::new("a"), ok(sd(1), a));
    assert_eq!(st.observe(t0 + 2 * DEBOUNCE, &both), vec![publish("b", b)]);
}

#[test]
fn a_modified_file_is_republished_and_its_old_stream_unpublished() {
    let t0 = Instant::now();
    let mut st = with_a_published(t0);
    let t1 = t0 + 5 * DEBOUNCE;
    let a2 = stamp(20, 2);
    assert_eq!(st.observe(t1, &scan(&[("a", a2)])), vec![]);
    // The old stream stays shared until the new one is ready.
    assert_eq!(st.shared(), vec![(PathBuf::from("a"), sd(1))]);
    assert_eq!(
        st.observe(t1 + DEBOUNCE, &scan(&[("a", a2)])),
        vec![publish("a", a2)]
    );
    let done = st.job_done(t1 + DEBOUNCE, Path::new("a"), ok(sd(2), a2));
    assert_eq!(done, vec![Action::Unpublish(sd(1)), Action::WriteManifest]);
    assert_eq!(st.shared(), vec![(PathBuf::from("a"), sd(2))]);
}

#[test]
fn a_deleted_file_is_unpublished_and_leaves_the_manifest() {
    let t0 = Instant::now();
    let mut st = with_a_published(t0);
    let done = st.observe(t0 + 5 * DEBOUNCE, &scan(&[]));
    assert_eq!(done, vec![Action::Unpublish(sd(1)), Action::WriteManifest]);
    assert!(st.shared().is_empty());
    assert!(st.records().is_empty());
}

#[test]
fn a_file_deleted_before_it_settled_is_forgotten_quietly() {
    let t0 = Instant::now();
    let mut st = ShareState::new(timing());
    st.observe(t0, &scan(&[("a", stamp(1, 1))]));
    assert_eq!(st.observe(t0 + DEBOUNCE, &scan(&[])), vec![]);
    assert_eq!(st.next_deadline(), None);
}

#[test]
fn files_under_an_unreadable_folder_are_kept() {
    let t0 = Instant::now();
    let mut st = with_a_published(t0);
    let blind = Scan {
        files: BTreeMap::new(),
        unreadable: vec![PathBuf::new()],
    };
    assert_eq!(st.observe(t0 + 5 * DEBOUNCE, &blind), vec![]);
    assert_eq!(st.shared().len(), 1);
}

#[test]
fn a_file_changed_during_its_publish_is_unpublished_and_settles_again() {
    let t0 = Instant::now();
    let mut st = ShareState::new(timing());
    let half = stamp(50, 1);
    st.observe(t0, &scan(&[("a", half)]));
    assert_eq!(
        st.observe(t0 + DEBOUNCE, &scan(&[("a", half)])),
        vec![publish("a", half)]
    );
    let full = stamp(100, 2);
    let t1 = t0 + 2 * DEBOUNCE;
    // Scans while it runs leave it alone.
    assert_eq!(st.observe(t1, &scan(&[("a", full)])), vec![]);
    let done = st.job_done(t1, Path::new("a"), ok(sd(1), full));
    assert_eq!(done, vec![Action::Unpublish(sd(1))]);
    assert!(st.shared().is_empty());
    assert_eq!(st.next_deadline(), Some(t1 + DEBOUNCE));
    assert_eq!(
        st.observe(t1 + DEBOUNCE, &scan(&[("a", full)])),
        vec![publish("a", full)]
    );
    let done = st.job_done(t1 + DEBOUNCE, Path::new("a"), ok(sd(2), full));
    assert_eq!(done, vec![Action::WriteManifest]);
    assert_eq!(st.shared(), vec![(PathBuf::from("a"), sd(2))]);
}

#[test]
fn a_file_that_vanished_during_its_publish_is_unpublished() {
    let t0 = Instant::now();
    let mut st = with_a_published(t0);
    let a2 = stamp(20, 2);
    let t1 = t0 + 5 * DEBOUNCE;
    st.observe(t1, &scan(&[("a", a2)]));
    st.observe(t1 + DEBOUNCE, &scan(&[("a", a2)]));
    // Deleted while publishing: the scan does not touch it yet.
    assert_eq!(st.observe(t1 + DEBOUNCE, &scan(&[])), vec![]);
    let gone = Outcome::Published {
        sd: sd(2),
        digest: dg(2),
        after: None,
    };
    assert_eq!(
        st.job_done(t1 + DEBOUNCE, Path::new("a"), gone),
        vec![Action::Unpublish(sd(2))]
    );
    // The next scan finds it gone and drops the old stream too.
    assert_eq!(
        st.observe(t1 + 2 * DEBOUNCE, &scan(&[])),
        vec![Action::Unpublish(sd(1)), Action::WriteManifest]
    );
}

#[test]
fn a_failed_publish_is_retried_after_the_retry_time_or_on_change() {
    let t0 = Instant::now();
    let mut st = ShareState::new(timing());
    let a = stamp(10, 1);
    st.observe(t0, &scan(&[("a", a)]));
    st.observe(t0 + DEBOUNCE, &scan(&[("a", a)]));
    let t1 = t0 + DEBOUNCE;
    assert_eq!(st.job_done(t1, Path::new("a"), Outcome::Failed), vec![]);
    assert_eq!(st.next_deadline(), Some(t1 + RETRY));
    assert_eq!(st.observe(t1 + DEBOUNCE, &scan(&[("a", a)])), vec![]);
    assert_eq!(
        st.observe(t1 + RETRY, &scan(&[("a", a)])),
        vec![publish("a", a)]
    );
    st.job_done(t1 + RETRY, Path::new("a"), Outcome::Failed);

    // A change is settled and published without waiting for the retry time.
    let t2 = t1 + RETRY;
    let a2 = stamp(11, 2);
    st.observe(t2, &scan(&[("a", a2)]));
    assert_eq!(
        st.observe(t2 + DEBOUNCE, &scan(&[("a", a2)])),
        vec![publish("a", a2)]
    );
}

#[test]
fn restart_keeps_live_streams_and_republishes_lost_ones() {
    let t0 = Instant::now();
    let (a, b, c, d) = (stamp(1, 1), stamp(2, 2), stamp(3, 3), stamp(4, 4));
    let records = vec![
        Record {
            path: "a".into(),
            stamp: a,
            digest: Some(dg(1)),
            sd: sd(1),
        },
        Record {
            path: "b".into(),
            stamp: b,
            digest: Some(dg(2)),
            sd: sd(2),
        },
        Record {
            path: "c".into(),
            stamp: c,
            digest: Some(dg(3)),
            sd: sd(3),
        },
        Record {
            path: "d".into(),
            stamp: d,
            digest: Some(dg(4)),
            sd: sd(4),
        },
    ];
    // b's stream is no longer pinned.
    let mut st = ShareState::restore(timing(), records, |s| *s != sd(2));
    assert_eq!(st.shared().len(), 3);
    let c2 = stamp(33, 3);
    // a unchanged, b lost, c modified while the node was down, d deleted.
    let now = scan(&[("a", a), ("b", b), ("c", c2)]);
    assert_eq!(
        st.observe(t0, &now),
        vec![Action::Unpublish(sd(4)), Action::WriteManifest]
    );
    assert_eq!(st.observe(t0 + DEBOUNCE, &now), vec![publish("b", b)]);
    assert_eq!(
        st.job_done(t0 + DEBOUNCE, Path::new("b"), ok(sd(5), b)),
        vec![Action::WriteManifest]
    );
    assert_eq!(st.observe(t0 + DEBOUNCE, &now), vec![publish("c", c2)]);
    assert_eq!(
        st.job_done(t0 + DEBOUNCE, Path::new("c"), ok(sd(6), c2)),
        vec![Action::Unpublish(sd(3)), Action::WriteManifest]
    );
    let paths: Vec<_> = st.records().into_iter().map(|r| (r.path, r.sd)).collect();
    assert_eq!(
        paths,
        vec![
            ("a".into(), sd(1)),
            ("b".into(), sd(5)),
            ("c".into(), sd(6))
        ]
    );
}

#[test]
fn restore_drops_records_that_are_not_shareable_paths() {
    let t0 = Instant::now();
    let records = vec![
        Record {
            path: "../etc/passwd".into(),
            stamp: stamp(1, 1),
            digest: Some(dg(1)),
            sd: sd(1),
        },
        Record {
            path: ".hidden".into(),
            stamp: stamp(1, 1),
            digest: Some(dg(2)),
            sd: sd(2),
        },
        Record {
            path: "ok".into(),
            stamp: stamp(1, 1),
            digest: Some(dg(3)),
            sd: sd(3),
        },
    ];
    let mut st = ShareState::restore(timing(), records, |_| true);
    assert_eq!(st.shared(), vec![(PathBuf::from("ok"), sd(3))]);
    // The manifest is rewritten without them at the first scan.
    assert_eq!(
        st.observe(t0, &scan(&[("ok", stamp(1, 1))])),
        vec![Action::WriteManifest]
    );
}

#[test]
fn a_stream_held_by_another_file_is_not_unpublished() {
    let t0 = Instant::now();
    let records = vec![
        Record {
            path: "a".into(),
            stamp: stamp(1, 1),
            digest: Some(dg(1)),
            sd: sd(1),
        },
        Record {
            path: "copy-of-a".into(),
            stamp: stamp(1, 2),
            digest: Some(dg(1)),
            sd: sd(1),
        },
    ];
    let mut st = ShareState::restore(timing(), records, |_| true);
    let done = st.observe(t0, &scan(&[("copy-of-a", stamp(1, 2))]));
    assert_eq!(done, vec![Action::WriteManifest]);
    let done = st.observe(t0, &scan(&[]));
    assert_eq!(done, vec![Action::Unpublish(sd(1)), Action::WriteManifest]);
}

#[test]
fn ignore_rules() {
    for name in [
        ".hidden",
        ".",
        "film.mkv.part",
        "notes.txt~",
        "~",
        ".x.part",
    ] {
        assert!(is_ignored_name(OsStr::new(name)), "{name}");
    }
    for name in ["film.mkv", "a.partial", "part", "x~y", "a.b"] {
        assert!(!is_ignored_name(OsStr::new(name)), "{name}");
    }
    for path in [
        ".git/config",
        "a/.cache/b",
        "dl/x.part/y",
        "",
        "/abs",
        "../up",
        "a/../b",
    ] {
        assert!(is_ignored_path(Path::new(path)), "{path}");
    }
    for path in ["a", "sub/dir/file.txt"] {
        assert!(!is_ignored_path(Path::new(path)), "{path}");
    }
}

#[test]
fn ignored_paths_in_a_scan_are_never_published() {
    let t0 = Instant::now();
    let mut st = ShareState::new(timing());
    let s = stamp(1, 1);
    let seen = scan(&[(".a", s), ("b.part", s), ("c~", s), (".d/e", s)]);
    st.observe(t0, &seen);
    assert_eq!(st.observe(t0 + DEBOUNCE, &seen), vec![]);
    assert_eq!(st.next_deadline(), None);
}

#[test]
fn an_unexpected_publish_result_is_unpublished() {
    let t0 = Instant::now();
    let mut st = ShareState::new(timing());
    let done = st.job_done(t0, Path::new("x"), ok(sd(9), stamp(1, 1)));
    assert_eq!(done, vec![Action::Unpublish(sd(9))]);
}
