//! The LAN discovery datagram (docs/protocol.md §10): lbrymount's own small,
//! versioned UDP message, multicast on the local network so nodes find each
//! other with no bootstrap node.
//!
//! One layout serves both kinds: a [`Kind::Hello`] says "I am here", a
//! [`Kind::Query`] says the same and asks everyone who hears it to answer
//! with a `Hello` (so a node that just started learns every node at once).
//! The datagram carries the sender's node id (to ignore our own datagrams
//! and tell nodes behind one address apart) and its two ports; it carries
//! no address: the receiver uses the datagram's source IP, so an
//! announcement can never point anyone at a third host.
//!
//! Pure: bytes in, typed values out. Decoding never panics, reads nothing
//! past the datagram, and refuses datagrams over [`MAX_DATAGRAM`]. Bytes
//! after the version-1 fields are ignored, so later versions can append
//! fields that version-1 readers skip.

use crate::hash::{NodeId, HASH_LEN};

/// The first bytes of every datagram.
pub const MAGIC: [u8; 4] = *b"LBMD";
/// The layout written here.
pub const VERSION: u8 = 1;
/// Length of a version-1 datagram.
pub const LEN: usize = 4 + 1 + 1 + 2 + HASH_LEN + 2 + 2;
/// Largest datagram accepted: room for fields appended later, nothing more.
pub const MAX_DATAGRAM: usize = 512;

/// What a datagram asks of its receivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// "I am here."
    Hello = 1,
    /// "I am here; who else is?" Every node that hears it answers with a
    /// `Hello` sent to the datagram's source address.
    Query = 2,
}

/// One announcement: who sent it and where it serves. The address is the
/// datagram's source IP, never a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Announcement {
    pub kind: Kind,
    pub node_id: NodeId,
    /// The blob server's TCP port (never 0).
    pub tcp_port: u16,
    /// The DHT node's UDP port; 0: the sender runs no DHT node.
    pub udp_port: u16,
}

/// Why a datagram is not an announcement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LanError {
    #[error("datagram of {len} bytes is over the {MAX_DATAGRAM}-byte limit")]
    Oversized { len: usize },
    #[error("datagram of {len} bytes is shorter than the {LEN} bytes of an announcement")]
    Short { len: usize },
    #[error("not a LAN announcement (bad magic)")]
    Magic,
    #[error("unknown announcement version {0}")]
    Version(u8),
    #[error("unknown announcement kind {0}")]
    Kind(u8),
    #[error("announcement with blob server port 0")]
    NoTcpPort,
}

impl Announcement {
    /// The datagram's bytes.
    pub fn encode(&self) -> [u8; LEN] {
        let mut out = [0u8; LEN];
        out[..4].copy_from_slice(&MAGIC);
        out[4] = VERSION;
        out[5] = self.kind as u8;
        // out[6..8]: flags, none defined; written as zero, ignored on read.
        out[8..8 + HASH_LEN].copy_from_slice(self.node_id.as_bytes());
        let ports = 8 + HASH_LEN;
        out[ports..ports + 2].copy_from_slice(&self.tcp_port.to_be_bytes());
        out[ports + 2..ports + 4].copy_from_slice(&self.udp_port.to_be_bytes());
        out
    }

    /// Reads one datagram (see the module docs for what is refused).
    pub fn decode(buf: &[u8]) -> Result<Self, LanError> {
        if buf.len() > MAX_DATAGRAM {
            return Err(LanError::Oversized { len: buf.len() });
        }
        if buf.len() < LEN {
            return Err(LanError::Short { len: buf.len() });
        }
        if buf[..4] != MAGIC {
            return Err(LanError::Magic);
        }
        if buf[4] != VERSION {
            return Err(LanError::Version(buf[4]));
        }
        let kind = match buf[5] {
            1 => Kind::Hello,
            2 => Kind::Query,
            k => return Err(LanError::Kind(k)),
        };
        let mut id = [0u8; HASH_LEN];
        id.copy_from_slice(&buf[8..8 + HASH_LEN]);
        let ports = 8 + HASH_LEN;
        let tcp_port = u16::from_be_bytes([buf[ports], buf[ports + 1]]);
        let udp_port = u16::from_be_bytes([buf[ports + 2], buf[ports + 3]]);
        if tcp_port == 0 {
            return Err(LanError::NoTcpPort);
        }
        Ok(Self {
            kind,
            node_id: NodeId::from_bytes(id),
            tcp_port,
            udp_port,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample(kind: Kind) -> Announcement {
        Announcement {
            kind,
            node_id: NodeId::from_bytes([0xab; HASH_LEN]),
            tcp_port: 4444,
            udp_port: 4445,
        }
    }

    #[test]
    fn a_hello_is_its_golden_bytes() {
        let mut want = b"LBMD\x01\x01\x00\x00".to_vec();
        want.extend([0xab; HASH_LEN]);
        want.extend([0x11, 0x5c, 0x11, 0x5d]);
        assert_eq!(sample(Kind::Hello).encode().to_vec(), want);
        assert_eq!(LEN, 60);
    }

    #[test]
    fn bad_datagrams_get_their_reason() {
        let good = sample(Kind::Query).encode();
        let big = vec![0u8; MAX_DATAGRAM + 1];
        assert_eq!(
            Announcement::decode(&big),
            Err(LanError::Oversized { len: 513 })
        );
        assert_eq!(
            Announcement::decode(&good[..59]),
            Err(LanError::Short { len: 59 })
        );
        let with = |at: usize, b: u8| {
            let mut d = good;
            d[at] = b;
            Announcement::decode(&d)
        };
        assert_eq!(with(0, b'X'), Err(LanError::Magic));
        assert_eq!(with(4, 2), Err(LanError::Version(2)));
        assert_eq!(with(5, 9), Err(LanError::Kind(9)));
        let mut no_port = good;
        no_port[56..58].copy_from_slice(&[0, 0]);
        assert_eq!(Announcement::decode(&no_port), Err(LanError::NoTcpPort));
    }

    #[test]
    fn later_fields_and_flags_are_ignored() {
        let mut longer = sample(Kind::Hello).encode().to_vec();
        longer[6] = 0xff;
        longer.extend([7u8; 100]);
        assert_eq!(Announcement::decode(&longer), Ok(sample(Kind::Hello)));
    }

    fn any_kind() -> impl Strategy<Value = Kind> {
        prop_oneof![Just(Kind::Hello), Just(Kind::Query)]
    }

    proptest! {
        #[test]
        fn decode_inverts_encode(
            kind in any_kind(),
            id in prop::array::uniform32(any::<u8>()),
            tcp_port in 1u16..,
            udp_port in any::<u16>(),
        ) {
            let mut full = [0u8; HASH_LEN];
            full[..32].copy_from_slice(&id);
            let a = Announcement { kind, node_id: NodeId::from_bytes(full), tcp_port, udp_port };
            prop_assert_eq!(Announcement::decode(&a.encode()), Ok(a));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..1200)) {
            let _ = Announcement::decode(&bytes);
        }

        #[test]
        fn a_valid_header_with_arbitrary_rest_never_panics(
            rest in prop::collection::vec(any::<u8>(), 0..600),
        ) {
            let mut d = b"LBMD\x01\x02".to_vec();
            d.extend(rest);
            let _ = Announcement::decode(&d);
        }
    }
}
