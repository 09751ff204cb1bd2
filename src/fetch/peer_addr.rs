//! Who a candidate is: a blob-exchange peer at a TCP address, or an HTTP
//! blob source at a base URL (Odysee's blob storage answers
//! `URL/blob?hash=<hex>`). The fetcher, its scoreboard and its errors key
//! everything by [`PeerAddr`], so an HTTP source is one more candidate with
//! the same verification, deadlines and scoring as any peer.
//!
//! `PeerAddr` is `Copy` like the `SocketAddr` it generalizes: an HTTP base
//! URL is interned once per distinct URL (they come from the command line,
//! so the set is small and bounded by [`MAX_HTTP_SOURCES`]).

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};

/// Distinct HTTP base URLs interned per process, at most.
pub const MAX_HTTP_SOURCES: usize = 64;

/// A candidate for a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PeerAddr {
    /// A blob-exchange peer (docs/protocol.md §3).
    Tcp(SocketAddr),
    /// An HTTP blob source (docs/protocol.md §3.9).
    Http(HttpUrl),
}

/// An interned HTTP base URL, without a trailing `/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HttpUrl(&'static str);

/// Why a `--blob-http` URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpUrlError {
    #[error("{0:?} is not an http:// or https:// URL")]
    Scheme(String),
    #[error("{0:?} has no host")]
    NoHost(String),
    #[error("more than {MAX_HTTP_SOURCES} HTTP blob sources")]
    TooMany,
}

static INTERNED: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);

impl HttpUrl {
    /// Checks and interns `url` (`http://` or `https://`, a host; a
    /// trailing `/` is dropped).
    pub fn parse(url: &str) -> Result<Self, HttpUrlError> {
        let url = url.trim().trim_end_matches('/');
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(|| HttpUrlError::Scheme(url.to_owned()))?;
        if rest.is_empty() || rest.starts_with('/') {
            return Err(HttpUrlError::NoHost(url.to_owned()));
        }
        let mut set = INTERNED.lock().unwrap_or_else(PoisonError::into_inner);
        let set = set.get_or_insert_with(HashSet::new);
        if let Some(known) = set.get(url) {
            return Ok(Self(known));
        }
        if set.len() >= MAX_HTTP_SOURCES {
            return Err(HttpUrlError::TooMany);
        }
        let leaked: &'static str = Box::leak(url.to_owned().into_boxed_str());
        set.insert(leaked);
        Ok(Self(leaked))
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl From<SocketAddr> for PeerAddr {
    fn from(a: SocketAddr) -> Self {
        PeerAddr::Tcp(a)
    }
}

impl From<HttpUrl> for PeerAddr {
    fn from(u: HttpUrl) -> Self {
        PeerAddr::Http(u)
    }
}

impl PeerAddr {
    /// The TCP address, for a blob-exchange peer.
    pub fn tcp(&self) -> Option<SocketAddr> {
        match self {
            PeerAddr::Tcp(a) => Some(*a),
            PeerAddr::Http(_) => None,
        }
    }
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerAddr::Tcp(a) => a.fmt(f),
            PeerAddr::Http(u) => u.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_interned_once() {
        let a = HttpUrl::parse("https://blobs.example/").unwrap();
        let b = HttpUrl::parse("https://blobs.example").unwrap();
        assert_eq!(a, b);
        assert!(std::ptr::eq(a.as_str(), b.as_str()));
        assert_eq!(PeerAddr::from(a).to_string(), "https://blobs.example");
        assert!(matches!(
            HttpUrl::parse("ftp://x"),
            Err(HttpUrlError::Scheme(_))
        ));
        assert!(matches!(
            HttpUrl::parse("http:///blob"),
            Err(HttpUrlError::NoHost(_))
        ));
        let tcp: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert_eq!(PeerAddr::from(tcp).tcp(), Some(tcp));
        assert_eq!(PeerAddr::from(tcp).to_string(), "127.0.0.1:1");
    }
}
