//! BitTorrent content: metainfo (BEP 3, with BEP 47 padding files) and
//! pieces fetched from a peer over the peer wire protocol.
//!
//! This is the foundation of torrents in the mount (`~/net/<infohash>/`):
//! `metainfo` is pure and checks a torrent as strictly as a collection
//! (no `..`, no absolute path, no clash, bounded); `magnet` reads magnet
//! links and bare infohashes; `peer` gets the metadata (BEP 9) and fetches and
//! verifies pieces from one peer with a deadline on every wait; `download`
//! and `write` make a whole torrent into files for `lbrymount get`; for the
//! mount, `swarm` fetches the pieces a read covers into the store through
//! `pieces`, and `seed` serves held pieces back to peers. The codecs live
//! in `wire::peer_wire` and `wire::ut_metadata` (docs/architecture.md §8).

pub mod download;
pub mod magnet;
pub mod metainfo;
pub mod peer;
pub mod pieces;
pub mod seed;
pub mod swarm;
pub mod window;
pub mod write;

pub use magnet::{Magnet, MagnetError};
pub use metainfo::{FileEntry, Metainfo, MetainfoError};
pub use peer::{PeerConn, PeerError};
pub use window::Want;

use sha1::{Digest, Sha1};

/// SHA-1, the hash of v1 infohashes and pieces.
pub fn sha1(bytes: &[u8]) -> [u8; 20] {
    Sha1::digest(bytes).into()
}
