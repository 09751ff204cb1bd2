//! `get COLLECTION -o DIR`: a whole folder tree from peers, in parallel,
//! resumable, verified, and never written outside DIR, whatever the
//! collection says. Real `lbrymount` processes, real sockets on loopback.

mod common;

use common::cli::{assert_success, copy_blobs, pseudo_random, Node, ServeNode, CHUNK};
use lbrymount::hash::BlobHash;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

/// Files of a test tree: relative path and content.
fn tree(files: usize, blobs: usize) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = (0..files)
        .map(|i| {
            let path = match i % 3 {
                0 => format!("top{i}.bin"),
                1 => format!("sub/file {i}.bin"),
                _ => format!("sub/deeper/nest/f{i}"),
            };
            (path, pseudo_random(blobs * CHUNK - 7 * i, i as u64 + 1))
        })
        .collect();
    out.push(("sub/empty".into(), Vec::new()));
    out
}

/// One collection entry as JSON.
fn entry(path: &str, sd: &str, data: &[u8]) -> String {
    format!(
        r#"{{"path":{},"sd_hash":"{sd}","size":{},"sha384":"{}"}}"#,
        serde_json::to_string(path).unwrap(),
        data.len(),
        BlobHash::digest(data).to_hex()
    )
}

/// Publishes a collection document (entries as given) on `node`; its sd hash.
fn publish_doc(node: &Node, entries: &[String], name: &str) -> String {
    let doc = format!(
        r#"{{"lbrymount_collection":1,"entries":[{}]}}"#,
        entries.join(",")
    );
    let path = node.path(name);
    fs::write(&path, doc).unwrap();
    node.publish(&path)
}

/// Publishes every file of `files` and their collection on `node`: the
/// collection's sd hash, and each file's.
fn publish_tree_sds(node: &Node, files: &[(String, Vec<u8>)]) -> (String, Vec<String>) {
    let src = node.path("src");
    let sds: Vec<String> = files
        .iter()
        .enumerate()
        .map(|(i, (path, data))| {
            let dir = src.join(i.to_string());
            fs::create_dir_all(&dir).unwrap();
            let file = dir.join(Path::new(path).file_name().unwrap());
            fs::write(&file, data).unwrap();
            node.publish(&file)
        })
        .collect();
    let entries: Vec<String> = files
        .iter()
        .zip(&sds)
        .map(|((path, data), sd)| entry(path, sd, data))
        .collect();
    (publish_doc(node, &entries, "tree.lbrycollection"), sds)
}

fn publish_tree(node: &Node, files: &[(String, Vec<u8>)]) -> String {
    publish_tree_sds(node, files).0
}

fn get_args<'a>(sd: &'a str, out: &'a Path, peers: &'a [String]) -> Vec<&'a str> {
    let mut args = vec!["get", sd, "--timeout", "20", "-o", out.to_str().unwrap()];
    for p in peers {
        args.extend(["--peer", p.as_str()]);
    }
    // -v: the `file written` lines tell the tests how far a get is.
    args.extend(["--no-bootstrap", "-v"]);
    args
}

fn assert_tree(dir: &Path, files: &[(String, Vec<u8>)]) {
    for (path, data) in files {
        let got = fs::read(dir.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(got == *data, "{path} differs");
    }
    let mut seen = Vec::new();
    walk(dir, dir, &mut seen);
    seen.sort();
    let mut want: Vec<String> = files.iter().map(|f| f.0.clone()).collect();
    want.sort();
    assert_eq!(seen, want, "exactly the tree, no part files");
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(root, &p, out);
        } else {
            out.push(p.strip_prefix(root).unwrap().to_str().unwrap().into());
        }
    }
}

#[test]
fn get_reproduces_a_nested_tree_byte_for_byte() {
    let a = Node::new();
    let files = tree(5, 2);
    let sd = publish_tree(&a, &files);
    let server = ServeNode::start(&a);
    let b = Node::new();
    let out = b.path("out");
    b.ok(&get_args(&sd, &out, &[server.peer_arg()]));
    assert_tree(&out, &files);
}

#[test]
fn get_completes_from_the_second_peer_when_the_first_is_killed_midway() {
    let a = Node::new();
    let files = tree(12, 3);
    let sd = publish_tree(&a, &files);
    let c = Node::new();
    copy_blobs(&a, &c);
    let first = ServeNode::start(&a);
    let second = ServeNode::start(&c);
    let b = Node::new();
    let out = b.path("out");
    let peers = [first.peer_arg(), second.peer_arg()];
    let mut child = b
        .cmd(&get_args(&sd, &out, &peers))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut log = String::new();
    // Midway: once the first file is whole, the first peer dies (by PID).
    for line in lines.by_ref() {
        let line = line.unwrap();
        log.push_str(&line);
        log.push('\n');
        if line.contains("file written") {
            break;
        }
    }
    let (_, first_log) = first.stop(libc::SIGKILL);
    let running = child.try_wait().unwrap().is_none();
    log.extend(lines.map_while(Result::ok).map(|l| l + "\n"));
    assert!(
        running,
        "the get was still running when the peer died:\n{log}"
    );
    let status = child.wait().unwrap();
    assert!(status.success(), "get failed:\n{log}");
    assert!(first_log.contains("listening on"));
    assert_tree(&out, &files);
    drop(second);
}

#[test]
fn an_interrupted_get_resumes_without_fetching_complete_files_again() {
    let a = Node::new();
    let files = tree(6, 2);
    let (sd, sds) = publish_tree_sds(&a, &files);
    let server = ServeNode::start(&a);
    let out = a.path("out");
    // The first run: killed once some files are whole.
    let first = Node::new();
    let mut child = first
        .cmd(&get_args(&sd, &out, &[server.peer_arg()]))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut written = 0;
    for line in lines.map_while(Result::ok) {
        if line.contains("file written") {
            written += 1;
            if written == 2 {
                break;
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let whole: Vec<usize> = (0..files.len())
        .filter(|&i| fs::read(out.join(&files[i].0)).is_ok_and(|got| got == files[i].1))
        .collect();
    assert!(whole.len() >= 2, "two files were whole before the kill");
    // The second run, with an empty store: only what is missing is fetched.
    let second = Node::new();
    let got = second
        .cmd(&get_args(&sd, &out, &[server.peer_arg()]))
        .output()
        .unwrap();
    assert_success(&got, &["get"]);
    let stderr = String::from_utf8_lossy(&got.stderr);
    assert!(stderr.contains("already complete"), "{stderr}");
    assert_tree(&out, &files);
    let fetched = second.blobs();
    for i in whole {
        let file_sd: BlobHash = sds[i].parse().unwrap();
        assert!(
            !fetched.contains_key(&file_sd),
            "{} was complete, yet its stream was fetched again",
            files[i].0
        );
    }
}

#[test]
fn get_through_a_node_running_on_the_data_dir_writes_the_tree_and_resumes() {
    let a = Node::new();
    let files = tree(5, 2);
    let sd = publish_tree(&a, &files);
    let server = ServeNode::start(&a);
    // B's data dir is held by its own running node: `get` asks that node.
    let b = Node::new();
    let _b_node = ServeNode::start(&b);
    let out = b.path("out");
    let peers = [server.peer_arg()];
    let args = get_args(&sd, &out, &peers);
    b.ok(&args);
    assert_tree(&out, &files);
    // A second run finds every file complete and fetches nothing.
    let again = b.cmd(&args).output().unwrap();
    assert_success(&again, &args);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("(6 already complete)"), "{stderr}");
    assert_tree(&out, &files);
}
