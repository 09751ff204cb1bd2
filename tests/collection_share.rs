//! A folder in the share folder is published as a collection: `ls` shows
//! its sd hash as a folder, another node gets the whole tree with it, a
//! change gives a new hash and the old one stays readable. Real processes,
//! loopback only.

mod common;

use common::cli::{pseudo_random, Node, ServeNode};
use common::mount::{assert_file_is, xattr, MountNode};
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

/// The sd hashes `ls` on `node` shows as collections of `folder`.
fn collections(node: &Node, folder: &str) -> Vec<String> {
    let row = format!("  {folder}/  [collection]");
    node.ok(&["ls"])
        .lines()
        .filter(|l| l.ends_with(&row))
        .map(|l| l[..96].to_string())
        .collect()
}

/// Polls `ls` (60 s at most) until a collection of `folder` not in `old` shows.
fn wait_new_collection(node: &Node, folder: &str, old: &[String]) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(sd) = collections(node, folder)
            .into_iter()
            .find(|s| !old.contains(s))
        {
            return sd;
        }
        assert!(
            Instant::now() < deadline,
            "no new collection of {folder}; ls:\n{}",
            node.ok(&["ls"])
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn get_tree(server: &ServeNode, sd: &str, out: &Path) {
    let b = Node::new();
    let peer = server.peer_arg();
    let o = out.to_str().unwrap();
    b.ok(&[
        "get",
        sd,
        "--peer",
        &peer,
        "--no-bootstrap",
        "--timeout",
        "20",
        "-o",
        o,
    ]);
}

fn assert_same(out: &Path, files: &[(&str, Vec<u8>)]) {
    for (path, data) in files {
        let got = fs::read(out.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(got == *data, "{path} differs");
    }
}

#[test]
fn a_shared_folder_is_a_collection_and_a_change_gives_a_new_one() {
    let a = Node::new();
    let share = a.path("share");
    let mut files = vec![
        ("readme.txt", b"hello".to_vec()),
        ("src/main.rs", b"fn main() {}".to_vec()),
        ("src/deep/data.bin", pseudo_random(3 << 20, 5)),
    ];
    for (path, data) in &files {
        let p = share.join("proj").join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
    }
    fs::write(share.join("top.txt"), b"a top-level file").unwrap();
    let server = ServeNode::start_with(&a, &["--share", share.to_str().unwrap()]);
    let v1 = wait_new_collection(&a, "proj", &[]);
    let ls = a.ok(&["ls"]);
    assert!(
        ls.lines().any(|l| l.ends_with("  top.txt")),
        "top-level files stay streams:\n{ls}"
    );

    let scratch = tempfile::tempdir().unwrap();
    get_tree(&server, &v1, &scratch.path().join("v1"));
    assert_same(&scratch.path().join("v1"), &files);

    let old = files.clone();
    files[1].1 = b"fn main() { println!(\"v2\"); }".to_vec();
    fs::write(share.join("proj/src/main.rs"), &files[1].1).unwrap();
    let v2 = wait_new_collection(&a, "proj", std::slice::from_ref(&v1));
    assert_ne!(v1, v2);
    get_tree(&server, &v2, &scratch.path().join("v2"));
    assert_same(&scratch.path().join("v2"), &files);
    // The previous collection still gives the previous tree, whole.
    get_tree(&server, &v1, &scratch.path().join("v1 again"));
    assert_same(&scratch.path().join("v1 again"), &old);
    drop(server);
}

#[test]
fn a_mount_shows_a_collection_as_its_folder_tree_and_reads_every_file() {
    let a = Node::new();
    let share = a.path("share");
    let files = vec![
        ("readme.txt", b"hello".to_vec()),
        ("src/main.rs", b"fn main() {}".to_vec()),
        ("src/deep/data.bin", pseudo_random(5 << 20, 9)),
        ("src/deep/empty", Vec::new()),
    ];
    for (path, data) in &files {
        let p = share.join("proj").join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
    }
    let server = ServeNode::start_with(&a, &["--share", share.to_str().unwrap()]);
    let sd = wait_new_collection(&a, "proj", &[]);

    let b = Node::new();
    let peer = server.peer_arg();
    let m = MountNode::start(&b, &["--no-share", "--peer", &peer]);
    let root = m.mountpoint.join(&sd);
    let mut top: Vec<String> = fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    top.sort();
    assert_eq!(top, ["readme.txt", "src"]);
    assert!(root.join("src/deep").is_dir());
    for (path, data) in &files {
        let p = root.join(path);
        assert_eq!(fs::metadata(&p).unwrap().len(), data.len() as u64, "{path}");
        assert_file_is(&p, data);
    }
    let stat = |p: &Path| std::os::unix::fs::MetadataExt::ino(&fs::metadata(p).unwrap());
    assert_eq!(
        stat(&root.join("src/main.rs")),
        stat(&root.join("src/main.rs"))
    );
    let file_sd = xattr(&root.join("src/main.rs"), "user.lbry.sd_hash").unwrap();
    assert_eq!(file_sd.len(), 96);
    assert!(fs::metadata(root.join("nope")).is_err());
    drop(m);
}
