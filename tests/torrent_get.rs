//! `lbrymount get` of a torrent from Debian's libtorrent seeding on
//! 127.0.0.1: by .torrent file, by infohash (metadata from the peer) and by
//! magnet link; and what it refuses.

mod common;

use common::cli::bin;
use common::libtorrent::{seed, Seed};
use std::path::Path;
use tokio::process::Command;

async fn get(args: &[&str]) -> std::process::Output {
    let out = Command::new(bin())
        .arg("--data-dir")
        .arg(tempfile::tempdir().unwrap().path())
        .arg("get")
        .args(args)
        .output();
    tokio::time::timeout(std::time::Duration::from_secs(120), out)
        .await
        .expect("get ends")
        .unwrap()
}

fn assert_album(seed: &Seed, dir: &Path) {
    seed.assert_files(&dir.join("album"));
    let names: Vec<_> = std::fs::read_dir(dir.join("album"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names.len(),
        3,
        "no padding file and no part file is left: {names:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torrent_file_an_infohash_and_a_magnet_link_each_get_the_whole_album() {
    let seed = seed().await;
    let peer = format!("127.0.0.1:{}", seed.port);
    let torrent = seed.torrent.to_str().unwrap().to_string();
    let btih = format!("btih:{}", seed.info_hash);
    let magnet = format!(
        "magnet:?xt=urn:btih:{}&dn=album&x.pe={peer}",
        seed.info_hash
    );
    for args in [
        vec![torrent.as_str(), "--peer", &peer],
        vec![btih.as_str(), "--peer", &peer],
        vec![magnet.as_str(), "--no-bootstrap"],
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = get(&[&args[..], &["-o", dir.path().to_str().unwrap()]].concat()).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {stderr}");
        assert!(
            stderr.contains("wrote 3 files, 1348705 bytes, of album"),
            "{stderr}"
        );
        assert_album(&seed, dir.path());
    }
    let dir = tempfile::tempdir().unwrap();
    let out = get(&[
        &torrent,
        "--peer",
        &peer,
        "-q",
        "-o",
        dir.path().to_str().unwrap(),
    ])
    .await;
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "-q: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_album(&seed, dir.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_usable_peer_is_a_clear_error_and_leaves_nothing_behind() {
    let seed = seed().await;
    let dir = tempfile::tempdir().unwrap();
    // A port nobody listens on, then the real seed asked for a torrent it does not have.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let out = get(&[
        seed.torrent.to_str().unwrap(),
        "--peer",
        &dead,
        "-o",
        dir.path().to_str().unwrap(),
    ])
    .await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no peer gave piece 0") && stderr.contains(&dead),
        "{stderr}"
    );
    let other = format!("btih:{}", "ab".repeat(20));
    let peer = format!("127.0.0.1:{}", seed.port);
    let out = get(&[&other, "--peer", &peer, "-o", dir.path().to_str().unwrap()]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("no peer gave the torrent's metadata"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing was written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symlink_planted_in_the_target_is_not_followed() {
    let seed = seed().await;
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), dir.path().join("album")).unwrap();
    let peer = format!("127.0.0.1:{}", seed.port);
    let out = get(&[
        seed.torrent.to_str().unwrap(),
        "--peer",
        &peer,
        "-o",
        dir.path().to_str().unwrap(),
    ])
    .await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("symbolic link"));
    assert_eq!(
        std::fs::read_dir(elsewhere.path()).unwrap().count(),
        0,
        "nothing written through the link"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_torrent_arguments_are_refused_before_any_network() {
    let out = get(&["magnet:?xt=urn:btih:zz", "--peer", "127.0.0.1:9"]).await;
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad infohash"));
    let dir = tempfile::tempdir().unwrap();
    let evil = dir.path().join("evil.torrent");
    let info = "d6:lengthi1e4:name2:..12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae";
    std::fs::write(&evil, format!("d4:info{info}e")).unwrap();
    let out = get(&[
        evil.to_str().unwrap(),
        "--peer",
        "127.0.0.1:9",
        "-o",
        dir.path().to_str().unwrap(),
    ])
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("not a usable torrent") && stderr.contains("`..`"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_peer_given_the_mainline_dht_finds_the_seed() {
    let seed = seed().await;
    let (boot, nodes) = common::mainline_dht::loopback_dht(4).await;
    // The seed's port announced in the DHT, as a client would.
    let ih: [u8; 20] = hex::decode(&seed.info_hash).unwrap().try_into().unwrap();
    let (stored, _) = nodes[1].announce(ih, seed.port).await.unwrap();
    assert!(stored > 0);
    let dir = tempfile::tempdir().unwrap();
    let btih = format!("btih:{}", seed.info_hash);
    let out = get(&[
        &btih,
        "--bootstrap",
        &boot.to_string(),
        "-o",
        dir.path().to_str().unwrap(),
    ])
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_album(&seed, dir.path());
}
