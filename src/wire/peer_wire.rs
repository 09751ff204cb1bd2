//! BitTorrent's peer wire protocol (BEP 3; BEP 10's extended message kept
//! opaque): the 68-byte handshake and length-prefixed messages.
//!
//! PURE. `decode` is incremental over a receive buffer: `Ok(None)` means
//! "need more bytes". A message longer than [`MAX_MESSAGE`] is refused
//! before it is buffered, so a peer cannot make us hold more than that.

use super::krpc::Id20;

pub const PROTOCOL: &[u8; 19] = b"BitTorrent protocol";
pub const HANDSHAKE_LEN: usize = 68;
/// Largest message accepted: a 16 KiB block plus headers, or a bitfield
/// of 8 million pieces.
pub const MAX_MESSAGE: usize = 1 << 20;
/// The block size every client requests and serves.
pub const BLOCK: u32 = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    pub reserved: [u8; 8],
    pub info_hash: Id20,
    pub peer_id: Id20,
}

/// The extension protocol's bit (BEP 10), in reserved byte 5.
pub const EXTENSION_BIT: u8 = 0x10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    KeepAlive,
    Choke,
    Unchoke,
    Interested,
    NotInterested,
    Have(u32),
    Bitfield(Vec<u8>),
    Request {
        index: u32,
        begin: u32,
        length: u32,
    },
    Piece {
        index: u32,
        begin: u32,
        data: Vec<u8>,
    },
    Cancel {
        index: u32,
        begin: u32,
        length: u32,
    },
    Port(u16),
    Extended {
        id: u8,
        payload: Vec<u8>,
    },
    /// A message id we do not know, skipped.
    Unknown(u8),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("not a BitTorrent handshake")]
    NotBitTorrent,
    #[error("message of {0} bytes is over the limit")]
    TooLong(usize),
    #[error("message {id} has a bad length {len}")]
    BadLength { id: u8, len: usize },
}

pub fn encode_handshake(h: &Handshake) -> [u8; HANDSHAKE_LEN] {
    let mut b = [0u8; HANDSHAKE_LEN];
    b[0] = 19;
    b[1..20].copy_from_slice(PROTOCOL);
    b[20..28].copy_from_slice(&h.reserved);
    b[28..48].copy_from_slice(&h.info_hash);
    b[48..68].copy_from_slice(&h.peer_id);
    b
}

pub fn decode_handshake(b: &[u8; HANDSHAKE_LEN]) -> Result<Handshake, Invalid> {
    if b[0] != 19 || &b[1..20] != PROTOCOL {
        return Err(Invalid::NotBitTorrent);
    }
    let mut h = Handshake {
        reserved: [0; 8],
        info_hash: [0; 20],
        peer_id: [0; 20],
    };
    h.reserved.copy_from_slice(&b[20..28]);
    h.info_hash.copy_from_slice(&b[28..48]);
    h.peer_id.copy_from_slice(&b[48..68]);
    Ok(h)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Appends the framed encoding of `m` to `out`.
pub fn encode(m: &Message, out: &mut Vec<u8>) {
    let ints = |id: u8, xs: &[u32], out: &mut Vec<u8>| {
        out.extend_from_slice(&(1 + 4 * xs.len() as u32).to_be_bytes());
        out.push(id);
        xs.iter()
            .for_each(|x| out.extend_from_slice(&x.to_be_bytes()));
    };
    match m {
        Message::KeepAlive => out.extend_from_slice(&0u32.to_be_bytes()),
        Message::Choke => ints(0, &[], out),
        Message::Unchoke => ints(1, &[], out),
        Message::Interested => ints(2, &[], out),
        Message::NotInterested => ints(3, &[], out),
        Message::Have(i) => ints(4, &[*i], out),
        Message::Request {
            index,
            begin,
            length,
        } => ints(6, &[*index, *begin, *length], out),
        Message::Cancel {
            index,
            begin,
            length,
        } => ints(8, &[*index, *begin, *length], out),
        Message::Bitfield(bits) => frame(5, &[], bits, out),
        Message::Piece { index, begin, data } => frame(7, &[*index, *begin], data, out),
        Message::Port(p) => frame(9, &[], &p.to_be_bytes(), out),
        Message::Extended { id, payload } => frame(20, &[], &[&[*id][..], payload].concat(), out),
        Message::Unknown(id) => ints(*id, &[], out),
    }
}

fn frame(id: u8, ints: &[u32], tail: &[u8], out: &mut Vec<u8>) {
    let len = 1 + 4 * ints.len() + tail.len();
    out.extend_from_slice(&(len as u32).to_be_bytes());
    out.push(id);
    ints.iter()
        .for_each(|x| out.extend_from_slice(&x.to_be_bytes()));
    out.extend_from_slice(tail);
}

/// Decodes the first message of `buf`: the message and the bytes it used, or
/// `None` if `buf` does not hold all of it yet.
/// If `buf` starts with a whole, well-formed `piece` message: its index,
/// begin, where its block lies in `buf`, and the bytes it used. The
/// receive path hands the block on from there rather than copying it into
/// a [`Message::Piece`]; anything else (and any error) is left to
/// [`decode`].
pub fn piece_block(buf: &[u8]) -> Option<(u32, u32, std::ops::Range<usize>, usize)> {
    let len = u32_at(buf.get(..4)?, 0) as usize;
    if buf.get(4) != Some(&7) || !(9..=MAX_MESSAGE).contains(&len) || buf.len() < 4 + len {
        return None;
    }
    Some((u32_at(buf, 5), u32_at(buf, 9), 13..4 + len, 4 + len))
}

pub fn decode(buf: &[u8]) -> Result<Option<(Message, usize)>, Invalid> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = u32_at(buf, 0) as usize;
    if len > MAX_MESSAGE {
        return Err(Invalid::TooLong(len));
    }
    if buf.len() < 4 + len {
        return Ok(None);
    }
    if len == 0 {
        return Ok(Some((Message::KeepAlive, 4)));
    }
    let (id, body) = (buf[4], &buf[5..4 + len]);
    let want = |n: usize| {
        if body.len() == n {
            Ok(())
        } else {
            Err(Invalid::BadLength { id, len })
        }
    };
    let m = match id {
        0..=3 => {
            want(0)?;
            [
                Message::Choke,
                Message::Unchoke,
                Message::Interested,
                Message::NotInterested,
            ][id as usize]
                .clone()
        }
        4 => want(4).map(|_| Message::Have(u32_at(body, 0)))?,
        5 => Message::Bitfield(body.to_vec()),
        6 | 8 => {
            want(12)?;
            let (index, begin, length) = (u32_at(body, 0), u32_at(body, 4), u32_at(body, 8));
            if id == 6 {
                Message::Request {
                    index,
                    begin,
                    length,
                }
            } else {
                Message::Cancel {
                    index,
                    begin,
                    length,
                }
            }
        }
        7 if body.len() >= 8 => Message::Piece {
            index: u32_at(body, 0),
            begin: u32_at(body, 4),
            data: body[8..].to_vec(),
        },
        7 => return Err(Invalid::BadLength { id, len }),
        9 => want(2).map(|_| Message::Port(u16::from_be_bytes([body[0], body[1]])))?,
        20 if !body.is_empty() => Message::Extended {
            id: body[0],
            payload: body[1..].to_vec(),
        },
        other => Message::Unknown(other),
    };
    Ok(Some((m, 4 + len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handshake_is_68_bytes_in_bep3s_order() {
        let h = Handshake {
            reserved: [0, 0, 0, 0, 0, 0x10, 0, 0],
            info_hash: [1; 20],
            peer_id: *b"-LM0001-abcdefghijkl",
        };
        let b = encode_handshake(&h);
        assert_eq!(&b[..20], b"\x13BitTorrent protocol");
        assert_eq!(b[25], 0x10, "the extension protocol bit (BEP 10)");
        assert_eq!(decode_handshake(&b).unwrap(), h);
        let mut other = b;
        other[1] = b'b';
        assert_eq!(decode_handshake(&other), Err(Invalid::NotBitTorrent));
    }

    #[test]
    fn messages_round_trip_and_match_bep3s_framing() {
        let mut out = Vec::new();
        encode(
            &Message::Request {
                index: 1,
                begin: 16384,
                length: 16384,
            },
            &mut out,
        );
        assert_eq!(
            out,
            [0, 0, 0, 13, 6, 0, 0, 0, 1, 0, 0, 0x40, 0, 0, 0, 0x40, 0]
        );
        for m in [
            Message::KeepAlive,
            Message::Unchoke,
            Message::Have(9),
            Message::Bitfield(vec![0xff, 0x80]),
            Message::Piece {
                index: 2,
                begin: 0,
                data: vec![5; 100],
            },
            Message::Port(6881),
            Message::Extended {
                id: 0,
                payload: b"d1:md11:ut_metadatai1eee".to_vec(),
            },
        ] {
            let mut b = Vec::new();
            encode(&m, &mut b);
            assert_eq!(decode(&b).unwrap(), Some((m, b.len())));
            assert_eq!(
                decode(&b[..b.len() - 1]).unwrap(),
                None,
                "a partial message waits for more"
            );
        }
    }

    #[test]
    fn oversized_and_malformed_messages_are_refused() {
        assert_eq!(
            decode(&[0x01, 0, 0, 0, 7]),
            Err(Invalid::TooLong(0x0100_0000))
        );
        assert_eq!(
            decode(&[0, 0, 0, 2, 4, 1]),
            Err(Invalid::BadLength { id: 4, len: 2 })
        );
        assert_eq!(
            decode(&[0, 0, 0, 3, 7, 0, 0]),
            Err(Invalid::BadLength { id: 7, len: 3 })
        );
    }

    #[test]
    fn a_piece_block_is_found_in_place_as_decode_would_read_it() {
        let m = Message::Piece {
            index: 3,
            begin: 16384,
            data: vec![9; 100],
        };
        let mut buf = Vec::new();
        encode(&m, &mut buf);
        let (index, begin, at, used) = piece_block(&buf).unwrap();
        assert_eq!(
            (index, begin, &buf[at], used),
            (3, 16384, &[9u8; 100][..], buf.len())
        );
        assert_eq!(decode(&buf).unwrap(), Some((m, used)));
        // Incomplete, another message, or too short to hold index and begin.
        assert!(piece_block(&buf[..buf.len() - 1]).is_none());
        let mut have = Vec::new();
        encode(&Message::Have(1), &mut have);
        assert!(piece_block(&have).is_none());
        assert!(piece_block(&[0, 0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0]).is_none());
    }
}
