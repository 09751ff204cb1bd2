//! Hostile collections published as ordinary streams: `..`, absolute
//! paths, duplicates, a file that is also a folder, too many entries, and a
//! symlink planted in the target directory. Each gives a clear error naming
//! the bad path, and nothing is written outside the target directory.

mod common;

use common::cli::{Node, ServeNode};
use std::fs;
use std::path::Path;

fn entry(path: &str, sd: &str, size: usize) -> String {
    format!(
        r#"{{"path":{},"sd_hash":"{sd}","size":{size}}}"#,
        serde_json::to_string(path).unwrap()
    )
}

fn publish_doc(node: &Node, entries: &[String]) -> String {
    let doc = format!(
        r#"{{"lbrymount_collection":1,"entries":[{}]}}"#,
        entries.join(",")
    );
    let path = node.path("evil.lbrycollection");
    fs::write(&path, doc).unwrap();
    node.publish(&path)
}

/// A node that published a 5-byte file, `owned`; its sd hash.
fn node_with_payload() -> (Node, String) {
    let a = Node::new();
    let payload = a.path("payload");
    fs::write(&payload, b"owned").unwrap();
    let sd = a.publish(&payload);
    (a, sd)
}

/// The arguments of a `get` of `sd` from `server` into `out`.
fn get_args(server: &ServeNode, sd: &str, out: &Path) -> Vec<String> {
    let out = out.to_str().unwrap();
    let peer = server.peer_arg();
    let args = [
        "get",
        sd,
        "--peer",
        &peer,
        "--no-bootstrap",
        "--timeout",
        "10",
        "-o",
        out,
    ];
    args.map(String::from).to_vec()
}

/// `get` of `sd` from `server` into `out`, which must fail; its stderr.
fn get_fails(server: &ServeNode, sd: &str, out: &Path) -> String {
    let args = get_args(server, sd, out);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Node::new().fails(&args, 1)
}

#[test]
fn hostile_paths_are_refused_before_anything_is_written() {
    let (a, sd) = node_with_payload();
    let many: Vec<String> = (0..100_001)
        .map(|i| entry(&format!("f{i}"), &sd, 5))
        .collect();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec![entry("../escaped", &sd, 5)], "\"../escaped\""),
        (vec![entry("a/../../escaped", &sd, 5)], "`..`"),
        (vec![entry("/tmp/escaped", &sd, 5)], "absolute"),
        (vec![entry("x", &sd, 5), entry("x", &sd, 5)], "\"x\" twice"),
        (
            vec![entry("d", &sd, 5), entry("d/e", &sd, 5)],
            "\"d\" is both a file and a folder",
        ),
        (many, "100001 entries"),
    ];
    let docs: Vec<(String, &str)> = cases
        .into_iter()
        .map(|(entries, why)| (publish_doc(&a, &entries), why))
        .collect();
    let server = ServeNode::start(&a);
    for (coll, why) in docs {
        let scratch = tempfile::tempdir().unwrap();
        let out = scratch.path().join("deep/out");
        let stderr = get_fails(&server, &coll, &out);
        assert!(
            stderr.contains("is refused") && stderr.contains(why),
            "{why}: {stderr}"
        );
        assert!(!out.exists(), "{why}: nothing created");
        assert_eq!(
            fs::read_dir(scratch.path()).unwrap().count(),
            0,
            "{why}: nothing written beside the target"
        );
    }
}

#[test]
fn a_symlink_planted_in_the_target_is_never_written_through() {
    let (a, sd) = node_with_payload();
    let coll = publish_doc(
        &a,
        &[
            entry("fine.txt", &sd, 5),
            entry("link/inside.txt", &sd, 5),
            entry("victim", &sd, 5),
        ],
    );
    let server = ServeNode::start(&a);
    let scratch = tempfile::tempdir().unwrap();
    let outside = scratch.path().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("victim"), b"keep me").unwrap();
    let out = scratch.path().join("out");
    fs::create_dir(&out).unwrap();
    std::os::unix::fs::symlink(&outside, out.join("link")).unwrap();
    std::os::unix::fs::symlink(outside.join("victim"), out.join("victim")).unwrap();
    let stderr = get_fails(&server, &coll, &out);
    for bad in ["out/link", "out/victim"] {
        assert!(
            stderr.contains(bad) && stderr.contains("symbolic link"),
            "the error names {bad}: {stderr}"
        );
    }
    assert!(stderr.contains("2 of 3 files"), "{stderr}");
    assert_eq!(fs::read(out.join("fine.txt")).unwrap(), b"owned");
    let left: Vec<_> = fs::read_dir(&outside).unwrap().collect();
    assert_eq!(left.len(), 1, "nothing new outside the target");
    assert_eq!(fs::read(outside.join("victim")).unwrap(), b"keep me");
}

/// A collection whose entries name collections, itself included in
/// spirit (each lists the other's kind): they are plain files of the tree,
/// never followed, so no chain of collections can make `get` recurse or
/// write anything but the listed paths.
#[test]
fn a_collection_listing_collections_writes_their_documents_as_files() {
    let (a, sd) = node_with_payload();
    let inner = publish_doc(&a, &[entry("deep/x", &sd, 5)]);
    let inner_doc = fs::read(a.path("evil.lbrycollection")).unwrap();
    let outer = publish_doc(
        &a,
        &[entry("inner", &inner, inner_doc.len()), entry("y", &sd, 5)],
    );
    let server = ServeNode::start(&a);
    let b = Node::new();
    let out = b.path("out");
    let args = get_args(&server, &outer, &out);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    b.ok(&args);
    assert_eq!(fs::read(out.join("inner")).unwrap(), inner_doc);
    assert_eq!(fs::read(out.join("y")).unwrap(), b"owned");
    let mut names: Vec<_> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["inner", "y"],
        "the inner collection is not unfolded"
    );
}
