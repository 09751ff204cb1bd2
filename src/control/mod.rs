//! The control socket: how `lbrymount ls`, `status` and `publish` talk to a
//! node that is running on the same data dir (the mount or `serve`).
//!
//! A running node holds the data dir's lock, so these commands cannot open
//! the store themselves; they ask the node instead. The socket is
//! `<data-dir>/control.sock`, readable and writable by its owner only, and
//! the node also checks each caller's user id. One request per connection:
//! the client sends one JSON line, the node answers with zero or more
//! `progress` lines (a long publish, at least every second, so the client's
//! silence deadline never cuts off a slow but live publish) and one final
//! line. A `get` is answered with a `stream` line once the descriptor is
//! known, then `data` lines each followed by exactly that many raw bytes of
//! the file, in order, then the final line. This module is the protocol,
//! pure; `server` and `client` do the I/O. docs/protocol.md §6 describes it.

pub mod client;
pub mod content;
pub mod server;

pub use content::ContentRequest;

use crate::catalog::StreamRow;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The socket's name in the data dir.
pub const SOCKET_NAME: &str = "control.sock";

/// Longest request line accepted; a path is far shorter.
pub const MAX_REQUEST: usize = 64 * 1024;

/// Most raw bytes after one `data` line (one decrypted blob fits).
pub const MAX_DATA: u32 = 4 << 20;

/// The socket of a data dir.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_NAME)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
/// Unknown fields are ignored, so a newer client's extra options reach an
/// older node as the plain request.
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Request {
    /// The streams the node knows.
    Ls,
    /// The node's figures.
    Status,
    /// Publish this file (an absolute path, read by the node).
    Publish { path: PathBuf },
    /// Get a stream into the node's store and send its bytes back.
    Get(GetJob),
    /// Stop the node as a signal would: unmount, leave the DHT, exit.
    Stop,
    /// Change what the node holds, or its rate limits (`content`).
    Content(ContentRequest),
    /// Search stream names: the node's store, its DHT peers, its hubs.
    Search(SearchJob),
}

/// What `lbrymount search TEXT` asks of a node running on its data dir.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchJob {
    pub text: String,
    /// Rows wanted, at most.
    pub limit: u32,
    /// Ask the node's hubs too (the command was not given `--no-hub`).
    #[serde(default)]
    pub hub: bool,
    /// Ask DHT peers too.
    #[serde(default)]
    pub peers: bool,
}

/// What `lbrymount get` asks of a node running on its data dir.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetJob {
    /// The stream's sd hash (hex).
    pub sd_hash: String,
    /// Peers to ask besides those the node knows (`HOST:PORT`).
    #[serde(default)]
    pub peers: Vec<String>,
    /// Only blobs the node's store already holds.
    #[serde(default)]
    pub offline: bool,
    /// Seconds without success from any peer before a blob is given up.
    #[serde(default)]
    pub timeout_secs: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "kebab-case")]
pub enum Reply {
    /// Work goes on: this many bytes done so far.
    Progress {
        bytes: u64,
    },
    Ls {
        streams: Vec<StreamRow>,
    },
    Status(Box<Status>),
    Published {
        sd_hash: String,
        name: String,
        size: u64,
    },
    /// A `get` starts: the stream's visible file name and encrypted size.
    Stream {
        name: String,
        size: u64,
    },
    /// Exactly `len` raw bytes of the file follow this line.
    Data {
        len: u32,
    },
    /// A `get` is complete: this many bytes were sent.
    Got {
        bytes: u64,
    },
    /// The node is stopping; this process will exit.
    Stopping {
        pid: u32,
    },
    /// A `content` request is done; `message` says what changed.
    Done {
        message: String,
    },
    /// The rate limits now in force (bytes per second, 0: none).
    Rates {
        upload: u64,
        download: u64,
    },
    /// A search's rows, best first.
    Found {
        rows: Vec<crate::search::SearchRow>,
    },
    Error {
        message: String,
    },
}

/// What `lbrymount status` shows of a running node.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Status {
    pub pid: u32,
    pub data_dir: PathBuf,
    pub uptime_secs: u64,
    pub mountpoint: Option<PathBuf>,
    pub share_dir: Option<PathBuf>,
    /// Files of the share folder published now.
    pub shared_files: usize,
    /// Why sharing is paused (its folder is missing or unreadable), if it is.
    #[serde(default)]
    pub share_paused: Option<String>,
    /// Other share folders whose files stay published, unwatched: folder, files.
    #[serde(default)]
    pub share_kept: Vec<(PathBuf, usize)>,
    /// The blob server's TCP address.
    pub listen: String,
    /// The DHT node's UDP address, if one runs.
    pub dht_listen: Option<String>,
    /// Contacts in the DHT routing table.
    pub dht_contacts: usize,
    /// Announcements this node stores for others.
    pub dht_stored: usize,
    /// Distinct peers known to hold streams (given by hand or found in the DHT).
    pub peers_known: usize,
    pub connections_served: u64,
    pub blobs_served: u64,
    pub bytes_served: u64,
    pub cache_used: u64,
    pub cache_cap: u64,
    pub pinned_bytes: u64,
    pub streams_published: usize,
    /// Streams the user pinned (`lbrymount pin`).
    #[serde(default)]
    pub streams_pinned: usize,
    pub streams_cached: usize,
    /// Upload and download limits in bytes per second; 0 is unlimited.
    #[serde(default)]
    pub max_upload_rate: u64,
    #[serde(default)]
    pub max_download_rate: u64,
    /// Recent read errors: seconds since the epoch, and the reason.
    pub recent_errors: Vec<(u64, String)>,
    /// Names: the hub in use and the last failure, if names are on.
    #[serde(default)]
    pub hub: Option<crate::hub::HubStatus>,
    /// Each tracker's last success and last error; empty without trackers.
    #[serde(default)]
    pub trackers: Vec<crate::tracker::TrackerStatus>,
    /// The nodes heard on the LAN; `None` when LAN discovery is off.
    #[serde(default)]
    pub lan: Option<LanStatus>,
    /// The port mapping on the home router, or why there is none.
    #[serde(default)]
    pub upnp: Option<crate::upnp::UpnpStatus>,
    /// Background reflection (`--reflect`), if on.
    #[serde(default)]
    pub reflect: Option<crate::node::reflect::ReflectStatus>,
    /// Each fixed peer's and HTTP source's last success and last error.
    #[serde(default)]
    pub sources: Vec<crate::node::source_status::SourceStatus>,
    /// Torrents in the mount (`None`: no mount, or `--no-bt`).
    #[serde(default)]
    pub bt: Option<crate::node::bt_status::BtStatus>,
}

/// LAN discovery as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LanStatus {
    pub peers: Vec<LanPeerRow>,
    /// Datagrams ignored: malformed, over the rate limit, carrying our own
    /// node id, and announcements of new nodes refused by a full table.
    pub ignored: [u64; 4],
}

/// One node heard on the LAN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LanPeerRow {
    pub ip: String,
    pub tcp_port: u16,
    /// 0: it runs no DHT node.
    pub udp_port: u16,
    /// Seconds since the epoch.
    pub last_seen: u64,
}

/// Why a control exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("cannot use the control socket {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the node at {path} sent nothing for {secs} s")]
    Silent { path: PathBuf, secs: u64 },
    #[error("the node at {path} closed the connection without an answer")]
    Closed { path: PathBuf },
    #[error("the node at {path} sent a malformed reply: {why}")]
    BadReply { path: PathBuf, why: String },
}

/// One line of the protocol, newline included.
pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    // Serializing these plain types cannot fail (no maps with non-string keys).
    let mut line = serde_json::to_vec(msg).unwrap_or_default();
    line.push(b'\n');
    line
}

/// Parses a request line (without its newline); the error is for the reply.
pub fn decode_request(line: &[u8]) -> Result<Request, String> {
    serde_json::from_slice(line).map_err(|e| format!("malformed request: {e}"))
}

/// Parses a reply line (without its newline).
pub fn decode_reply(line: &[u8]) -> Result<Reply, String> {
    serde_json::from_slice(line).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_and_have_a_readable_shape() {
        let reqs = [
            Request::Ls,
            Request::Status,
            Request::Publish {
                path: "/tmp/a b.mkv".into(),
            },
            Request::Stop,
            Request::Get(GetJob {
                sd_hash: "ab".repeat(48),
                peers: vec!["127.0.0.1:1".into()],
                offline: true,
                timeout_secs: Some(5),
            }),
        ];
        for r in reqs {
            let line = encode(&r);
            assert_eq!(line.last(), Some(&b'\n'));
            assert_eq!(decode_request(&line[..line.len() - 1]), Ok(r));
        }
        assert_eq!(encode(&Request::Ls), b"{\"op\":\"ls\"}\n");
    }

    #[test]
    fn malformed_requests_are_errors_not_panics() {
        for bad in [
            &b""[..],
            b"{",
            b"null",
            b"{\"op\":\"rm\"}",
            b"{\"op\":\"publish\"}",
            b"{\"op\":\"publish\",\"path\":7}",
            b"\xff\xfe",
        ] {
            let e = decode_request(bad).unwrap_err();
            assert!(e.starts_with("malformed request"), "{e}");
        }
    }

    #[test]
    fn replies_round_trip() {
        let status = Status {
            pid: 7,
            recent_errors: vec![(1, "no peers for blob 1234".into())],
            ..Status::default()
        };
        for r in [
            Reply::Progress { bytes: 5 },
            Reply::Stopping { pid: 9 },
            Reply::Status(Box::new(status)),
            Reply::Error {
                message: "x".into(),
            },
        ] {
            let line = encode(&r);
            assert_eq!(decode_reply(&line[..line.len() - 1]), Ok(r));
        }
    }
}
