//! `publish`, `ls` and `get --offline` through the real binary and a real data dir.

mod common;

use common::cli::{pseudo_random, Node, CHUNK};
use sha2::{Digest, Sha384};
use std::fs;
use std::path::Path;

fn write(node: &Node, name: &str, data: &[u8]) -> std::path::PathBuf {
    let p = node.path(name);
    fs::write(&p, data).unwrap();
    p
}

fn blob_files(node: &Node) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = fs::read_dir(node.blob_dir())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn publish_then_get_offline_is_byte_exact_at_blob_boundaries() {
    let node = Node::new();
    for (i, size) in [
        0,
        1,
        15,
        16,
        CHUNK - 1,
        CHUNK,
        CHUNK + 1,
        2 * CHUNK,
        2 * CHUNK + 17,
    ]
    .into_iter()
    .enumerate()
    {
        let data = pseudo_random(size, i as u64);
        let src = write(&node, &format!("in-{size}.bin"), &data);
        let sd = node.publish(&src);
        let out = node.path(&format!("out-{size}.bin"));
        node.get_offline(&sd, &out);
        assert_eq!(fs::read(&out).unwrap(), data, "size {size}");
    }
}

#[test]
fn every_stored_file_is_named_by_its_hash() {
    let node = Node::new();
    let src = write(&node, "two-blobs.bin", &pseudo_random(CHUNK + 100, 7));
    node.publish(&src);
    let files = blob_files(&node);
    assert_eq!(files.len(), 3, "two data blobs and the sd blob");
    for (name, bytes) in files {
        assert_eq!(name, hex::encode(Sha384::digest(&bytes)));
        assert!(bytes.len() <= 2 * 1024 * 1024);
    }
}

#[test]
fn ls_lists_each_stream_with_name_size_and_blob_counts() {
    let node = Node::new();
    let a = node.publish(&write(&node, "alpha.txt", b"hello lbry\n"));
    let b = node.publish(&write(&node, "beta.bin", &pseudo_random(CHUNK + 5, 3)));
    let out = node.ok(&["ls"]);
    let line_a = out
        .lines()
        .find(|l| l.starts_with(&a))
        .expect("alpha listed");
    let line_b = out
        .lines()
        .find(|l| l.starts_with(&b))
        .expect("beta listed");
    assert!(
        line_a.contains("alpha.txt") && line_a.contains(" 11 ") && line_a.contains("1/1"),
        "{line_a}"
    );
    assert!(
        line_b.contains("beta.bin")
            && line_b.contains(&format!(" {} ", CHUNK + 5))
            && line_b.contains("2/2"),
        "{line_b}"
    );
    assert_eq!(
        out.lines().count(),
        2,
        "data blobs are not listed as streams:\n{out}"
    );
}

/// Every blob file's modification time (the LRU order kept across restarts).
fn mtimes(node: &Node) -> Vec<(String, std::time::SystemTime)> {
    let mut v: Vec<_> = fs::read_dir(node.blob_dir())
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, e.metadata().unwrap().modified().unwrap())
        })
        .collect();
    v.sort();
    v
}

#[test]
fn ls_neither_deletes_nor_reorders_anything() {
    let node = Node::new();
    let sd = node.publish(&write(&node, "two.bin", &pseudo_random(CHUNK + 5, 11)));
    // As in an lbrynet folder: no pin file, every blob is cache.
    fs::remove_file(node.data_dir().join("pinned")).unwrap();
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    for e in fs::read_dir(node.blob_dir()).unwrap() {
        let f = fs::File::options()
            .write(true)
            .open(e.unwrap().path())
            .unwrap();
        f.set_modified(old).unwrap();
    }
    let (files, times) = (blob_files(&node), mtimes(&node));
    // A cap far below what is cached, as after a `get` with a bigger one.
    let listed = node.ok(&["--cache-size", "1k", "ls"]);
    assert!(listed.contains(&sd) && listed.contains(" 2/2 "), "{listed}");
    assert_eq!(blob_files(&node), files, "ls deleted blobs");
    assert_eq!(mtimes(&node), times, "ls marked blobs used");
}

#[test]
fn get_without_output_writes_the_descriptor_name_into_the_current_dir() {
    let node = Node::new();
    let sd = node.publish(&write(&node, "named.txt", b"content"));
    let cwd = node.path("cwd");
    fs::create_dir(&cwd).unwrap();
    let get_here = || {
        let out = node
            .cmd(&["get", &sd, "--offline"])
            .current_dir(&cwd)
            .output()
            .unwrap();
        common::cli::assert_success(&out, &["get"]);
    };
    get_here();
    assert_eq!(fs::read(cwd.join("named.txt")).unwrap(), b"content");
    // An existing file is never overwritten: the next free name is used.
    fs::write(cwd.join("named.txt"), b"mine").unwrap();
    get_here();
    assert_eq!(fs::read(cwd.join("named.txt")).unwrap(), b"mine");
    assert_eq!(fs::read(cwd.join("named (1).txt")).unwrap(), b"content");
    // `-o DIR` puts the file inside DIR.
    let dir = node.path("into");
    fs::create_dir(&dir).unwrap();
    node.get_offline(&sd, &dir);
    assert_eq!(fs::read(dir.join("named.txt")).unwrap(), b"content");
}

#[test]
fn a_corrupt_blob_is_named_removed_and_harms_nothing_else() {
    let node = Node::new();
    let good = node.publish(&write(&node, "good.bin", &pseudo_random(1000, 1)));
    let bad_src = pseudo_random(CHUNK + 10, 2);
    let bad = node.publish(&write(&node, "bad.bin", &bad_src));
    // Flip one byte of the bad stream's first data blob on disk.
    let sd_bytes = fs::read(node.blob_dir().join(&bad)).unwrap();
    let sd_text = String::from_utf8(sd_bytes).unwrap();
    let first = &sd_text[sd_text.find("\"blob_hash\": \"").unwrap() + 14..][..96];
    let path = node.blob_dir().join(first);
    let mut bytes = fs::read(&path).unwrap();
    bytes[100] ^= 1;
    fs::write(&path, bytes).unwrap();

    let err = node.get_offline_fails(&bad, &node.path("bad.out"));
    assert!(err.contains(first) && err.contains("corrupt"), "{err}");
    assert!(
        !node.path("bad.out").exists(),
        "no partial output under the final name"
    );
    assert!(!path.exists(), "the corrupt blob was removed");
    // The other stream is untouched.
    node.get_offline(&good, &node.path("good.out"));
    assert_eq!(
        fs::read(node.path("good.out")).unwrap(),
        pseudo_random(1000, 1)
    );
    // And the damaged stream now reports the missing blob by name.
    let err = node.get_offline_fails(&bad, &node.path("bad.out"));
    assert!(
        err.contains(first) && err.contains("not in the local store"),
        "{err}"
    );
}

#[test]
fn an_invalid_descriptor_is_a_clear_error() {
    let node = Node::new();
    node.publish(&write(&node, "x", b"x"));
    // A blob that is valid JSON but not a valid descriptor, stored under its own hash.
    let bogus = br#"{"blobs": [], "key": "00", "stream_hash": "00", "stream_name": "", "stream_type": "lbryfile", "suggested_file_name": ""}"#;
    let name = hex::encode(Sha384::digest(bogus));
    fs::write(node.blob_dir().join(&name), bogus).unwrap();
    let err = node.get_offline_fails(&name, &node.path("o"));
    assert!(err.contains(&name) && err.contains("invalid"), "{err}");
}

#[test]
fn missing_inputs_and_unknown_streams_fail_with_exit_1() {
    let node = Node::new();
    let err = node.fails(&["publish", node.path("nope.bin").to_str().unwrap()], 1);
    assert!(err.contains("nope.bin"), "{err}");
    let err = node.fails(&["publish", node.path("").to_str().unwrap()], 1);
    assert!(err.contains("not a regular file"), "{err}");
    let unknown = "ab".repeat(48);
    let err = node.get_offline_fails(&unknown, &node.path("o"));
    assert!(
        err.contains(&unknown) && err.contains("not in the local store"),
        "{err}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let node = Node::new();
    // Neither an sd hash nor an LBRY URL (a space is not allowed in a name).
    let err = node.fails(&["get", "AB CD", "--offline"], 2);
    assert!(err.contains("neither an sd hash"), "{err}");
    let upper = "AB".repeat(48);
    let err = node.fails(&["get", &upper, "--offline"], 2);
    assert!(err.contains("lowercase"), "{err}");
    node.fails(&["publish"], 2);
    node.fails(&["--cache-size", "lots", "ls"], 2);
    node.fails(&["get", &"ab".repeat(48), "--peer", "nohostport"], 2);
    node.fails(&["frobnicate"], 2);
}

#[test]
fn data_dir_comes_from_the_environment_too() {
    let node = Node::new();
    let src = write(&node, "env.txt", b"via env");
    let out = std::process::Command::new(common::cli::bin())
        .env("LBRYMOUNT_DATA_DIR", node.data_dir())
        .args(["publish", src.to_str().unwrap()])
        .output()
        .unwrap();
    common::cli::assert_success(&out, &["publish"]);
    assert_eq!(blob_files(&node).len(), 2);
}

#[test]
fn a_data_dir_in_use_is_refused_clearly() {
    let node = Node::new();
    fs::create_dir_all(node.data_dir()).unwrap();
    let held = lbrymount::store::DiskStore::open(&node.data_dir(), 1 << 30).unwrap();
    let err = node.fails(&["ls"], 1);
    assert!(err.contains("in use"), "{err}");
    drop(held);
    node.ok(&["ls"]);
}

/// Bytes of every file under `dir` whose name is a hash, checked against that hash.
fn assert_no_half_blob(dir: &Path) {
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.len() == 96 {
            let bytes = fs::read(e.path()).unwrap();
            assert_eq!(
                hex::encode(Sha384::digest(&bytes)),
                name,
                "half blob under a valid name"
            );
        }
    }
}

#[test]
fn a_publish_killed_midway_leaves_a_store_that_opens_clean() {
    let node = Node::new();
    let earlier = node.publish(&write(&node, "earlier.txt", b"still here"));
    let big = write(&node, "big.bin", &pseudo_random(40 * CHUNK, 9));
    let mut child = node
        .cmd(&["publish", big.to_str().unwrap()])
        .spawn()
        .unwrap();
    // Kill it once it has stored a few blobs (or if it somehow finished, still check).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while fs::read_dir(node.blob_dir()).unwrap().count() < 6 && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    let finished = child.wait().unwrap().success();
    assert_no_half_blob(&node.blob_dir());
    if !finished {
        // Its blobs were staged, never pinned: they are ordinary cache now.
        let pins = fs::read_to_string(node.data_dir().join("pinned")).unwrap();
        assert_eq!(pins.lines().count(), 2, "only the earlier stream is pinned");
    }
    // The store opens (lock released by the kernel), cleans temp files, and still serves.
    let listed = node.ok(&["ls"]);
    assert!(listed.contains(&earlier), "{listed}");
    let leftovers: Vec<_> = fs::read_dir(node.blob_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.len() != 96)
        .collect();
    assert!(
        leftovers.is_empty(),
        "stray temp files survived open: {leftovers:?}"
    );
    node.get_offline(&earlier, &node.path("e"));
    assert_eq!(fs::read(node.path("e")).unwrap(), b"still here");
}

/// Unmounts on drop, so a failing test never leaves a mount behind.
struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_full_disk_fails_clearly_and_keeps_the_store_usable() {
    let node = Node::new();
    fs::create_dir_all(node.data_dir()).unwrap();
    // A real 6 MiB filesystem under the data dir (tests run as root, as in CI).
    let st = std::process::Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            "size=6m",
            "lbrymount-test",
            node.data_dir().to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(st.success(), "mounting a tmpfs needs root");
    let _guard = Unmount(node.data_dir());

    let small = node.publish(&write(&node, "small.txt", b"fits"));
    let err = node.fails(
        &[
            "publish",
            write(&node, "huge.bin", &pseudo_random(4 * CHUNK, 5))
                .to_str()
                .unwrap(),
        ],
        1,
    );
    assert!(
        err.contains("No space left") && err.contains("huge.bin"),
        "{err}"
    );
    assert_no_half_blob(&node.blob_dir());
    assert_eq!(
        blob_files(&node).len(),
        2,
        "the failed publish's blobs were discarded"
    );
    let listed = node.ok(&["ls"]);
    assert!(
        listed.contains(&small) && !listed.contains("huge.bin"),
        "{listed}"
    );
    node.get_offline(&small, &node.path("s"));
    assert_eq!(fs::read(node.path("s")).unwrap(), b"fits");
}
