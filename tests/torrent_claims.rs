//! LBRY claims whose source is a torrent (`bt_infohash`, no sd hash), as a
//! user meets them: a test hub (real TCP, real signed transactions) names
//! the torrent Debian's libtorrent seeds on 127.0.0.1; in the mount the
//! claim is a symlink to the torrent's own directory, and `get` of the
//! claim's URL downloads the torrent.

mod common;

use common::cli::Node;
use common::hub::{stream, StreamSpec, TestHub};
use common::libtorrent::{seed, Seed};
use common::mount::MountNode;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// `@films` with `album` (the seed's torrent) and `plain` (an LBRY stream
/// nobody serves), and `loose`, the torrent again outside the channel.
fn hub_for(seed: &Seed) -> TestHub {
    let ih: [u8; 20] = hex::decode(&seed.info_hash).unwrap().try_into().unwrap();
    let torrent = |name: &str, in_channel: bool| StreamSpec {
        sd_hash: None,
        bt_infohash: Some(ih),
        in_channel,
        ..stream(name, &"3c".repeat(48), "album", 1_348_705)
    };
    TestHub::start(
        "@films",
        vec![
            torrent("album", true),
            stream("plain", &"4d".repeat(48), "plain.bin", 10),
            torrent("loose", false),
        ],
    )
}

fn listing(dir: &Path) -> Vec<(String, bool)> {
    let mut all: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("list {}: {e}", dir.display()))
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            (name, e.file_type().unwrap().is_symlink())
        })
        .collect();
    all.sort();
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torrent_claim_is_a_symlink_to_the_torrent_and_reads_byte_for_byte() {
    let seed = seed().await;
    let hub = hub_for(&seed);
    let node = Node::new();
    let peer = format!("127.0.0.1:{}", seed.port);
    let m = MountNode::start(&node, &["--hub", &hub.arg(), "--bt-peer", &peer]);

    let chan = m.mountpoint.join("@films");
    let listed = listing(&chan);
    let want = [("album".to_string(), true), ("plain".to_string(), false)];
    assert_eq!(listed, want, "the torrent claim is listed as a link");
    let link = fs::read_link(chan.join("album")).unwrap();
    assert_eq!(link, Path::new("..").join(&seed.info_hash));
    seed.assert_files(&chan.join("album").join("album"));
    // Through the name alone, and under the infohash: one torrent.
    let loose = fs::read_link(m.mountpoint.join("loose"));
    assert_eq!(
        loose.unwrap_or_else(|e| panic!("{e}: {}", node.ok(&["status"]))),
        Path::new(&seed.info_hash)
    );
    let by_name = fs::metadata(m.mountpoint.join("loose/album/c.txt")).unwrap();
    let by_hash = fs::metadata(m.mountpoint.join(&seed.info_hash).join("album/c.txt"));
    assert_eq!(
        by_name.ino(),
        by_hash.unwrap().ino(),
        "the same inode both ways"
    );
    assert_eq!(
        fs::read(m.mountpoint.join("loose/album/c.txt")).unwrap(),
        seed.file("c.txt")
    );
    let root = listing(&m.mountpoint);
    assert!(root.contains(&(seed.info_hash.clone(), false)), "{root:?}");
    assert!(root.contains(&("loose".to_string(), true)), "{root:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_bt_a_torrent_claim_is_not_found_with_the_reason_in_status() {
    let seed = seed().await;
    let hub = hub_for(&seed);
    let node = Node::new();
    let m = MountNode::start(&node, &["--hub", &hub.arg(), "--no-bt"]);
    let chan = m.mountpoint.join("@films");
    assert_eq!(listing(&chan), [("plain".to_string(), false)]);
    let err = fs::symlink_metadata(m.mountpoint.join("loose")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{err}");
    let status = node.ok(&["status"]);
    let why = status.lines().find(|l| l.contains("loose"));
    assert!(
        why.is_some_and(|l| l.contains(&seed.info_hash) && l.contains("--no-bt")),
        "{status}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_of_a_torrent_claims_url_downloads_the_torrent() {
    let seed = seed().await;
    let hub = hub_for(&seed);
    let node = Node::new();
    let peer = format!("127.0.0.1:{}", seed.port);
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().to_str().unwrap();
    let hub_addr = hub.arg();
    let args = [
        "--hub",
        &hub_addr,
        "get",
        "lbry://@films/album",
        "--peer",
        &peer,
        "--no-bootstrap",
        "-o",
        out,
    ];
    let mut cmd = node.cmd(&args);
    let got = tokio::task::spawn_blocking(move || cmd.output());
    let got = tokio::time::timeout(std::time::Duration::from_secs(120), got);
    let got = got.await.expect("get ends").unwrap().unwrap();
    let stderr = String::from_utf8_lossy(&got.stderr);
    assert!(got.status.success(), "{stderr}");
    seed.assert_files(&out_dir.path().join("album"));
}
