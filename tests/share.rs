//! The share folder end to end: `cp` a file in and it is published, served
//! and readable through another node's mount; restarts keep its sd hash;
//! changes republish; deletes unpublish.

mod common;

use common::cli::{pseudo_random, Node, ServeNode};
use common::mount::{assert_file_is, MountNode};
use std::fs;
use std::time::{Duration, Instant};

/// Polls `lbrymount ls` on `node` until `pred` holds for its output (60 s at most).
fn wait_ls(node: &Node, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ls = node.ok(&["ls"]);
        if pred(&ls) {
            return ls;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; ls:\n{ls}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The sd hash `ls` shows for the stream named `name`.
fn sd_of(ls: &str, name: &str) -> Option<String> {
    ls.lines()
        .find(|l| l.ends_with(&format!("  {name}")))
        .map(|l| l[..96].to_string())
}

/// File publishes in a log (a folder's collection is not a file).
fn publishes_in(log: &str) -> usize {
    log.lines()
        .filter(|l| l.contains(" published sd=") && !l.contains(".lbrycollection"))
        .count()
}

/// `ls` rows that are collections (docs/protocol.md §12).
fn collection_rows(ls: &str) -> usize {
    ls.lines().filter(|l| l.ends_with("  [collection]")).count()
}

#[test]
fn a_file_copied_into_the_share_folder_is_published_and_read_through_another_mount() {
    let a_node = Node::new();
    let dht = ["--dht-listen", "127.0.0.1:0"];
    let a = MountNode::start(&a_node, &dht);
    let share = a_node.data_dir().join("share");
    assert_eq!(
        a.proc().wait_log("share folder "),
        share.display().to_string(),
        "the share folder is created and named at start"
    );
    let a_dht = a.proc().wait_log("dht node ready at ");

    // cp a 50 MiB file into the share folder (at its top: a file in a
    // subfolder is also named by the folder's collection, whose previous
    // version keeps it published after a change; see tests/collection_share.rs).
    let data = pseudo_random(50 << 20, 7);
    let src = a_node.path("holiday.mkv");
    fs::write(&src, &data).unwrap();
    let shared = share.join("holiday.mkv");
    fs::copy(&src, &shared).unwrap();
    let ls = wait_ls(&a_node, "the shared file in ls", |ls| {
        sd_of(ls, "holiday.mkv").is_some()
    });
    let sd = sd_of(&ls, "holiday.mkv").unwrap();
    assert!(
        ls.contains(&format!("{sd}  {}  26/26  holiday.mkv", data.len())),
        "{ls}"
    );
    // It is in A's own mount too.
    assert_file_is(&a.file(&sd, "holiday.mkv"), &data);

    // B, bootstrapped from A only, reads it byte-identical through its mount.
    let b_node = Node::new();
    let b = MountNode::start(
        &b_node,
        &["--dht-listen", "127.0.0.1:0", "--bootstrap", &a_dht],
    );
    assert_file_is(&b.file(&sd, "holiday.mkv"), &data);

    // Restart A: the same sd hash, and no republish.
    let stopped = a.stop(libc::SIGTERM);
    assert!(stopped.status.success(), "{}", stopped.log);
    assert_eq!(publishes_in(&stopped.log), 1, "{}", stopped.log);
    let a = MountNode::start(&a_node, &dht);
    a.proc().wait_log("share folder ");
    a.proc().wait_log("share folder scanned");
    assert_eq!(sd_of(&a_node.ok(&["ls"]), "holiday.mkv"), Some(sd.clone()));
    assert_eq!(publishes_in(&a.proc().log()), 0, "{}", a.proc().log());
    let a_tcp = a.proc().addr.to_string();

    // Modify it: a new sd hash; the old stream is no longer listed or served.
    let mut changed = data.clone();
    changed.truncate(20 << 20);
    changed.extend_from_slice(b"a new ending");
    fs::write(&shared, &changed).unwrap();
    // The new stream is published before the old one is unpublished (the
    // file stays reachable throughout); wait for both.
    let ls = wait_ls(
        &a_node,
        "the republished file, and the old one gone",
        |ls| sd_of(ls, "holiday.mkv").is_some_and(|s| s != sd) && ls.lines().count() == 1,
    );
    let new_sd = sd_of(&ls, "holiday.mkv").unwrap();
    assert!(!fs::read_dir(&a.mountpoint)
        .unwrap()
        .any(|e| e.unwrap().file_name() == sd.as_str()));
    let c_node = Node::new();
    let out = c_node.path("old.mkv");
    let err = c_node.fails(
        &[
            "get",
            &sd,
            "--peer",
            &a_tcp,
            "--timeout",
            "5",
            "-o",
            out.to_str().unwrap(),
        ],
        1,
    );
    assert!(
        err.contains(&a_tcp),
        "A no longer serves the old stream: {err}"
    );
    let new_copy = c_node.path("new.mkv");
    c_node.ok(&[
        "get",
        &new_sd,
        "--peer",
        &a_tcp,
        "-o",
        new_copy.to_str().unwrap(),
    ]);
    assert_file_is(&new_copy, &changed);

    // Delete it: it leaves ls.
    fs::remove_file(&shared).unwrap();
    wait_ls(&a_node, "the deleted file to leave ls", |ls| {
        ls.trim().is_empty()
    });
    let stopped = a.stop(libc::SIGTERM);
    assert!(
        stopped.status.success() && !stopped.still_mounted,
        "{}",
        stopped.log
    );
    drop(b);
}

#[test]
fn a_file_written_slowly_is_published_once_whole_and_temporary_files_are_ignored() {
    let node = Node::new();
    let serve = ServeNode::start_with(&node, &[]);
    let share = node.data_dir().join("share");
    serve.wait_log("share folder scanned");
    for ignored in [".hidden", "download.part", "notes.txt~"] {
        fs::write(share.join(ignored), b"not for sharing").unwrap();
    }
    // Written in six pieces over three seconds, as a slow copy would.
    let data = pseudo_random(6 * 700_000, 9);
    let path = share.join("slow.bin");
    let mut f = fs::File::create(&path).unwrap();
    for piece in data.chunks(700_000) {
        use std::io::Write;
        f.write_all(piece).unwrap();
        f.flush().unwrap();
        std::thread::sleep(Duration::from_millis(500));
    }
    drop(f);
    let ls = wait_ls(&node, "the slow file", |ls| sd_of(ls, "slow.bin").is_some());
    // Give a second, wrong publish every chance to happen before checking.
    std::thread::sleep(Duration::from_secs(3));
    let ls_after = node.ok(&["ls"]);
    assert_eq!(ls, ls_after);
    assert_eq!(ls.lines().count(), 1, "only slow.bin is shared:\n{ls}");
    assert!(
        ls.contains(&format!("  {}  3/3  slow.bin", data.len())),
        "{ls}"
    );
    let sd = sd_of(&ls, "slow.bin").unwrap();
    let (status, log) = serve.stop(libc::SIGTERM);
    assert!(status.success(), "{log}");
    assert_eq!(publishes_in(&log), 1, "{log}");
    let out = node.path("copy.bin");
    node.get_offline(&sd, &out);
    assert_file_is(&out, &data);
}

/// `lbrymount status` of the node running on `node`.
fn status(node: &Node) -> String {
    node.ok(&["status"])
}

#[test]
fn no_share_another_share_or_a_missing_folder_unpublishes_nothing() {
    let node = Node::new();
    let share = node.data_dir().join("share");
    let serve = ServeNode::start_with(&node, &[]);
    serve.wait_log("share folder scanned");
    let (a, b) = (pseudo_random(300_000, 1), pseudo_random(200_000, 2));
    fs::create_dir(share.join("sub")).unwrap();
    fs::write(share.join("a.bin"), &a).unwrap();
    fs::write(share.join("sub/b.bin"), &b).unwrap();
    let ls = wait_ls(&node, "both files and the folder published", |ls| {
        sd_of(ls, "a.bin").is_some() && sd_of(ls, "b.bin").is_some() && collection_rows(ls) == 1
    });
    let (sd_a, sd_b) = (sd_of(&ls, "a.bin").unwrap(), sd_of(&ls, "b.bin").unwrap());
    let share_abs = fs::canonicalize(&share).unwrap();
    let (st, _) = serve.stop(libc::SIGTERM);
    assert!(st.success());

    // Without a share folder: everything stays published.
    let serve = ServeNode::start_with(&node, &["--no-share"]);
    assert_eq!(node.ok(&["ls"]), ls);
    serve.stop(libc::SIGTERM);

    // With another share folder: the first folder's files stay published.
    let other = node.path("other");
    let serve = ServeNode::start_with(&node, &["--share", other.to_str().unwrap()]);
    serve.wait_log("share folder scanned");
    assert_eq!(node.ok(&["ls"]), ls, "{}", serve.log());
    let st = status(&node);
    let kept = format!(
        "share folder kept published, not watched: {} (2 files)",
        share_abs.display()
    );
    assert!(st.contains(&kept), "{st}");
    let (_, log) = serve.stop(libc::SIGTERM);
    assert!(log.contains("stay published, not watched"), "{log}");
    assert!(!log.contains("unpublished"), "{log}");

    // The folder is gone (an unmounted disk): kept published, not created.
    let away = node.path("share.away");
    fs::rename(&share, &away).unwrap();
    let serve = ServeNode::start_with(&node, &[]);
    serve.wait_log("is missing: its 2 files stay published");
    assert!(
        !share.exists(),
        "a missing folder with files is not created"
    );
    let st = status(&node);
    assert!(st.contains("share folder paused: share folder "), "{st}");
    assert!(st.contains("(2 files shared)"), "{st}");
    assert_eq!(node.ok(&["ls"]), ls);

    // It comes back: sharing resumes with the same sd hashes, nothing republished.
    fs::rename(&away, &share).unwrap();
    serve.wait_log("is back; sharing resumes");
    serve.wait_log("share folder scanned");
    assert_eq!(node.ok(&["ls"]), ls);
    assert!(!status(&node).contains("paused"));
    let (st, log) = serve.stop(libc::SIGTERM);
    assert!(st.success(), "{log}");
    assert_eq!(publishes_in(&log), 0, "{log}");
    assert!(!log.contains("unpublished"), "{log}");

    // And the folder is still watched as before: a restart changes nothing.
    let serve = ServeNode::start_with(&node, &[]);
    serve.wait_log("share folder scanned");
    assert_eq!(node.ok(&["ls"]), ls);
    let (_, log) = serve.stop(libc::SIGTERM);
    assert_eq!(publishes_in(&log), 0, "{log}");
    for (sd, data) in [(&sd_a, &a), (&sd_b, &b)] {
        let out = node.path("out.bin");
        node.get_offline(sd, &out);
        assert_file_is(&out, data);
    }
}

#[test]
fn the_same_content_keeps_its_sd_hash_through_touch_restore_and_rename() {
    let node = Node::new();
    let share = node.data_dir().join("share");
    let serve = ServeNode::start_with(&node, &[]);
    serve.wait_log("share folder scanned");
    let data = pseudo_random(500_000, 3);
    let a = share.join("a.bin");
    fs::write(&a, &data).unwrap();
    let ls = wait_ls(&node, "a.bin published", |ls| sd_of(ls, "a.bin").is_some());
    let sd = sd_of(&ls, "a.bin").unwrap();
    let unchanged = "content unchanged: keeps its sd hash";
    // Waits until the node has looked at the file the `n`-th time (or
    // republished it), then checks it still lists the one stream, unchanged
    // (a folder's collection aside).
    let files = |ls: String| -> String {
        let rows = ls.lines().filter(|l| !l.ends_with("  [collection]"));
        rows.map(|l| format!("{l}\n")).collect()
    };
    let same = |n: usize, what: &str| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while serve.log().matches(unchanged).count() < n && files(node.ok(&["ls"])) == ls {
            assert!(Instant::now() < deadline, "{what}: nothing happened");
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(
            files(node.ok(&["ls"])),
            ls,
            "after {what}:\n{}",
            serve.log()
        );
    };
    let run = |cmd: &str, args: &[&std::path::Path]| {
        let st = std::process::Command::new(cmd).args(args).status().unwrap();
        assert!(st.success(), "{cmd} {args:?}");
    };

    // touch: a new mtime, the same content.
    run("touch", &[&a]);
    same(1, "touch");

    // A backup (made with cp -p) restored over it with cp -p: the old mtime back.
    let backup = node.path("backup.bin");
    run("cp", &[&a, &backup]);
    run(
        "touch",
        &["-d".as_ref(), "2001-02-03 04:05:06".as_ref(), &backup],
    );
    run("cp", &["-p".as_ref(), &backup, &a]);
    same(2, "cp -p over it");

    // Restored the way rsync does: a copy with another mtime renamed over it (a new inode).
    run(
        "touch",
        &["-d".as_ref(), "2002-02-03 04:05:06".as_ref(), &backup],
    );
    let tmp = share.join(".a.bin.tmp");
    run("cp", &["-p".as_ref(), &backup, &tmp]);
    fs::rename(&tmp, &a).unwrap();
    same(3, "a restore by rename");

    // Renamed into a subfolder: the same stream.
    fs::create_dir(share.join("sub")).unwrap();
    let moved = share.join("sub/renamed.bin");
    fs::rename(&a, &moved).unwrap();
    same(4, "mv");

    // A real edit: a new stream, and the old one is gone.
    let mut edited = data.clone();
    edited[1000] ^= 1;
    fs::write(&moved, &edited).unwrap();
    // The old stream stays while the folder's previous collection names it.
    let ls = wait_ls(
        &node,
        "the edited file and the folder's new collection",
        |ls| sd_of(ls, "renamed.bin").is_some() && collection_rows(ls) == 2,
    );
    assert_eq!(
        ls.lines().count(),
        4,
        "the old stream, the new one, two collections:\n{ls}"
    );
    let new_sd = sd_of(&ls, "renamed.bin").unwrap();
    assert_ne!(new_sd, sd);
    let (st, log) = serve.stop(libc::SIGTERM);
    assert!(st.success(), "{log}");
    assert_eq!(publishes_in(&log), 2, "{log}");

    // A restart keeps it.
    let serve = ServeNode::start_with(&node, &[]);
    serve.wait_log("share folder scanned");
    assert_eq!(node.ok(&["ls"]), ls);
    let (_, log) = serve.stop(libc::SIGTERM);
    assert_eq!(publishes_in(&log), 0, "{log}");
}

#[test]
fn a_version_1_manifest_is_read_and_upgraded_without_publishing_again() {
    let node = Node::new();
    let share = node.data_dir().join("share");
    let serve = ServeNode::start_with(&node, &[]);
    serve.wait_log("share folder scanned");
    fs::write(share.join("a.bin"), pseudo_random(100_000, 4)).unwrap();
    let ls = wait_ls(&node, "a.bin published", |ls| sd_of(ls, "a.bin").is_some());
    serve.stop(libc::SIGTERM);

    // The manifest as an older lbrymount wrote it: no folder, no digests.
    let manifest = node.data_dir().join("share.json");
    let v2: serde_json::Value = serde_json::from_slice(&fs::read(&manifest).unwrap()).unwrap();
    let mut files = v2["folders"][0]["files"].clone();
    for f in files.as_array_mut().unwrap() {
        f.as_object_mut().unwrap().remove("sha384");
    }
    let v1 = serde_json::json!({ "version": 1, "files": files });
    fs::write(&manifest, serde_json::to_vec(&v1).unwrap()).unwrap();

    let serve = ServeNode::start_with(&node, &[]);
    serve.wait_log("content unchanged: keeps its sd hash");
    assert_eq!(node.ok(&["ls"]), ls);
    let (_, log) = serve.stop(libc::SIGTERM);
    assert_eq!(publishes_in(&log), 0, "{log}");
    let now: serde_json::Value = serde_json::from_slice(&fs::read(&manifest).unwrap()).unwrap();
    assert_eq!(now["version"], 2, "{now}");
    assert!(now["folders"][0]["files"][0]["sha384"].is_string(), "{now}");
}
