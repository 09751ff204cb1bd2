//! Names in a real FUSE mount: a hub written in the tests (real TCP on
//! 127.0.0.1, real transactions, a real secp256k1 channel signature) names
//! a stream that another lbrymount node published and serves; the mount
//! lists the channel and reads the file by name, byte for byte, and still
//! does with the hub gone.

mod common;

use common::cli::{publisher, Node, ServeNode};
use common::hub::{refusing_addr, stream, StreamSpec, TestHub};
use common::mount::{assert_file_is, MountNode};
use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("list {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// An extended attribute of `path`, as `getfattr -n NAME` shows it.
fn xattr(path: &Path, name: &str) -> Option<String> {
    let p = CString::new(path.as_os_str().as_bytes()).unwrap();
    let n = CString::new(name).unwrap();
    let mut buf = vec![0u8; 4096];
    // SAFETY: both strings are NUL-terminated; the buffer's length is passed.
    let len = unsafe { libc::getxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    (len >= 0).then(|| String::from_utf8_lossy(&buf[..len as usize]).into_owned())
}

fn status(node: &Node) -> String {
    node.ok(&["status"])
}

#[test]
fn a_channel_is_listed_by_name_and_its_file_reads_byte_for_byte() {
    let (pub_node, sd, data) = publisher(3 * 1024 * 1024 + 5, 41, "talk.mp4");
    let server = ServeNode::start(&pub_node);
    let forged = StreamSpec {
        forged: true,
        ..stream("forged", &sd, "talk.mp4", data.len() as u64)
    };
    let hub = TestHub::start(
        "@chan",
        vec![stream("talk", &sd, "talk.mp4", data.len() as u64), forged],
    );
    let node = Node::new();
    let m = MountNode::start(&node, &["--hub", &hub.arg(), "--peer", &server.peer_arg()]);

    let chan = m.mountpoint.join("@chan");
    assert_eq!(names_in(&chan), ["talk"], "a forged claim is not listed");
    assert_eq!(names_in(&chan.join("talk")), ["talk.mp4"]);
    let file = chan.join("talk").join("talk.mp4");
    assert_eq!(fs::metadata(&file).unwrap().len(), data.len() as u64);
    assert_file_is(&file, &data);
    // The same stream under its sd hash, and under the name alone.
    assert_file_is(&m.file(&sd, "talk.mp4"), &data);
    assert_file_is(&m.mountpoint.join("talk").join("talk.mp4"), &data);

    let claim_id = &hub.world().stream("talk").claim_id;
    assert_eq!(
        xattr(&file, "user.lbry.claim_id").as_deref(),
        Some(claim_id.as_str())
    );
    assert_eq!(
        xattr(&file, "user.lbry.sd_hash").as_deref(),
        Some(sd.as_str())
    );
    let url = xattr(&file, "user.lbry.url").unwrap();
    assert!(
        url.starts_with("lbry://@chan#") && url.contains("/talk#"),
        "{url}"
    );
    let channel = xattr(&file, "user.lbry.channel").unwrap();
    assert!(channel.starts_with("lbry://@chan#"), "{channel}");
    assert!(xattr(&file, "user.lbry.media_type").is_some());

    // A name nobody claims is not found, and status says what the hub said.
    let err = fs::metadata(m.mountpoint.join("nothing")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{err}");
    let s = status(&node);
    assert!(s.contains("Could not find claim at"), "{s}");
    assert!(s.contains(&hub.arg()), "status names the hub in use:\n{s}");
}

#[test]
fn names_read_offline_once_the_hub_and_the_peer_are_gone() {
    let (pub_node, sd, data) = publisher(1024 * 1024, 42, "song.ogg");
    let server = ServeNode::start(&pub_node);
    let mut hub = TestHub::start(
        "@band",
        vec![stream("song", &sd, "song.ogg", data.len() as u64)],
    );
    let node = Node::new();
    let file = {
        let m = MountNode::start(&node, &["--hub", &hub.arg(), "--peer", &server.peer_arg()]);
        assert_eq!(names_in(&m.mountpoint.join("@band")), ["song"]);
        let file = m.mountpoint.join("@band").join("song").join("song.ogg");
        assert_file_is(&file, &data);
        // A reader has its bytes before the blob is in the cache: wait
        // until the cache holds the whole stream, then unmount.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while xattr(&file, "user.lbry.blobs").is_some_and(|b| {
            let (have, all) = b.split_once('/').unwrap_or(("", "?"));
            have != all
        }) {
            assert!(std::time::Instant::now() < deadline, "never cached");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(m.stop(libc::SIGTERM).status.success());
        file
    };
    hub.stop();
    drop(server);
    let m = MountNode::start(&node, &["--hub", &hub.arg()]);
    // What was last seen: the listing, the name, and the blobs in the cache.
    assert_eq!(names_in(&m.mountpoint.join("@band")), ["song"]);
    assert_file_is(&file, &data);
    let s = status(&node);
    assert!(s.contains("names answered offline"), "status says so:\n{s}");
}

#[test]
fn the_mount_fails_over_to_the_next_hub() {
    let (pub_node, sd, data) = publisher(4096, 43, "a.txt");
    let server = ServeNode::start(&pub_node);
    let hub = TestHub::start("@c", vec![stream("a", &sd, "a.txt", data.len() as u64)]);
    let node = Node::new();
    let refusing = refusing_addr();
    let extra = [
        "--hub",
        &refusing,
        "--hub",
        &hub.arg(),
        "--peer",
        &server.peer_arg(),
    ];
    let m = MountNode::start(&node, &extra);
    assert_file_is(&m.mountpoint.join("@c").join("a").join("a.txt"), &data);
}

#[test]
fn without_hubs_a_name_is_not_found_and_asks_nobody() {
    let node = Node::new();
    let m = MountNode::start(&node, &["--no-hub"]);
    let err = fs::metadata(m.mountpoint.join("@chan")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{err}");
}

#[test]
fn get_ls_and_status_take_a_url_where_they_take_an_sd_hash() {
    let (pub_node, sd, data) = publisher(2 * 1024 * 1024 + 3, 44, "doc.pdf");
    let server = ServeNode::start(&pub_node);
    let hub = TestHub::start(
        "@pub",
        vec![stream("doc", &sd, "doc.pdf", data.len() as u64)],
    );
    let node = Node::new();
    let out = node.path("got.pdf");
    let url = "lbry://@pub/doc";
    node.ok(&[
        "get",
        url,
        "--hub",
        &hub.arg(),
        "--peer",
        &server.peer_arg(),
        "--no-bootstrap",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_file_is(&out, &data);
    let row = node.ok(&["ls", url, "--hub", &hub.arg()]);
    assert!(row.starts_with(&sd) && row.lines().count() == 1, "{row}");
    // A URL nobody claims is an error with the hub's words.
    let err = node.fails(&["ls", "lbry://@pub/nothing", "--hub", &hub.arg()], 1);
    assert!(err.contains("Could not find"), "{err}");
    // A running node answers status for one stream named by URL.
    let m = MountNode::start(&node, &["--hub", &hub.arg()]);
    let s = node.ok(&["status", "@pub/doc", "--hub", &hub.arg()]);
    assert!(s.starts_with(&format!("stream: {sd}")), "{s}");
    drop(m);
    // Bad input is a usage error (2), before any hub is asked.
    let err = node.fails(&["get", "not a url", "--hub", &hub.arg()], 2);
    assert!(err.contains("neither an sd hash"), "{err}");
}

/// Prints how long `ls MNT/@chan` takes for a channel of 1000 streams,
/// cold (every page from the hub, every signature checked) and warm (from
/// the mount's memory). A measurement, not a check:
/// `cargo test --release --test names_mount listing_a_1000_claim_channel -- --ignored --nocapture`
#[test]
#[ignore]
fn listing_a_1000_claim_channel() {
    let sd = "3c".repeat(48);
    let streams = (0..1000)
        .map(|i| stream(&format!("clip-{i:04}"), &sd, "c.mp4", 7))
        .collect();
    let hub = TestHub::start("@big", streams);
    let node = Node::new();
    let m = MountNode::start(&node, &["--hub", &hub.arg()]);
    let chan = m.mountpoint.join("@big");
    let timed = || {
        let t = std::time::Instant::now();
        let n = fs::read_dir(&chan).unwrap().count();
        (n, t.elapsed())
    };
    let (n, cold) = timed();
    let (_, warm) = timed();
    assert_eq!(n, 1000);
    println!("ls @big (1000 claims): cold {cold:?}, warm {warm:?}");
}
