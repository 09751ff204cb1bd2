//! What the node keeps of a torrent between runs, under `DIR/torrents/`:
//! `<infohash>.info`, the info dict's exact bytes (so the torrent opens with
//! no peer, checked against the infohash when read back), and
//! `<infohash>.pieces`, one line per piece stored, `INDEX HASH[,HASH]`
//! (the piece's chunks in the blob store), and `<infohash>.trackers`, its
//! UDP trackers as `HOST:PORT` lines.
//!
//! The piece file only grows while a torrent is open and is rewritten
//! whole (one line per piece) when it is opened next, so it stays bounded
//! by the torrent's piece count. A torn or foreign line is skipped; a chunk
//! evicted since is found missing when read, and fetched again.

use crate::hash::BlobHash;
use crate::torrent::pieces::{KnownPieces, PieceLog, Place};
use crate::torrent::{metainfo, sha1, Metainfo};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A piece file longer than this is not read (a torrent of 64 Ki pieces of
/// 2 chunks needs about 13 MiB).
const MAX_PIECE_FILE: u64 = 64 << 20;

/// The torrent state directory under a data dir.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("torrents")
}

fn path(data_dir: &Path, info_hash: &[u8; 20], ext: &str) -> PathBuf {
    dir(data_dir).join(format!("{}.{ext}", hex::encode(info_hash)))
}

/// Torrents kept by earlier runs (at most `max`), as 40-hex infohashes.
pub fn kept(data_dir: &Path, max: usize) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir(data_dir)) else {
        return Vec::new();
    };
    let names = entries.filter_map(|e| e.ok()?.file_name().into_string().ok());
    let hashes = names.filter_map(|n| {
        let h = n.strip_suffix(".info")?;
        (h.len() == 40 && h.bytes().all(|b| b.is_ascii_hexdigit())).then(|| h.to_ascii_lowercase())
    });
    hashes.take(max).collect()
}

/// The kept metadata of `info_hash`, if any and if it still hashes to it.
pub fn load_info(data_dir: &Path, info_hash: &[u8; 20]) -> Option<(Metainfo, Vec<u8>)> {
    let bytes = std::fs::read(path(data_dir, info_hash, "info")).ok()?;
    if &sha1(&bytes) != info_hash {
        tracing::warn!(info_hash = %hex::encode(info_hash), "kept metadata does not match; ignored");
        return None;
    }
    let meta = metainfo::parse_info(&bytes).ok()?;
    Some((meta, bytes))
}

/// Keeps the metadata's bytes (a caller that only saves a later fetch may
/// ignore a failure).
pub fn save_info(data_dir: &Path, info_hash: &[u8; 20], bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir(data_dir))?;
    crate::atomic_file::write(&path(data_dir, info_hash, "info"), bytes)
}

/// A trackers file longer than this is not read (8 lines of host names).
const MAX_TRACKER_FILE: u64 = 4096;

/// Keeps a torrent's trackers (`HOST:PORT`, one per line).
pub fn save_trackers(
    data_dir: &Path,
    info_hash: &[u8; 20],
    specs: &[String],
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir(data_dir))?;
    let text: String = specs.iter().map(|s| format!("{s}\n")).collect();
    crate::atomic_file::write(&path(data_dir, info_hash, "trackers"), text.as_bytes())
}

/// A torrent's kept trackers (none if there is no file, or it is too
/// large); lines that are not `HOST:PORT` are skipped.
pub fn load_trackers(data_dir: &Path, info_hash: &[u8; 20]) -> Vec<String> {
    let file = path(data_dir, info_hash, "trackers");
    let small = std::fs::metadata(&file).is_ok_and(|m| m.len() <= MAX_TRACKER_FILE);
    let text = small.then(|| std::fs::read_to_string(&file).ok()).flatten();
    let lines = text.as_deref().unwrap_or("").lines();
    let specs =
        lines.filter_map(|l| super::bt_trackers::udp_tracker(&format!("udp://{}", l.trim())));
    specs.take(super::bt_trackers::MAX_TRACKERS).collect()
}

/// The pieces recorded for `info_hash`, compacted on disk to one line each,
/// and the log that records the next ones.
pub fn open_pieces(data_dir: &Path, info_hash: &[u8; 20]) -> (KnownPieces, Box<dyn PieceLog>) {
    let file = path(data_dir, info_hash, "pieces");
    let known = read_pieces(&file);
    let text: String = known.iter().map(|(i, c)| line(*i, c)).collect();
    let kept = std::fs::create_dir_all(dir(data_dir))
        .and_then(|()| crate::atomic_file::write(&file, text.as_bytes()));
    if let Err(e) = kept {
        tracing::warn!(error = %e, "cannot keep the torrent's piece list");
    }
    let log = FileLog(Mutex::new(file));
    (known.into_iter().collect(), Box::new(log))
}

fn read_pieces(file: &Path) -> BTreeMap<u32, Place> {
    let too_big = std::fs::metadata(file).is_ok_and(|m| m.len() > MAX_PIECE_FILE);
    let text = match too_big {
        true => String::new(),
        false => std::fs::read_to_string(file).unwrap_or_default(),
    };
    text.lines().filter_map(parse_line).collect()
}

/// `INDEX HASH[,HASH…][@AT]`: a piece's chunks, and where it starts in the
/// first when it was packed with others (see `torrent::pieces::Place`).
fn parse_line(l: &str) -> Option<(u32, Place)> {
    let (i, rest) = l.split_once(' ')?;
    let (hashes, at) = match rest.split_once('@') {
        Some((hashes, at)) => (hashes, at.parse().ok()?),
        None => (rest, 0),
    };
    let chunks: Result<Vec<BlobHash>, _> = hashes.split(',').map(str::parse).collect();
    let place = Place {
        chunks: chunks.ok()?.into(),
        at,
    };
    Some((i.parse().ok()?, place))
}

fn line(i: u32, place: &Place) -> String {
    let hashes: Vec<String> = place.chunks.iter().map(BlobHash::to_hex).collect();
    match place.at {
        0 => format!("{i} {}\n", hashes.join(",")),
        at => format!("{i} {}@{at}\n", hashes.join(",")),
    }
}

/// Appends each piece stored to the piece file.
struct FileLog(Mutex<PathBuf>);

impl PieceLog for FileLog {
    fn record(&self, i: u32, place: &Place) {
        let file = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let r = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&*file)
            .and_then(|mut f| f.write_all(line(i, place).as_bytes()));
        if let Err(e) = r {
            tracing::debug!(error = %e, piece = i, "cannot record the piece");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_recorded_are_read_back_compacted_and_torn_lines_skipped() {
        let d = tempfile::tempdir().unwrap();
        let ih = [3u8; 20];
        let h = |b: u8| BlobHash::digest(&[b]);
        let (known, log) = open_pieces(d.path(), &ih);
        assert!(known.is_empty());
        let alone = Place::alone;
        let packed = Place {
            chunks: vec![h(6)].into(),
            at: 524288,
        };
        log.record(4, &alone(vec![h(1), h(2)]));
        log.record(0, &alone(vec![h(3)]));
        log.record(4, &alone(vec![h(5)]));
        log.record(2, &packed);
        drop(log);
        let file = path(d.path(), &ih, "pieces");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&file)
            .unwrap();
        f.write_all(b"7 abc\n8 ").unwrap();
        f.write_all(format!("{}@x\n9 ", h(7).to_hex()).as_bytes())
            .unwrap();
        let (known, _log) = open_pieces(d.path(), &ih);
        let want = vec![(0, alone(vec![h(3)])), (2, packed), (4, alone(vec![h(5)]))];
        assert_eq!(known, want);
        assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 3);
    }

    #[test]
    fn metadata_that_does_not_hash_to_the_infohash_is_ignored() {
        let d = tempfile::tempdir().unwrap();
        let info = b"d6:lengthi3e4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae";
        let ih = sha1(info);
        save_info(d.path(), &ih, info).unwrap();
        assert_eq!(load_info(d.path(), &ih).map(|m| m.0.total), Some(3));
        save_info(d.path(), &[1; 20], info).unwrap();
        assert!(load_info(d.path(), &[1; 20]).is_none());
    }
}
