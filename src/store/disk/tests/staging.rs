//! Staged blobs (a publish in progress): protected, not persisted, discardable.

use super::*;

fn pin_file(dir: &Path) -> String {
    fs::read_to_string(dir.join("pinned")).unwrap_or_default()
}

#[test]
fn staged_blobs_are_protected_but_come_back_as_cache_after_a_crash() {
    let dir = TempDir::new().unwrap();
    let (a, b) = (blob(41, 2000), blob(42, 2000));
    {
        let s = DiskStore::open(dir.path(), 3000).unwrap();
        s.put(&a, Keep::Staged).unwrap();
        s.put(&b, Keep::Staged).unwrap();
        assert_eq!(s.stats().cached_bytes, 0, "outside the cap");
        for i in 0..5 {
            s.put(&blob(50 + i, 1500), Keep::Cache).unwrap();
        }
        assert!(
            s.contains(a.hash()) && s.contains(b.hash()),
            "never evicted"
        );
        assert_eq!(pin_file(dir.path()), "", "not persisted");
    }
    let s = DiskStore::open(dir.path(), 10_000).unwrap();
    let st = s.stats();
    assert_eq!((st.pinned_bytes, st.cached_bytes), (0, 7000));
    assert!(s.contains(a.hash()) && s.contains(b.hash()));
    s.put(&blob(60, 10_000), Keep::Cache).unwrap();
    assert!(
        !s.contains(a.hash()) && !s.contains(b.hash()),
        "ordinary cache, evictable"
    );
}

#[test]
fn pinning_staged_blobs_persists_them() {
    let dir = TempDir::new().unwrap();
    let a = blob(43, 2000);
    {
        let s = DiskStore::open(dir.path(), 1000).unwrap();
        s.put(&a, Keep::Staged).unwrap();
        s.pin(&[*a.hash()]).unwrap();
        assert_eq!(pin_file(dir.path()), format!("{}\n", a.hash()));
        s.discard(&[*a.hash()]);
        assert!(s.contains(a.hash()), "a pin for good is not discarded");
    }
    let s = DiskStore::open(dir.path(), 1000).unwrap();
    assert_eq!(s.stats().pinned_bytes, 2000);
}

#[test]
fn discard_removes_staged_blobs_only() {
    let dir = TempDir::new().unwrap();
    let s = DiskStore::open(dir.path(), 10_000).unwrap();
    let (staged, pinned, cached, absent) =
        (blob(44, 1000), blob(45, 2000), blob(46, 3000), blob(47, 10));
    s.put(&pinned, Keep::Pin).unwrap();
    s.put(&cached, Keep::Cache).unwrap();
    s.put(&staged, Keep::Staged).unwrap();
    s.put(&pinned, Keep::Staged).unwrap();
    s.discard(&[
        *staged.hash(),
        *pinned.hash(),
        *cached.hash(),
        *absent.hash(),
    ]);
    assert!(!s.contains(staged.hash()));
    assert!(s.contains(pinned.hash()) && s.contains(cached.hash()));
    let mut expected = vec![pinned.hash().to_hex(), cached.hash().to_hex()];
    expected.sort();
    assert_eq!(files_in(dir.path()), expected);
    let st = s.stats();
    assert_eq!((st.pinned_bytes, st.cached_bytes), (2000, 3000));
}
