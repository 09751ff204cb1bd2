use super::*;
use crate::share::state::FileStamp;
use std::path::PathBuf;

fn sd(n: u8) -> SdHash {
    SdHash::digest(&[n])
}

fn rec(path: &str, n: u8) -> Record {
    Record {
        path: PathBuf::from(path),
        stamp: FileStamp {
            size: u64::from(n),
            mtime_s: 0,
            mtime_ns: 0,
            ino: 0,
        },
        digest: Some([n; 48]),
        sd: sd(n),
    }
}

#[test]
fn each_top_level_folder_is_one_collection_and_top_level_files_none() {
    let d = desired(&[
        rec("top.txt", 1),
        rec("a/x", 2),
        rec("a/b/y", 3),
        rec("c/z", 4),
    ]);
    assert_eq!(d.keys().collect::<Vec<_>>(), ["a", "c"]);
    let paths: Vec<&str> = d["a"].entries().iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["b/y", "x"]);
    assert_eq!(d["a"].entries()[1].sha384, Some([2; 48]));
}

#[test]
fn a_change_keeps_the_previous_collection_and_releases_the_one_before() {
    let mut c = Collections::default();
    let v1 = desired(&[rec("a/x", 1), rec("a/y", 2)]);
    assert_eq!(c.changes(&v1).len(), 1);
    assert!(c.published("a", sd(100), v1["a"].clone()).is_empty());
    assert!(c.changes(&v1).is_empty(), "unchanged: nothing to do");
    // y changed (stream 2 → 3): the old stream is still held.
    let v2 = desired(&[rec("a/x", 1), rec("a/y", 3)]);
    assert!(c.holds(&sd(2)));
    assert!(c.published("a", sd(101), v2["a"].clone()).is_empty());
    assert!(
        c.holds(&sd(2)) && c.holds(&sd(100)),
        "the previous stays whole"
    );
    // y changed again: the first collection and stream 2 may go.
    let v3 = desired(&[rec("a/x", 1), rec("a/y", 4)]);
    let gone = c.published("a", sd(102), v3["a"].clone());
    let mut want = vec![sd(100), sd(2)];
    want.sort_by_key(SdHash::to_hex);
    assert_eq!(gone, want);
    assert_eq!(c.current(), [("a".to_string(), sd(102))]);
}

#[test]
fn a_folder_without_files_retires_its_collections() {
    let mut c = Collections::default();
    let v1 = desired(&[rec("a/x", 1)]);
    c.published("a", sd(100), v1["a"].clone());
    let changes = c.changes(&BTreeMap::new());
    assert_eq!(changes, [Change::Retire { folder: "a".into() }]);
    let mut gone = c.retire("a");
    gone.sort_by_key(SdHash::to_hex);
    let mut want = vec![sd(100), sd(1)];
    want.sort_by_key(SdHash::to_hex);
    assert_eq!(gone, want);
}

#[test]
fn kept_collections_survive_a_restart_and_republish_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.json");
    let mut c = Collections::default();
    let v1 = desired(&[rec("a/x", 1)]);
    c.published("a", sd(100), v1["a"].clone());
    save(&file, &c).unwrap();
    let mut back = load(&file);
    assert!(back.holds(&sd(1)) && back.holds(&sd(100)));
    // After a restart the document is unknown: published again, same sd.
    assert_eq!(back.changes(&v1).len(), 1);
    assert!(back.published("a", sd(100), v1["a"].clone()).is_empty());
    assert!(back.folders["a"].previous.is_none());
}
