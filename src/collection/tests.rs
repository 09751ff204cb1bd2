use super::*;

fn sd(n: u8) -> SdHash {
    SdHash::digest(&[n])
}

fn doc(paths: &[&str]) -> Vec<u8> {
    let entries: Vec<String> = paths
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!(
                r#"{{"path":{},"sd_hash":"{}","size":{i}}}"#,
                serde_json::to_string(p).unwrap(),
                sd(i as u8).to_hex()
            )
        })
        .collect();
    format!(
        r#"{{"lbrymount_collection":1,"entries":[{}]}}"#,
        entries.join(",")
    )
    .into_bytes()
}

#[test]
fn canonical_bytes_round_trip_and_do_not_depend_on_order() {
    let a = Collection::parse(&doc(&["b/c.txt", "a.txt", "b/a"])).unwrap();
    let b = Collection::parse(&doc(&["a.txt", "b/a", "b/c.txt"])).unwrap();
    let paths: Vec<&str> = a.entries().iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["a.txt", "b/a", "b/c.txt"]);
    assert_eq!(Collection::parse(&a.to_bytes()).unwrap(), a);
    // Same entries (sizes and hashes differ by original position here, so
    // compare a collection with itself rebuilt in another order).
    let mut shuffled = a.entries().to_vec();
    shuffled.reverse();
    assert_eq!(Collection::new(shuffled).unwrap().to_bytes(), a.to_bytes());
    assert!(a.to_bytes().starts_with(b"{\"lbrymount_collection\":1,"));
    assert_ne!(a, b);
}

#[test]
fn sha384_is_optional_and_checked() {
    let e = Entry {
        path: "x".into(),
        sd: sd(1),
        size: 3,
        sha384: Some([7; 48]),
    };
    let c = Collection::new(vec![e.clone()]).unwrap();
    assert_eq!(Collection::parse(&c.to_bytes()).unwrap().entries(), [e]);
    let bad = doc(&["x"]);
    let bad = String::from_utf8(bad)
        .unwrap()
        .replace(r#""size":0"#, r#""size":0,"sha384":"zz""#);
    assert!(matches!(
        Collection::parse(bad.as_bytes()),
        Err(CollectionError::BadField {
            field: "sha384",
            ..
        })
    ));
}

#[test]
fn hostile_paths_are_refused_by_name() {
    for (p, why) in [
        ("../etc/passwd", "`..`"),
        ("a/../../x", "`..`"),
        ("/etc/passwd", "absolute"),
        ("a//b", "empty component"),
        ("a/", "empty component"),
        ("./a", "`.`"),
        ("", "empty"),
        ("a\0b", "NUL"),
    ] {
        let err = Collection::parse(&doc(&[p])).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(why), "{p:?}: {msg}");
        assert!(matches!(err, CollectionError::BadPath { .. }), "{p:?}");
    }
    let long = "x".repeat(256);
    assert!(Collection::parse(&doc(&[&long])).is_err());
}

#[test]
fn duplicates_and_file_folder_clashes_are_refused() {
    assert_eq!(
        Collection::parse(&doc(&["a/b", "a/b"])),
        Err(CollectionError::Duplicate("a/b".into()))
    );
    assert_eq!(
        Collection::parse(&doc(&["a/b/c", "a/b", "a b"])),
        Err(CollectionError::FileAndFolder("a/b".into()))
    );
    assert_eq!(
        Collection::parse(&doc(&["a", "a!", "a/x"])),
        Err(CollectionError::FileAndFolder("a".into()))
    );
}

#[test]
fn bounds_versions_and_strangers_are_refused() {
    let huge = vec![b' '; MAX_BYTES + 1];
    assert_eq!(
        Collection::parse(&huge),
        Err(CollectionError::TooBig(MAX_BYTES + 1))
    );
    let many: Vec<String> = (0..=MAX_ENTRIES).map(|i| format!("f{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert_eq!(
        Collection::parse(&doc(&many)),
        Err(CollectionError::TooManyEntries(MAX_ENTRIES + 1))
    );
    let v2 = br#"{"lbrymount_collection":2,"entries":[]}"#;
    assert_eq!(Collection::parse(v2), Err(CollectionError::Version(2)));
    for junk in [
        &b"hello"[..],
        b"{\"entries\":[],\"lbrymount_collection\":1}",
        b"",
        b"\xff",
    ] {
        assert!(matches!(
            Collection::parse(junk),
            Err(CollectionError::NotJson(_))
        ));
    }
    let extra = br#"{"lbrymount_collection":1,"entries":[],"more":1}"#;
    assert!(Collection::parse(extra).is_err());
    assert_eq!(
        Collection::parse(br#" { "lbrymount_collection" : 1, "entries" : [] }"#),
        Ok(Collection::default())
    );
}

#[test]
fn names_and_keys() {
    assert!(is_collection_name(b"photos.lbrycollection"));
    assert!(!is_collection_name(b".lbrycollection"));
    assert!(!is_collection_name(b"photos.txt"));
    assert_eq!(stream_key(b"a"), stream_key(b"a"));
    assert_ne!(stream_key(b"a"), stream_key(b"b"));
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
        let _ = Collection::parse(&bytes);
        let mut with_magic = b"{\"lbrymount_collection\":1,".to_vec();
        with_magic.extend_from_slice(&bytes);
        let _ = Collection::parse(&with_magic);
    }
}
