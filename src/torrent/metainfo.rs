//! A torrent's metainfo (BEP 3): the `info` dict names the files, their
//! sizes and the SHA-1 of every piece; its SHA-1 is the (v1) infohash.
//!
//! PURE and strict: a torrent whose paths would escape its folder, clash,
//! or whose piece list does not cover its size exactly is refused with the
//! reason, before anything is fetched. Padding files (BEP 47, attr `p`) are
//! kept in the layout (their bytes are in the pieces) and flagged so a
//! listing can hide them. Hybrid v1+v2 torrents are read by their v1 part.

use crate::collection::{check_path, check_tree};
use crate::wire::bencode::{self, Key, Value};
use crate::wire::krpc::Id20;
use std::collections::BTreeMap;

/// Files in one torrent, at most.
pub const MAX_FILES: usize = 100_000;
/// Largest piece accepted (libtorrent's limit is 128 MiB; real torrents stay far below).
pub const MAX_PIECE: u64 = 64 << 20;
/// Largest torrent accepted: 1 PiB.
pub const MAX_TOTAL: u64 = 1 << 50;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// `/`-joined path inside the torrent's folder (single-file: the name).
    pub path: String,
    pub length: u64,
    /// Where the file starts in the torrent's byte stream.
    pub offset: u64,
    /// A BEP 47 padding file: bytes in the pieces, not shown.
    pub pad: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metainfo {
    pub info_hash: Id20,
    pub name: String,
    pub piece_length: u64,
    pub pieces: Vec<Id20>,
    pub files: Vec<FileEntry>,
    pub total: u64,
    /// Whether the torrent is one file (files[0] is named `name`) or a folder.
    pub single_file: bool,
    /// `announce` then `announce-list`, deduplicated.
    pub trackers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetainfoError {
    #[error("not bencode: {0}")]
    Bencode(#[from] bencode::Invalid),
    #[error("field {0} is missing or of the wrong type")]
    Field(&'static str),
    #[error("{0}")]
    Bad(String),
    #[error("unsafe path: {0}")]
    Path(String),
}

impl From<crate::collection::CollectionError> for MetainfoError {
    fn from(e: crate::collection::CollectionError) -> Self {
        MetainfoError::Path(e.to_string())
    }
}

fn bad<T>(why: impl Into<String>) -> Result<T, MetainfoError> {
    Err(MetainfoError::Bad(why.into()))
}

type Dict = BTreeMap<Key, Value>;

fn get<'a>(d: &'a Dict, k: &str) -> Option<&'a Value> {
    d.get(&Key::Bytes(k.as_bytes().to_vec()))
}

fn int(d: &Dict, k: &'static str) -> Result<u64, MetainfoError> {
    let i = get(d, k)
        .and_then(Value::as_int)
        .ok_or(MetainfoError::Field(k))?;
    u64::try_from(i).map_err(|_| MetainfoError::Field(k))
}

fn text(v: &Value, what: &'static str) -> Result<String, MetainfoError> {
    let b = v.as_bytes().ok_or(MetainfoError::Field(what))?;
    String::from_utf8(b.to_vec()).map_err(|_| MetainfoError::Bad(format!("{what} is not UTF-8")))
}

/// Parses a `.torrent` file.
pub fn parse(torrent: &[u8]) -> Result<Metainfo, MetainfoError> {
    let (start, end) = info_span(torrent)?;
    let mut m = parse_info(&torrent[start..end])?;
    m.trackers = trackers(&bencode::decode(torrent)?);
    Ok(m)
}

/// The exact bytes of a `.torrent` file's `info` dict: its SHA-1 is the
/// infohash, and BEP 9 hands them to peers as they are.
pub fn info_bytes(torrent: &[u8]) -> Result<&[u8], MetainfoError> {
    let (start, end) = info_span(torrent)?;
    Ok(&torrent[start..end])
}

/// Parses the bytes of an `info` dict alone (as BEP 9 delivers them); the
/// infohash is their SHA-1.
pub fn parse_info(info_bytes: &[u8]) -> Result<Metainfo, MetainfoError> {
    let v = bencode::decode(info_bytes)?;
    let d = v.as_dict().ok_or(MetainfoError::Field("info"))?;
    let name = text(get(d, "name").ok_or(MetainfoError::Field("name"))?, "name")?;
    check_component(&name)?;
    let piece_length = int(d, "piece length")?;
    if piece_length == 0 || piece_length > MAX_PIECE {
        return bad(format!("piece length {piece_length} is out of range"));
    }
    let raw = get(d, "pieces")
        .and_then(Value::as_bytes)
        .ok_or(MetainfoError::Field("pieces"))?;
    if raw.len() % 20 != 0 {
        return bad("pieces is not a whole number of SHA-1 hashes");
    }
    let pieces: Vec<Id20> = raw
        .chunks_exact(20)
        .filter_map(|c| c.try_into().ok())
        .collect();
    let (files, single_file) = match get(d, "files") {
        Some(list) => (files(list)?, false),
        None => {
            let length = int(d, "length")?;
            (
                vec![FileEntry {
                    path: name.clone(),
                    length,
                    offset: 0,
                    pad: false,
                }],
                true,
            )
        }
    };
    let total = files.last().map_or(0, |f| f.offset + f.length);
    if total > MAX_TOTAL {
        return bad(format!("{total} bytes is more than a torrent may hold"));
    }
    if pieces.len() as u64 != total.div_ceil(piece_length) {
        return bad(format!(
            "{} pieces do not cover {total} bytes",
            pieces.len()
        ));
    }
    let info_hash = super::sha1(info_bytes);
    Ok(Metainfo {
        info_hash,
        name,
        piece_length,
        pieces,
        files,
        total,
        single_file,
        trackers: Vec::new(),
    })
}

fn check_component(c: &str) -> Result<(), MetainfoError> {
    if c.contains('/') {
        return bad(format!("{c:?} contains a slash"));
    }
    Ok(check_path(c)?)
}

fn files(list: &Value) -> Result<Vec<FileEntry>, MetainfoError> {
    let list = list.as_list().ok_or(MetainfoError::Field("files"))?;
    if list.is_empty() || list.len() > MAX_FILES {
        return bad(format!("{} files (1 to {MAX_FILES} allowed)", list.len()));
    }
    let mut out = Vec::with_capacity(list.len());
    let mut offset = 0u64;
    for f in list {
        let f = f.as_dict().ok_or(MetainfoError::Field("files"))?;
        let length = int(f, "length")?;
        let parts = get(f, "path")
            .and_then(Value::as_list)
            .ok_or(MetainfoError::Field("path"))?;
        let mut comps = Vec::with_capacity(parts.len());
        for p in parts {
            let c = text(p, "path")?;
            check_component(&c)?;
            comps.push(c);
        }
        let path = comps.join("/");
        check_path(&path)?;
        let pad = get(f, "attr")
            .and_then(Value::as_bytes)
            .is_some_and(|a| a.contains(&b'p'));
        out.push(FileEntry {
            path,
            length,
            offset,
            pad,
        });
        offset = offset
            .checked_add(length)
            .filter(|t| *t <= MAX_TOTAL)
            .ok_or(MetainfoError::Bad("sizes overflow".into()))?;
    }
    check_tree(out.iter().filter(|f| !f.pad).map(|f| f.path.as_str()))?;
    Ok(out)
}

/// The byte range of the top-level `info` value.
fn info_span(torrent: &[u8]) -> Result<(usize, usize), MetainfoError> {
    if torrent.first() != Some(&b'd') {
        return Err(MetainfoError::Field("info"));
    }
    let mut pos = 1;
    while torrent.get(pos).is_some_and(|b| *b != b'e') {
        let (key, n) = bencode::decode_prefix(&torrent[pos..])?;
        pos += n;
        let (_, m) = bencode::decode_prefix(&torrent[pos..])?;
        if key.as_bytes() == Some(b"info") {
            return Ok((pos, pos + m));
        }
        pos += m;
    }
    Err(MetainfoError::Field("info"))
}

fn trackers(top: &Value) -> Vec<String> {
    let Some(d) = top.as_dict() else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    let mut add = |v: &Value| {
        if let Some(s) = v.as_bytes().and_then(|b| std::str::from_utf8(b).ok()) {
            if out.len() < 64 && !out.iter().any(|t| t == s) {
                out.push(s.to_owned());
            }
        }
    };
    if let Some(a) = get(d, "announce") {
        add(a);
    }
    for tier in get(d, "announce-list")
        .and_then(Value::as_list)
        .unwrap_or_default()
    {
        for t in tier.as_list().unwrap_or_default() {
            add(t);
        }
    }
    out
}

impl Metainfo {
    /// The length of piece `i` (the last one may be short).
    pub fn piece_len(&self, i: u32) -> u64 {
        let start = u64::from(i) * self.piece_length;
        self.total.saturating_sub(start).min(self.piece_length)
    }
}

#[cfg(test)]
#[path = "metainfo_tests.rs"]
mod tests;
