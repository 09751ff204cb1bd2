//! BEP-15 trackers: a node announces the streams it holds to the trackers
//! it is given and finds peers through them, with no DHT and no `--peer`.

mod common;

use common::cli::{publisher, ServeNode, CHUNK};
use common::mount::{assert_file_is, MountNode};
use common::tracker::Tracker;

/// LBRY's info_hash for a stream: the first 20 bytes of its sd hash.
fn info_hash(sd: &str) -> [u8; 20] {
    let mut out = [0u8; 20];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&sd[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

#[test]
fn a_tracker_connects_a_leecher_mount_to_a_seeder_without_dht() {
    let (a_node, sd, data) = publisher(3 * CHUNK + 11, 21, "clip.bin");
    let other = a_node.path("other.bin");
    std::fs::write(&other, b"a second stream").unwrap();
    let other_sd = a_node.publish(&other);
    let tracker = Tracker::start(None);
    let seeder = ServeNode::start_with(&a_node, &["--tracker", &tracker.arg()]);
    // The seeder announced both streams it holds, with its blob server's
    // port, through one connection id (BEP-15's connect is not repeated).
    assert_eq!(tracker.wait_seeder(info_hash(&sd)), seeder.addr);
    assert_eq!(tracker.wait_seeder(info_hash(&other_sd)), seeder.addr);
    assert_eq!(tracker.connects(), 1);

    let b_node = common::cli::Node::new();
    let b = MountNode::start(&b_node, &["--tracker", &tracker.arg()]);
    assert_file_is(&b.file(&sd, "clip.bin"), &data);

    let status = a_node.ok(&["status"]);
    let line = format!("tracker {}: last success ", tracker.arg());
    assert!(status.contains(&line), "{status}");
    assert!(!status.contains("last error"), "{status}");
}

#[test]
fn status_shows_why_a_tracker_refused() {
    let (a_node, _sd, _data) = publisher(1000, 22, "small.bin");
    let tracker = Tracker::start(Some("torrent not registered"));
    let _seeder = ServeNode::start_with(&a_node, &["--tracker", &tracker.arg()]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let status = a_node.ok(&["status"]);
        if status.contains("the tracker refused: torrent not registered") {
            assert!(status.contains("last success never"), "{status}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{status}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(tracker.announces() >= 1);
}
