//! Magnet links (BEP 9) and the short forms a user types: what `add` and a
//! mount path take to name a torrent by its infohash.
//!
//! Accepted: `magnet:?xt=urn:btih:<40 hex | 32 base32>&dn=…&tr=…&x.pe=…`,
//! `btih:<40 hex>` and a bare 40-hex infohash. PURE and bounded: a link
//! over [`MAX_LEN`] bytes, or with more than [`MAX_LIST`] trackers or peers,
//! is refused; a v2-only link (`urn:btmh:`) is refused with that reason.

use crate::wire::krpc::Id20;

pub const MAX_LEN: usize = 8192;
pub const MAX_LIST: usize = 64;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Magnet {
    pub info_hash: Id20,
    /// `dn`: the display name, until the metadata gives the real one.
    pub name: Option<String>,
    /// `tr`: tracker URLs.
    pub trackers: Vec<String>,
    /// `x.pe`: peers as `HOST:PORT`.
    pub peers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MagnetError {
    #[error("not a magnet link, btih:HASH or 40-hex infohash")]
    NotMagnet,
    #[error("the link is longer than {MAX_LEN} bytes")]
    TooLong,
    #[error("the link has no urn:btih: infohash")]
    NoInfohash,
    #[error("v2-only magnet links (urn:btmh) are not supported; give the v1 infohash")]
    V2Only,
    #[error("bad infohash {0:?}: 40 hex or 32 base32 characters")]
    BadHash(String),
    #[error("more than {MAX_LIST} trackers or peers")]
    TooMany,
    #[error("bad percent-encoding in {0:?}")]
    BadEscape(String),
}

pub fn parse(s: &str) -> Result<Magnet, MagnetError> {
    if s.len() > MAX_LEN {
        return Err(MagnetError::TooLong);
    }
    if let Some(query) = s.strip_prefix("magnet:?") {
        return parse_query(query);
    }
    let hash = s.strip_prefix("btih:").unwrap_or(s);
    if hash.len() != 40 {
        return Err(MagnetError::NotMagnet);
    }
    Ok(Magnet {
        info_hash: decode_hash(hash)?,
        ..Magnet::default()
    })
}

fn parse_query(query: &str) -> Result<Magnet, MagnetError> {
    let (mut hash, mut v2) = (None, false);
    let mut m = Magnet::default();
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = unescape(v)?;
        match k {
            "xt" if v.starts_with("urn:btih:") => {
                hash = Some(decode_hash(&v["urn:btih:".len()..])?)
            }
            "xt" if v.starts_with("urn:btmh:") => v2 = true,
            "dn" => m.name = Some(v),
            "tr" => push(&mut m.trackers, v)?,
            "x.pe" => push(&mut m.peers, v)?,
            _ => {}
        }
    }
    m.info_hash = match (hash, v2) {
        (Some(h), _) => h,
        (None, true) => return Err(MagnetError::V2Only),
        (None, false) => return Err(MagnetError::NoInfohash),
    };
    Ok(m)
}

fn push(list: &mut Vec<String>, v: String) -> Result<(), MagnetError> {
    if list.len() >= MAX_LIST {
        return Err(MagnetError::TooMany);
    }
    if !list.contains(&v) {
        list.push(v);
    }
    Ok(())
}

fn decode_hash(h: &str) -> Result<Id20, MagnetError> {
    let bad = || MagnetError::BadHash(h.chars().take(64).collect());
    let bytes = match h.len() {
        40 => hex::decode(h).map_err(|_| bad())?,
        32 => base32(h).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    bytes.try_into().map_err(|_| bad())
}

/// RFC 4648 base32, no padding, either case.
fn base32(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let (mut acc, mut bits) = (0u64, 0u32);
    for c in s.bytes() {
        let v = match c.to_ascii_uppercase() {
            c @ b'A'..=b'Z' => c - b'A',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        acc = (acc << 5) | u64::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

fn unescape(v: &str) -> Result<String, MagnetError> {
    let bad = || MagnetError::BadEscape(v.chars().take(64).collect());
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b.get(i + 1..i + 3).ok_or_else(bad)?;
                let s = std::str::from_utf8(hex).map_err(|_| bad())?;
                out.push(u8::from_str_radix(s, 16).map_err(|_| bad())?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a";

    #[test]
    fn a_full_magnet_link_gives_hash_name_trackers_and_peers() {
        let link = format!("magnet:?xt=urn:btih:{HEX}&dn=Big+Buck%20Bunny&tr=udp%3A%2F%2F127.0.0.1%3A6969&x.pe=127.0.0.1:6881&tr=udp%3A%2F%2F127.0.0.1%3A6969");
        let m = parse(&link).unwrap();
        assert_eq!(hex::encode(m.info_hash), HEX);
        assert_eq!(m.name.as_deref(), Some("Big Buck Bunny"));
        assert_eq!(
            m.trackers,
            vec!["udp://127.0.0.1:6969"],
            "duplicates dropped"
        );
        assert_eq!(m.peers, vec!["127.0.0.1:6881"]);
    }

    #[test]
    fn base32_hex_and_short_forms_name_the_same_torrent() {
        let b32 = "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK";
        let from_b32 = parse(&format!("magnet:?xt=urn:btih:{b32}")).unwrap();
        assert_eq!(hex::encode(from_b32.info_hash), HEX);
        assert_eq!(
            parse(&format!("btih:{HEX}")).unwrap().info_hash,
            from_b32.info_hash
        );
        assert_eq!(
            parse(&HEX.to_uppercase()).unwrap().info_hash,
            from_b32.info_hash
        );
    }

    #[test]
    fn bad_links_are_refused_with_the_reason() {
        assert_eq!(parse("magnet:?dn=x"), Err(MagnetError::NoInfohash));
        assert_eq!(
            parse("magnet:?xt=urn:btmh:1220abcd"),
            Err(MagnetError::V2Only)
        );
        assert!(matches!(
            parse("magnet:?xt=urn:btih:zz"),
            Err(MagnetError::BadHash(_))
        ));
        assert!(matches!(
            parse("magnet:?xt=urn:btih:%zz"),
            Err(MagnetError::BadEscape(_))
        ));
        assert_eq!(
            parse("http://example.invalid/"),
            Err(MagnetError::NotMagnet)
        );
        assert_eq!(parse(&"a".repeat(MAX_LEN + 1)), Err(MagnetError::TooLong));
        let many: String = (0..=MAX_LIST)
            .map(|i| format!("&tr=udp://h{i}:1"))
            .collect();
        assert_eq!(
            parse(&format!("magnet:?xt=urn:btih:{HEX}{many}")),
            Err(MagnetError::TooMany)
        );
    }
}
