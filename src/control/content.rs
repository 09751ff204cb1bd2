//! Control requests that change what a node holds and how fast it moves
//! bytes: `unpublish`, `pin`, `unpin`, `cache drop`, `rate` and `add` (a torrent). Pure
//! protocol, like the rest of `control`; the node answers them in
//! `node::content`. On the wire they are one `content` request naming what to
//! `do`: `{"op":"content","do":"pin","sd_hash":"…"}`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "kebab-case")]
pub enum ContentRequest {
    /// Stop sharing a stream: an sd hash, or an absolute path of a file
    /// in the share folder.
    Unpublish { target: String },
    /// Fetch a stream if needed and keep it whatever the cache pressure.
    Pin {
        sd_hash: String,
        /// Peers to ask besides those the node knows (`HOST:PORT`).
        #[serde(default)]
        peers: Vec<String>,
        /// Seconds without success from any peer before a blob is given up.
        #[serde(default)]
        timeout_secs: Option<u64>,
    },
    /// Let a pinned stream's blobs be evicted again.
    Unpin { sd_hash: String },
    /// Free a cached stream's blobs, or (`None`) every cached blob; never
    /// what is published or pinned.
    CacheDrop { sd_hash: Option<String> },
    /// Register a torrent with the mount and open it (`lbrymount add`): a
    /// magnet or `btih:` link, or the absolute path of a `.torrent` file.
    AddTorrent {
        source: String,
        /// Peers for this torrent (`HOST:PORT`), asked beside the node's.
        #[serde(default)]
        peers: Vec<String>,
    },
    /// Change the rate limits (bytes per second, 0: none); `None` keeps one.
    Rate {
        #[serde(default)]
        upload: Option<u64>,
        #[serde(default)]
        download: Option<u64>,
    },
}

#[cfg(test)]
mod tests {
    use super::super::{decode_request, encode, Request};
    use super::*;

    #[test]
    fn content_requests_round_trip_with_a_readable_shape() {
        let sd = "ab".repeat(48);
        let reqs = [
            ContentRequest::Unpublish {
                target: "/share/a.mkv".into(),
            },
            ContentRequest::Pin {
                sd_hash: sd.clone(),
                peers: vec!["127.0.0.1:1".into()],
                timeout_secs: Some(3),
            },
            ContentRequest::Unpin {
                sd_hash: sd.clone(),
            },
            ContentRequest::CacheDrop { sd_hash: None },
            ContentRequest::AddTorrent {
                source: "/tmp/a.torrent".into(),
                peers: vec!["127.0.0.1:6881".into()],
            },
            ContentRequest::Rate {
                upload: Some(5),
                download: None,
            },
        ];
        for r in reqs {
            let line = encode(&Request::Content(r.clone()));
            let back = decode_request(&line[..line.len() - 1]);
            assert_eq!(back, Ok(Request::Content(r)));
        }
        let line = encode(&Request::Content(ContentRequest::Unpin {
            sd_hash: sd.clone(),
        }));
        let text = String::from_utf8(line).unwrap();
        assert_eq!(
            text,
            format!("{{\"op\":\"content\",\"do\":\"unpin\",\"sd_hash\":\"{sd}\"}}\n")
        );
        assert!(decode_request(b"{\"op\":\"content\",\"do\":\"format-disk\"}").is_err());
    }
}
