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

fn publishes_in(log: &str) -> usize {
    log.lines().filter(|l| l.contains(" published sd=")).count()
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

    // cp a 50 MiB file into the share folder (in a subfolder, as users do).
    let data = pseudo_random(50 << 20, 7);
    let src = a_node.path("holiday.mkv");
    fs::write(&src, &data).unwrap();
    fs::create_dir_all(share.join("videos")).unwrap();
    let shared = share.join("videos/holiday.mkv");
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
    let ls = wait_ls(&a_node, "the republished file", |ls| {
        sd_of(ls, "holiday.mkv").is_some_and(|s| s != sd)
    });
    let new_sd = sd_of(&ls, "holiday.mkv").unwrap();
    assert_eq!(ls.lines().count(), 1, "the old stream left ls:\n{ls}");
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
