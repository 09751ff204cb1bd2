use super::*;

fn root() -> (tempfile::TempDir, TreeRoot) {
    let dir = tempfile::tempdir().unwrap();
    let root = TreeRoot::open(&dir.path().join("out")).unwrap();
    (dir, root)
}

#[test]
fn files_appear_whole_in_created_folders() {
    let (dir, root) = root();
    let (d, name) = root.parent("a/b/c.txt").unwrap();
    assert_eq!(name, "c.txt");
    assert!(matches!(d.existing(&name).unwrap(), Existing::Absent));
    let mut f = d.create(&name).unwrap();
    f.write(b"hello").unwrap();
    assert!(
        !dir.path().join("out/a/b/c.txt").exists(),
        "not before finish"
    );
    let digest = crate::sha384::Sha384::digest(b"hello");
    assert_eq!(f.finish(5, Some(digest)).unwrap(), 5);
    assert_eq!(
        std::fs::read(dir.path().join("out/a/b/c.txt")).unwrap(),
        b"hello"
    );
    match d.existing(&name).unwrap() {
        Existing::File { size, sha384 } => assert_eq!((size, sha384), (5, digest)),
        Existing::Absent => panic!("written"),
    }
    let names: Vec<_> = std::fs::read_dir(dir.path().join("out/a/b"))
        .unwrap()
        .collect();
    assert_eq!(names.len(), 1, "no part file left");
}

#[test]
fn wrong_size_or_digest_leaves_nothing() {
    let (dir, root) = root();
    let (d, name) = root.parent("x").unwrap();
    let mut f = d.create(&name).unwrap();
    f.write(b"abc").unwrap();
    assert!(matches!(f.finish(4, None), Err(TreeError::Size { .. })));
    let mut f = d.create(&name).unwrap();
    f.write(b"abc").unwrap();
    assert!(matches!(
        f.finish(3, Some([0; 48])),
        Err(TreeError::Digest { .. })
    ));
    assert_eq!(
        std::fs::read_dir(dir.path().join("out")).unwrap().count(),
        0
    );
}

#[test]
fn symlinks_inside_are_refused_by_path() {
    let (dir, root) = root();
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, dir.path().join("out/sub")).unwrap();
    std::os::unix::fs::symlink(outside.join("f"), dir.path().join("out/f")).unwrap();
    let err = root.parent("sub/x").err().expect("refused");
    assert!(
        matches!(&err, TreeError::Symlink { path } if path.ends_with("out/sub")),
        "{err}"
    );
    let (d, name) = root.parent("f").unwrap();
    let err = d.existing(&name).err().expect("refused");
    assert!(err.to_string().contains("out/f"), "{err}");
    assert!(matches!(d.create(&name).map(|_| ()), Ok(())));
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
}

#[test]
fn a_file_where_a_folder_belongs_is_refused() {
    let (dir, root) = root();
    std::fs::write(dir.path().join("out/a"), b"").unwrap();
    let err = root.parent("a/b").err().expect("refused");
    assert!(err.to_string().contains("out/a"), "{err}");
}
