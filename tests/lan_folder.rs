//! The LAN story end to end, across network namespaces the test makes
//! (`common::lan`): three nodes started with no bootstrap node and no
//! `--peer`; a folder shared on one is found by `search` on another, read
//! through that node's mount, and fetched whole with `get` from two peers
//! while one of them is killed midway.

mod common;

use common::cli::{copy_blobs, pseudo_random, Node, ServeNode, CHUNK};
use common::lan::NetLan;
use common::mount::{assert_file_is, MountNode};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Each node's DHT port: a fixed one is safe in a namespace of its own, and
/// lets a one-shot `get` name a contact.
const DHT_PORT: u16 = 4444;

/// Flags of a node on the test LAN: no bootstrap node, LAN discovery on.
fn on_lan(extra: &[&str]) -> Vec<String> {
    let dht = format!("0.0.0.0:{DHT_PORT}");
    let mut args: Vec<String> = ["--listen", "0.0.0.0:0", "--dht-listen", &dht]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(["--no-bootstrap", "--lan", "-v"].map(String::from));
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn serve(lan: &NetLan, i: usize, node: &Node, extra: &[&str]) -> ServeNode {
    let mut args = vec!["serve".to_string()];
    args.extend(on_lan(extra));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut cmd = node.cmd(&args);
    lan.enter(&mut cmd, i);
    ServeNode::spawn_command(cmd)
}

/// Runs `args` on `node` in namespace `i`; stdout, required to succeed.
fn run_in(lan: &NetLan, i: usize, node: &Node, args: &[&str]) -> String {
    let mut cmd = node.cmd(args);
    lan.enter(&mut cmd, i);
    let out = cmd.output().expect("run lbrymount");
    common::cli::assert_success(&out, args);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Polls `probe` (60 s at most: a hang guard) until it gives a value.
fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match probe() {
            Ok(v) => return v,
            Err(last) if Instant::now() > deadline => panic!("no {what}; last:\n{last}"),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// The album: twelve files of two blobs and a bit, named for the search.
fn album() -> Vec<(String, Vec<u8>)> {
    (0..12)
        .map(|i| {
            let name = format!("harbour sunset {i:02}.bin");
            (name, pseudo_random(2 * CHUNK + 1000 * i, 40 + i as u64))
        })
        .collect()
}

#[test]
fn a_folder_shared_on_a_lan_is_searched_mounted_and_fetched_from_two_peers() {
    let lan = NetLan::new(3);
    let files = album();
    let a_node = Node::new();
    let share = a_node.path("share");
    for (name, data) in &files {
        let p = share.join("album").join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
    let share_arg = share.to_str().unwrap().to_string();
    let a = serve(&lan, 0, &a_node, &["--share", &share_arg]);
    let coll = wait_for("album collection", || {
        let ls = a_node.ok(&["ls"]);
        ls.lines()
            .find(|l| l.ends_with("  album/  [collection]"))
            .map(|l| l[..96].to_string())
            .ok_or(ls)
    });

    // B holds the same blobs (as if it had fetched them) and serves them.
    let b_node = Node::new();
    copy_blobs(&a_node, &b_node);
    let b = serve(&lan, 1, &b_node, &["--no-share"]);

    // C mounts the network; it is given no address at all.
    let c_node = Node::new();
    let mp = c_node.path("mnt");
    let c_args = on_lan(&["--no-share"]);
    let c_args: Vec<&str> = c_args.iter().map(String::as_str).collect();
    let c = MountNode::start_with(&c_node, &mp, &c_args, |cmd| lan.enter(cmd, 2));

    // A name search through C's node, with a typo, finds A's files.
    let rows = wait_for("search results", || {
        let out = c_node.ok(&["search", "--limit", "50", "harbor sunset"]);
        let rows: Vec<String> = out
            .lines()
            .filter(|l| l.contains("harbour sunset ") && l.contains("peers"))
            .map(str::to_owned)
            .collect();
        if rows.len() == files.len() {
            Ok(rows)
        } else {
            Err(out)
        }
    });
    let row = rows
        .iter()
        .find(|r| r.contains("harbour sunset 07.bin"))
        .unwrap();
    assert_file_is(&c.file(&row[..96], "harbour sunset 07.bin"), &files[7].1);
    // The whole folder through C's mount: the collection is its tree.
    let in_mount = mp.join(&coll);
    assert_file_is(&in_mount.join(&files[3].0), &files[3].1);

    // Both A and B announced every file before the get starts, so the get
    // has two peers for each.
    let contact = format!("{}:{DHT_PORT}", lan.ip(2));
    let d_node = Node::new();
    for row in &rows {
        let args = ["dht", "--bootstrap", &contact, "find-peers", &row[..96]];
        wait_for("both peers announced", || {
            let found = run_in(&lan, 2, &d_node, &args);
            // The peers found, not the nodes that answered the lookup.
            let peers: Vec<&str> = found
                .lines()
                .filter(|l| !l.starts_with("answered") && !l.starts_with('#'))
                .collect();
            let both = [lan.ip(0), lan.ip(1)]
                .iter()
                .all(|ip| peers.iter().any(|p| p.starts_with(&format!("{ip}:"))));
            if both {
                Ok(())
            } else {
                Err(found)
            }
        });
    }
    // B announced again once C was in its routing table (a young table
    // that grew), so its records do not live on A alone: a pass that began
    // after B heard C, and ended.
    let c_heard = format!("found a LAN peer peer={}:", lan.ip(2));
    wait_for("B's announce after hearing C", || {
        let log = b.log();
        let pass_after = log
            .find(&c_heard)
            .and_then(|at| log[at..].find("a young routing table grew").map(|p| at + p));
        match pass_after {
            Some(at) if log[at..].contains("announced blobs=") => Ok(()),
            _ => Err(log),
        }
    });
    let out = d_node.path("out");
    get_while_a_dies(&lan, &d_node, &coll, &contact, &out, a);
    for (name, data) in &files {
        let got = std::fs::read(out.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(got == *data, "{name} differs");
    }
    drop(c);
}

/// `get COLL -o OUT` on a fresh data dir in C's namespace, through C's DHT
/// node; A is killed (by PID) once the first file is whole.
fn get_while_a_dies(lan: &NetLan, d: &Node, coll: &str, contact: &str, out: &Path, a: ServeNode) {
    let o = out.to_str().unwrap();
    let args = [
        "get",
        coll,
        "-o",
        o,
        "--bootstrap",
        contact,
        "--timeout",
        "30",
        "-v",
    ];
    let mut cmd: Command = d.cmd(&args);
    lan.enter(&mut cmd, 2);
    let mut child = cmd.stderr(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut log = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        log.push_str(&line);
        log.push('\n');
        if line.contains("file written") {
            break;
        }
    }
    let _ = a.stop(libc::SIGKILL);
    let running = child.try_wait().unwrap().is_none();
    log.extend(lines.map_while(Result::ok).map(|l| l + "\n"));
    assert!(running, "the get was still running when A died:\n{log}");
    let status = child.wait().unwrap();
    assert!(status.success(), "get failed:\n{log}");
}
