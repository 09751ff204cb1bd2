//! `lbrymount add MAGNET|btih:HASH|FILE.torrent` on a running mount: the
//! torrent is registered with the node and opened, and its path in the
//! mount is the answer.
//!
//! A `.torrent` file (read by the node, as `publish` reads its file) gives
//! the metadata at once: its info dict is kept in `DIR/torrents/` exactly
//! as a torrent fetched from peers is, so it opens with no peer and is
//! listed again at the next start. A magnet's `x.pe` peers and the
//! command's `--peer`s are asked for this torrent beside the `--bt-peer`s,
//! also by the torrent if it is already open; its UDP trackers (a magnet's
//! `tr`, a file's announce list; BEP 15) become the torrent's, kept for the
//! next start and asked as the DHT is (`bt_trackers`). Opening it is the
//! mount's own root lookup, with the read timeout and the errors `status`
//! shows.

use super::torrents::BtSource;
use crate::torrent::{magnet, metainfo};
use crate::vfs::{Vfs, ROOT};
use std::io::Read;
use std::path::{Path, PathBuf};

/// A `.torrent` file larger than this is refused (BEP 9's own bound on an
/// info dict, plus room for the rest).
const MAX_TORRENT_FILE: u64 = crate::wire::ut_metadata::MAX_METADATA + (1 << 20);

/// What `add` was given, checked before anything is registered.
struct Added {
    info_hash: [u8; 20],
    /// The info dict's bytes, from a `.torrent` file.
    info: Option<Vec<u8>>,
    /// Peers named for this torrent (`x.pe`, `--peer`), as `HOST:PORT`.
    peers: Vec<String>,
    /// The torrent's name, from a `.torrent` file.
    name: Option<String>,
    /// Its trackers' URLs (a magnet's `tr`, a file's announce list).
    trackers: Vec<String>,
}

/// Whether `source` names a torrent by link rather than by file.
pub fn is_link(source: &str) -> bool {
    source.starts_with("magnet:") || source.starts_with("btih:")
}

/// Registers the torrent `source` names and opens it in the mount; returns
/// its path there (`MOUNTPOINT/<infohash>/<name>`).
pub async fn add(
    bt: &BtSource,
    vfs: &Vfs,
    mountpoint: &Path,
    source: &str,
    peers: &[String],
) -> Result<PathBuf, String> {
    let mut added = if is_link(source) {
        let m = magnet::parse(source).map_err(|e| e.to_string())?;
        Added {
            info_hash: m.info_hash,
            info: None,
            peers: m.peers,
            name: None,
            trackers: m.trackers,
        }
    } else {
        let path = PathBuf::from(source);
        crate::blocking::run(move || read_torrent(&path))
            .await
            .map_err(|e| e.to_string())??
    };
    added.peers.extend(peers.iter().cloned());
    let addrs = super::parts::resolve(&added.peers)
        .await
        .map_err(|e| format!("{e:#}"))?;
    if let Some(info) = added.info {
        bt.keep_metadata(added.info_hash, info).await?;
    }
    bt.add_peers(added.info_hash, &addrs);
    bt.add_trackers(added.info_hash, &added.trackers).await?;
    let key = hex::encode(added.info_hash);
    let top = vfs.lookup(ROOT, key.as_ref()).await.map_err(|_| {
        format!("torrent {key} did not open within the read timeout; `lbrymount status` says why")
    })?;
    let listing = vfs.readdir(top.ino, 0).await.map_err(|e| e.to_string())?;
    let name = listing
        .into_iter()
        .map(|e| e.name)
        .find(|n| n != "." && n != "..");
    let at = mountpoint.join(&key);
    Ok(name.map_or(at.clone(), |n| at.join(n)))
}

/// A `.torrent` file's infohash, info dict and trackers, checked whole
/// before anything is kept.
fn read_torrent(path: &Path) -> Result<Added, String> {
    let shown = path.display();
    if !path.is_absolute() {
        return Err(format!("{shown}: the node needs an absolute path"));
    }
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_TORRENT_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    if bytes.len() as u64 > MAX_TORRENT_FILE {
        return Err(format!("{shown} is larger than a .torrent file can be"));
    }
    let bad = |e: metainfo::MetainfoError| format!("{shown} is not a usable torrent: {e}");
    let meta = metainfo::parse(&bytes).map_err(bad)?;
    let info = metainfo::info_bytes(&bytes).map_err(bad)?.to_vec();
    Ok(Added {
        info_hash: meta.info_hash,
        info: Some(info),
        peers: Vec::new(),
        name: Some(meta.name),
        trackers: meta.trackers,
    })
}

/// With no node running: keeps a `.torrent` file's metadata in the data
/// dir, so the next mount lists it; returns its infohash (hex) and name.
pub fn keep_offline(data_dir: &Path, torrent: &Path) -> Result<(String, String), String> {
    let added = read_torrent(torrent)?;
    let info = added.info.unwrap_or_default();
    super::torrent_state::save_info(data_dir, &added.info_hash, &info)
        .map_err(|e| format!("cannot keep the torrent's metadata: {e}"))?;
    let trackers = super::bt_trackers::specs(&added.trackers);
    super::torrent_state::save_trackers(data_dir, &added.info_hash, &trackers)
        .map_err(|e| format!("cannot keep the torrent's trackers: {e}"))?;
    Ok((hex::encode(added.info_hash), added.name.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torrent_file_is_checked_whole_and_bounded() {
        let d = tempfile::tempdir().unwrap();
        let rel = read_torrent(Path::new("x.torrent"));
        assert!(rel.is_err_and(|e| e.contains("absolute")));
        let junk = d.path().join("junk.torrent");
        std::fs::write(&junk, b"d4:infoi3ee").unwrap();
        assert!(read_torrent(&junk).is_err_and(|e| e.contains("not a usable torrent")));
        let big = d.path().join("big.torrent");
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(MAX_TORRENT_FILE + 1).unwrap();
        assert!(read_torrent(&big).is_err_and(|e| e.contains("larger")));
        let info = b"d6:lengthi3e4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae";
        let good = d.path().join("good.torrent");
        std::fs::write(&good, [&b"d4:info"[..], info, b"e"].concat()).unwrap();
        let added = read_torrent(&good).unwrap();
        assert_eq!(added.info.as_deref(), Some(&info[..]));
        assert_eq!(added.info_hash, crate::torrent::sha1(info));
    }

    #[test]
    fn links_are_told_from_files() {
        assert!(is_link("magnet:?xt=urn:btih:00"));
        assert!(is_link("btih:00"));
        assert!(!is_link("/tmp/magnet:x.torrent"));
    }
}
