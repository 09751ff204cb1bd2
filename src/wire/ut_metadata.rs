//! BEP 10's extension handshake and BEP 9's `ut_metadata` messages: how a
//! client that knows only an infohash gets the `info` dict from a peer, in
//! 16 KiB pieces. Both ride in peer-wire message 20 (`Extended`).
//!
//! PURE. Bounds: a metadata size over [`MAX_METADATA`] is refused (the
//! caller would otherwise allocate what a peer says).

use super::bencode::{self, encode_standard, Key, Value};
use std::collections::BTreeMap;

/// Our local id for `ut_metadata` (what peers put in messages to us).
pub const OUR_UT_METADATA: u8 = 1;
/// The size of a metadata piece.
pub const PIECE: usize = 16 * 1024;
/// The largest info dict accepted (a torrent of ~800 000 pieces).
pub const MAX_METADATA: u64 = 16 << 20;

/// What a peer's extension handshake tells us.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtHandshake {
    /// The peer's id for `ut_metadata`, if it speaks it.
    pub ut_metadata: Option<u8>,
    pub metadata_size: Option<u64>,
}

/// A `ut_metadata` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaMsg {
    Request(u32),
    Data {
        piece: u32,
        total_size: u64,
        data: Vec<u8>,
    },
    Reject(u32),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("not bencode: {0}")]
    Bencode(#[from] bencode::Invalid),
    #[error("field {0} is missing or out of range")]
    Field(&'static str),
}

fn dict(pairs: Vec<(&str, Value)>) -> Value {
    Value::Dict(pairs.into_iter().map(|(k, v)| (Key::from(k), v)).collect())
}

fn get<'a>(d: &'a BTreeMap<Key, Value>, k: &str) -> Option<&'a Value> {
    d.get(&Key::Bytes(k.as_bytes().to_vec()))
}

/// Our extension handshake: we speak `ut_metadata` (and hold no metadata
/// to offer unless `metadata_size` is given).
pub fn encode_handshake(metadata_size: Option<u64>) -> Vec<u8> {
    let m = dict(vec![(
        "ut_metadata",
        Value::Int(i64::from(OUR_UT_METADATA)),
    )]);
    let mut pairs = vec![("m", m), ("v", Value::bytes(b"lbrymount"))];
    if let Some(n) = metadata_size {
        pairs.push(("metadata_size", Value::Int(n as i64)));
    }
    encode_standard(&dict(pairs))
}

/// The peer's id for `ut_metadata` in its extension handshake, whatever
/// else the handshake holds (a seed only needs where to send answers).
pub fn peer_id_of_ut_metadata(payload: &[u8]) -> Option<u8> {
    let v = bencode::decode(payload).ok()?;
    let m = get(v.as_dict()?, "m")?.as_dict()?;
    let id = get(m, "ut_metadata")?.as_int()?;
    u8::try_from(id).ok().filter(|i| *i != 0)
}

pub fn decode_handshake(payload: &[u8]) -> Result<ExtHandshake, Invalid> {
    let v = bencode::decode(payload)?;
    let d = v.as_dict().ok_or(Invalid::Field("handshake"))?;
    let ut = get(d, "m")
        .and_then(Value::as_dict)
        .and_then(|m| get(m, "ut_metadata"))
        .and_then(Value::as_int);
    let ut_metadata = match ut {
        None | Some(0) => None,
        Some(i) => Some(u8::try_from(i).map_err(|_| Invalid::Field("ut_metadata"))?),
    };
    let metadata_size = match get(d, "metadata_size").and_then(Value::as_int) {
        None => None,
        Some(n) if n > 0 && n as u64 <= MAX_METADATA => Some(n as u64),
        Some(_) => return Err(Invalid::Field("metadata_size")),
    };
    Ok(ExtHandshake {
        ut_metadata,
        metadata_size,
    })
}

pub fn encode(m: &MetaMsg) -> Vec<u8> {
    let (kind, piece) = match m {
        MetaMsg::Request(p) => (0, *p),
        MetaMsg::Data { piece, .. } => (1, *piece),
        MetaMsg::Reject(p) => (2, *p),
    };
    let mut pairs = vec![
        ("msg_type", Value::Int(kind)),
        ("piece", Value::Int(i64::from(piece))),
    ];
    if let MetaMsg::Data { total_size, .. } = m {
        pairs.push(("total_size", Value::Int(*total_size as i64)));
    }
    let mut out = encode_standard(&dict(pairs));
    if let MetaMsg::Data { data, .. } = m {
        out.extend_from_slice(data);
    }
    out
}

/// A seed's answer to a request for piece `piece` of `info` (the info
/// dict's bytes): the piece, or a reject when there is no such piece.
pub fn answer(info: &[u8], piece: u32) -> MetaMsg {
    let start = (piece as usize).saturating_mul(PIECE);
    match info.get(start..) {
        Some(rest) if !rest.is_empty() => MetaMsg::Data {
            piece,
            total_size: info.len() as u64,
            data: rest[..rest.len().min(PIECE)].to_vec(),
        },
        _ => MetaMsg::Reject(piece),
    }
}

pub fn decode(payload: &[u8]) -> Result<MetaMsg, Invalid> {
    let (v, used) = bencode::decode_prefix(payload)?;
    let d = v.as_dict().ok_or(Invalid::Field("message"))?;
    let int = |k: &'static str| get(d, k).and_then(Value::as_int).ok_or(Invalid::Field(k));
    let piece = u32::try_from(int("piece")?).map_err(|_| Invalid::Field("piece"))?;
    match int("msg_type")? {
        0 => Ok(MetaMsg::Request(piece)),
        1 => {
            let total = int("total_size")?;
            if total <= 0 || total as u64 > MAX_METADATA {
                return Err(Invalid::Field("total_size"));
            }
            let data = payload[used..].to_vec();
            Ok(MetaMsg::Data {
                piece,
                total_size: total as u64,
                data,
            })
        }
        2 => Ok(MetaMsg::Reject(piece)),
        _ => Err(Invalid::Field("msg_type")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_bep9s_examples() {
        assert_eq!(encode(&MetaMsg::Request(0)), b"d8:msg_typei0e5:piecei0ee");
        assert_eq!(encode(&MetaMsg::Reject(0)), b"d8:msg_typei2e5:piecei0ee");
        let data = MetaMsg::Data {
            piece: 0,
            total_size: 3425,
            data: b"xxxx".to_vec(),
        };
        assert_eq!(
            encode(&data),
            b"d8:msg_typei1e5:piecei0e10:total_sizei3425eexxxx"
        );
        assert_eq!(decode(&encode(&data)).unwrap(), data);
    }

    #[test]
    fn a_seed_answers_each_piece_and_rejects_past_the_end() {
        let info: Vec<u8> = (0..PIECE + 5).map(|i| i as u8).collect();
        let MetaMsg::Data {
            data, total_size, ..
        } = answer(&info, 0)
        else {
            panic!("piece 0 is there")
        };
        assert_eq!(
            (data.as_slice(), total_size),
            (&info[..PIECE], info.len() as u64)
        );
        let MetaMsg::Data { data, piece, .. } = answer(&info, 1) else {
            panic!("piece 1 is there")
        };
        assert_eq!((data.as_slice(), piece), (&info[PIECE..], 1));
        assert_eq!(answer(&info, 2), MetaMsg::Reject(2));
        assert_eq!(answer(&info, u32::MAX), MetaMsg::Reject(u32::MAX));
        assert_eq!(answer(&[], 0), MetaMsg::Reject(0));
    }

    #[test]
    fn the_handshake_names_ut_metadata_and_bounds_the_size() {
        let ours = encode_handshake(None);
        assert_eq!(
            decode_handshake(&ours).unwrap(),
            ExtHandshake {
                ut_metadata: Some(1),
                metadata_size: None
            }
        );
        let theirs = b"d1:md11:ut_metadatai3ee13:metadata_sizei31235ee";
        assert_eq!(
            decode_handshake(theirs).unwrap(),
            ExtHandshake {
                ut_metadata: Some(3),
                metadata_size: Some(31235)
            }
        );
        let huge = format!(
            "d1:md11:ut_metadatai3ee13:metadata_sizei{}ee",
            MAX_METADATA + 1
        );
        assert_eq!(
            decode_handshake(huge.as_bytes()),
            Err(Invalid::Field("metadata_size"))
        );
        let odd_size = b"d1:md11:ut_metadatai3ee13:metadata_sizei-1ee";
        assert!(decode_handshake(odd_size).is_err());
        assert_eq!(
            peer_id_of_ut_metadata(odd_size),
            Some(3),
            "a seed still answers"
        );
        assert_eq!(peer_id_of_ut_metadata(b"d1:md11:ut_metadatai300eee"), None);
        let off = b"d1:md11:ut_metadatai0eee";
        assert_eq!(
            decode_handshake(off).unwrap().ut_metadata,
            None,
            "0 means disabled (BEP 10)"
        );
        assert_eq!(peer_id_of_ut_metadata(off), None);
    }
}
