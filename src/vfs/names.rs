//! The seam between the filesystem and whatever turns names into streams
//! (LBRY hubs today). The filesystem defines it and the node implements it,
//! so the mount never learns where names come from, and its tests drive it
//! with a table in memory.
//!
//! Which root names are names at all is decided here, without the network:
//! an sd hash is a stream, a name starting with `.` is a probe by some tool
//! (`.Trash`, `.hidden`, `.git`), and anything else is an LBRY URL without
//! its scheme (`name`, `name#ab`, `name:2`, `@chan`, `@chan#3f`).

use crate::hash::SdHash;
use std::future::Future;
use std::pin::Pin;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a name resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// A stream claim: its source is an LBRY stream or a torrent.
    Stream(Named),
    /// A channel claim; its streams are listed with [`Names::channel_page`].
    Channel,
}

/// Where a stream claim's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// An LBRY stream: its claim directory holds the stream's file.
    Stream(SdHash),
    /// A BitTorrent v1 infohash: its claim is a symlink to the torrent's
    /// directory in the root (`<40 hex>`), so a torrent has one directory
    /// whichever way it is reached.
    Torrent([u8; 20]),
}

impl Source {
    pub fn sd(&self) -> Option<SdHash> {
        match self {
            Source::Stream(sd) => Some(*sd),
            Source::Torrent(_) => None,
        }
    }
}

/// A stream reached by name, with what its claim says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    /// The claim's name (the directory name in a channel listing).
    pub name: String,
    pub source: Source,
    /// The canonical URL, `lbry://…`.
    pub url: String,
    pub claim_id: String,
    /// The channel's canonical URL, when the claim is signed by one (and the
    /// signature verified).
    pub channel: Option<String>,
    pub media_type: String,
}

/// One page of a channel's streams, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelPage {
    pub items: Vec<Named>,
    /// How many streams the channel has (as far as the resolver knows).
    pub total: u32,
}

/// Why a name gives no stream: `NotFound` is an answer (ENOENT), the others
/// are failures to get one (EIO).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Unavailable(String),
}

/// Names to streams. Implemented by the node; URLs are given as typed in a
/// path (no `lbry://`), a channel's streams as `@chan/name`.
pub trait Names: Send + Sync + 'static {
    fn resolve<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<Resolution, NameError>>;

    /// Streams `offset..offset + limit` of channel `channel` (as typed).
    fn channel_page<'a>(
        &'a self,
        channel: &'a str,
        offset: u32,
        limit: u32,
    ) -> BoxFuture<'a, Result<ChannelPage, NameError>>;
}

/// Whether a root name is worth asking a resolver about.
pub fn is_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name.len() <= 255
        && !name.contains(['/', '\0'])
        && name.parse::<SdHash>().is_err()
}

/// Whether a listed claim name can be a directory name.
pub fn is_listable(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name.len() <= 255
        && !name.contains(['/', '\0'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sd_hashes_and_probes_are_not_names() {
        assert!(is_name("@veritasium"));
        assert!(is_name("why-is-it-hot#3f"));
        assert!(is_name("name:2"));
        assert!(!is_name(&"ab".repeat(48)));
        assert!(!is_name(".Trash-0"));
        assert!(!is_name(""));
        assert!(!is_name(&"x".repeat(256)));
    }

    #[test]
    fn listed_names_that_cannot_be_directories_are_refused() {
        assert!(is_listable("video"));
        for bad in ["", ".", "..", "a/b", "a\0b"] {
            assert!(!is_listable(bad), "{bad:?}");
        }
    }
}
