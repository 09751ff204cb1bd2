//! Unit tests of identifying files by content (see `state_identify`).

use super::super::tests::{dg, ok, publish, scan, sd, stamp, timing, with_a_published, DEBOUNCE};
use super::super::*;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn hash(path: &str, s: FileStamp) -> Action {
    Action::Hash {
        path: PathBuf::from(path),
        stamp: s,
    }
}

fn hashed(n: u8, after: FileStamp) -> Outcome {
    Outcome::Hashed {
        digest: dg(n),
        after: Some(after),
    }
}

fn kept(path: &str, n: u8) -> Action {
    Action::Kept {
        path: PathBuf::from(path),
        sd: sd(n),
    }
}

#[test]
fn a_touched_file_is_hashed_and_keeps_its_stream() {
    let t0 = Instant::now();
    let mut st = with_a_published(t0);
    let touched = stamp(10, 9);
    assert_eq!(
        st.observe(t0 + 5 * DEBOUNCE, &scan(&[("a", touched)])),
        vec![]
    );
    assert_eq!(
        st.observe(t0 + 6 * DEBOUNCE, &scan(&[("a", touched)])),
        vec![hash("a", touched)],
        "a known stream has its size: hashed, not published"
    );
    let done = st.job_done(t0 + 6 * DEBOUNCE, Path::new("a"), hashed(1, touched));
    assert_eq!(done, vec![kept("a", 1), Action::WriteManifest]);
    assert_eq!(
        st.records()[0].stamp,
        touched,
        "the new stamp is remembered"
    );
    assert_eq!(st.shared(), vec![(PathBuf::from("a"), sd(1))]);
    assert_eq!(
        st.observe(t0 + 9 * DEBOUNCE, &scan(&[("a", touched)])),
        vec![]
    );
}

#[test]
fn the_same_size_with_new_content_is_published_after_its_hash() {
    let t0 = Instant::now();
    let mut st = with_a_published(t0);
    let edited = stamp(10, 9);
    st.observe(t0 + 5 * DEBOUNCE, &scan(&[("a", edited)]));
    st.observe(t0 + 6 * DEBOUNCE, &scan(&[("a", edited)]));
    let t1 = t0 + 6 * DEBOUNCE;
    assert_eq!(
        st.job_done(t1, Path::new("a"), hashed(2, edited)),
        vec![publish("a", edited)]
    );
    assert_eq!(st.in_flight(), Some(Path::new("a")));
    let done = st.job_done(t1, Path::new("a"), ok(sd(2), edited));
    assert_eq!(done, vec![Action::Unpublish(sd(1)), Action::WriteManifest]);
    assert_eq!(st.records()[0].digest, Some(dg(2)));
}

#[test]
fn a_renamed_file_keeps_its_stream() {
    let t0 = Instant::now();
    let mut st = with_a_published(t0);
    let moved = stamp(10, 1);
    let t1 = t0 + 5 * DEBOUNCE;
    // `a` is gone, `sub/b` of its size appeared: `a`'s stream is held.
    assert_eq!(
        st.observe(t1, &scan(&[("sub/b", moved)])),
        vec![Action::WriteManifest]
    );
    assert_eq!(st.records().len(), 1, "the manifest still holds it");
    assert_eq!(
        st.observe(t1 + DEBOUNCE, &scan(&[("sub/b", moved)])),
        vec![hash("sub/b", moved)]
    );
    let done = st.job_done(t1 + DEBOUNCE, Path::new("sub/b"), hashed(1, moved));
    assert_eq!(done, vec![kept("sub/b", 1), Action::WriteManifest]);
    assert_eq!(st.shared(), vec![(PathBuf::from("sub/b"), sd(1))]);
    assert_eq!(st.records().len(), 1);
}

#[test]
fn a_deleted_file_is_held_only_while_a_file_of_its_size_is_unidentified() {
    let t0 = Instant::now();
    let mut st = with_a_published(t0);
    let other = stamp(10, 5);
    let t1 = t0 + 5 * DEBOUNCE;
    assert_eq!(
        st.observe(t1, &scan(&[("c", other)])),
        vec![Action::WriteManifest]
    );
    st.observe(t1 + DEBOUNCE, &scan(&[("c", other)]));
    // `c` is other content: it is published, and `a`'s stream goes.
    assert_eq!(
        st.job_done(t1 + DEBOUNCE, Path::new("c"), hashed(7, other)),
        vec![
            publish("c", other),
            Action::Unpublish(sd(1)),
            Action::WriteManifest
        ]
    );
    assert_eq!(st.records().len(), 0);
}

#[test]
fn a_version_1_record_is_hashed_at_once_and_keeps_its_stream() {
    let t0 = Instant::now();
    let (a, b) = (stamp(1, 1), stamp(2, 2));
    let v1 = |path: &str, s: FileStamp, n: u8| Record {
        path: path.into(),
        stamp: s,
        digest: None,
        sd: sd(n),
    };
    let records = vec![v1("a", a, 1), v1("b", b, 2)];
    let mut st = ShareState::restore(timing(), records, |_| true);
    let b2 = stamp(2, 9);
    let now = scan(&[("a", a), ("b", b2)]);
    // `a` is as published: hashed without waiting, and kept.
    assert_eq!(st.observe(t0, &now), vec![hash("a", a)]);
    assert_eq!(
        st.job_done(t0, Path::new("a"), hashed(1, a)),
        vec![kept("a", 1), Action::WriteManifest]
    );
    assert_eq!(st.records()[0].digest, Some(dg(1)));
    // `b` changed while the node was down: its old content is unknown, so
    // its new one is published.
    assert_eq!(st.observe(t0 + DEBOUNCE, &now), vec![hash("b", b2)]);
    assert_eq!(
        st.job_done(t0 + DEBOUNCE, Path::new("b"), hashed(5, b2)),
        vec![publish("b", b2)]
    );
}

#[test]
fn a_file_changed_while_hashed_settles_again() {
    let t0 = Instant::now();
    let mut st = with_a_published(t0);
    let (t1, touched, grown) = (t0 + 5 * DEBOUNCE, stamp(10, 9), stamp(99, 9));
    st.observe(t1, &scan(&[("a", touched)]));
    st.observe(t1 + DEBOUNCE, &scan(&[("a", touched)]));
    assert_eq!(
        st.job_done(t1 + DEBOUNCE, Path::new("a"), hashed(1, grown)),
        vec![]
    );
    assert_eq!(st.next_deadline(), Some(t1 + 2 * DEBOUNCE));
    assert_eq!(st.shared(), vec![(PathBuf::from("a"), sd(1))]);
}

#[test]
fn a_new_inode_with_the_same_size_and_mtime_is_the_same_version() {
    let t0 = Instant::now();
    let mut st = with_a_published(t0);
    let remounted = FileStamp {
        ino: 12345,
        ..stamp(10, 1)
    };
    assert_eq!(
        st.observe(t0 + 5 * DEBOUNCE, &scan(&[("a", remounted)])),
        vec![]
    );
    assert_eq!(st.next_deadline(), None, "nothing to hash or publish");
    assert_eq!(st.shared(), vec![(PathBuf::from("a"), sd(1))]);
}
