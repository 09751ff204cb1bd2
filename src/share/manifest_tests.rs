use super::*;

fn rec(path: PathBuf, n: u8) -> Record {
    Record {
        path,
        stamp: FileStamp {
            size: 1 << 40,
            mtime_s: -5,
            mtime_ns: 999_999_999,
            ino: u64::MAX,
        },
        digest: (n % 2 == 0).then_some([n; 48]),
        sd: SdHash::from_bytes([n; 48]),
    }
}

fn one(dir: &str, records: Vec<Record>) -> Manifest {
    Manifest {
        folders: vec![Folder {
            dir: Some(dir.into()),
            dev: Some(66),
            records,
        }],
    }
}

#[test]
fn round_trips_folders_including_non_utf8_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data/share.json");
    let odd = PathBuf::from(OsStr::from_bytes(b"sub/caf\xe9.txt"));
    let odd_dir = PathBuf::from(OsStr::from_bytes(b"/media/d\xefsk"));
    let mut m = one(
        "/home/me/share",
        vec![rec("a b/ü.mkv".into(), 1), rec(odd, 2)],
    );
    m.folders.push(Folder {
        dir: Some(odd_dir.clone()),
        dev: None,
        records: vec![rec("x".into(), 3)],
    });
    m.folders.push(Folder {
        dir: None,
        dev: None,
        records: vec![rec("old".into(), 4)],
    });
    save(&path, &m).unwrap();
    assert_eq!(load(&path).unwrap(), m);
    assert!(
        !crate::atomic_file::temp_path(&path).exists(),
        "the temporary file is renamed away"
    );
    // Saving a folder again keeps the others, and drops empty ones.
    assert_eq!(m.dev(Path::new("/home/me/share")), Some(66));
    let saved = m.with(Path::new("/home/me/share"), None, Vec::new());
    save(&path, &saved).unwrap();
    let back = load(&path).unwrap();
    assert_eq!(back.folders.len(), 2);
    assert_eq!(back.get(&odd_dir).unwrap(), &[rec("x".into(), 3)][..]);
    assert_eq!(back.get(Path::new("/home/me/share")), None);
}

#[test]
fn take_gives_one_folders_files_and_leaves_the_rest() {
    let mut m = one("/a", vec![rec("f".into(), 1)]);
    m.folders.push(Folder {
        dir: Some("/b".into()),
        dev: None,
        records: vec![rec("g".into(), 2)],
    });
    assert_eq!(m.take(Path::new("/c")), vec![]);
    assert_eq!(m.take(Path::new("/a")), vec![rec("f".into(), 1)]);
    assert_eq!(m.folders.len(), 1);
    assert_eq!(m.take_unnamed(), vec![]);
}

#[test]
fn a_version_1_manifest_is_read_as_one_unnamed_folder_without_digests() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("share.json");
    let sd = SdHash::from_bytes([3; 48]).to_hex();
    let text = format!(
        r#"{{"version":1,"files":[
          {{"path":"a","size":1,"mtime_s":2,"mtime_ns":3,"ino":4,"sd_hash":"{sd}"}}]}}"#
    );
    std::fs::write(&path, text).unwrap();
    let mut m = load(&path).unwrap();
    assert_eq!(m.folders.len(), 1);
    assert_eq!(m.folders[0].dir, None);
    let r = m.take_unnamed();
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].digest, r[0].stamp.ino), (None, 4));
}

#[test]
fn a_missing_manifest_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let m = load(&dir.path().join("share.json")).unwrap();
    assert_eq!(m, Manifest::default());
}

#[test]
fn corrupt_and_future_manifests_are_reported_and_can_be_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("share.json");
    std::fs::write(&path, b"{\"version\":2,\"folders\":[{\"di").unwrap();
    let e = load(&path).unwrap_err();
    assert!(e.is_corrupt(), "{e}");
    assert!(e.to_string().contains("corrupt"), "{e}");
    let aside = set_aside(&path).unwrap();
    assert!(aside.ends_with("share.json.corrupt") && aside.exists() && !path.exists());

    std::fs::write(&path, b"{\"version\":9,\"folders\":[]}").unwrap();
    assert!(matches!(
        load(&path),
        Err(ManifestError::Version { found: 9, .. })
    ));
}

#[test]
fn bad_entries_are_skipped_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("share.json");
    let good = SdHash::from_bytes([3; 48]).to_hex();
    let text = format!(
        r#"{{"version":2,"folders":[{{"dir":"/s","files":[
          {{"path":"ok","size":1,"mtime_s":2,"mtime_ns":3,"ino":4,"sd_hash":"{good}"}},
          {{"path":"bad-hash","size":1,"mtime_s":2,"mtime_ns":3,"ino":4,"sd_hash":"xyz"}},
          {{"path":"bad-digest","size":1,"mtime_s":2,"mtime_ns":3,"ino":4,"sha384":"ab","sd_hash":"{good}"}},
          {{"path":"../escape","size":1,"mtime_s":2,"mtime_ns":3,"ino":4,"sd_hash":"{good}"}},
          {{"size":1,"mtime_s":2,"mtime_ns":3,"ino":4,"sd_hash":"{good}"}}
        ]}}, {{"dir":"relative","files":[]}}]}}"#
    );
    std::fs::write(&path, text).unwrap();
    let got = load(&path).unwrap();
    assert_eq!(got.folders.len(), 1, "the relative folder is skipped");
    let files = got.get(Path::new("/s")).unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].path, PathBuf::from("ok"));
}

#[test]
fn an_unreadable_manifest_is_an_io_error_not_corruption() {
    let dir = tempfile::tempdir().unwrap();
    // A folder where the file should be: reading it fails.
    let e = load(dir.path()).unwrap_err();
    assert!(!e.is_corrupt(), "{e}");
}
