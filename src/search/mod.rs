//! Search by name with no leader (docs/protocol.md §11): each node indexes
//! the names of the streams it holds and announces their words in the LBRY
//! DHT; a searcher looks its words up, asks the peers found, and merges
//! their answers with LBRY hubs' and its own store's.
//!
//! `text` is the pure part (tokens, keys, scores), `index` the names of a
//! store, `ask` one peer over the blob port, `finder` the DHT search. This
//! module composes the sources into one ranked list, each row saying where
//! it came from. It never touches the filesystem or the control socket.

pub mod ask;
pub mod finder;
pub mod index;
pub mod text;

pub use finder::{search_peers, PeerHit, SearchConfig};
pub use index::{keyword_keys, NameIndex};

use crate::wire::search::Hit;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One stream found, from any source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchRow {
    pub sd_hash: String,
    pub name: String,
    pub size: u64,
    /// How well the name matches (higher is better; 0: only a hub's match).
    pub score: u32,
    /// Peers that listed it.
    pub peers: usize,
    /// In this node's store.
    pub local: bool,
    /// A hub's canonical URL for it, when a hub found it.
    pub hub: Option<String>,
}

impl SearchRow {
    /// Where it came from: `local`, `peers N`, `hub <url>`, joined by commas.
    pub fn from(&self) -> String {
        let mut parts = Vec::new();
        if self.local {
            parts.push("local".to_owned());
        }
        if self.peers > 0 {
            parts.push(format!("peers {}", self.peers));
        }
        if let Some(url) = &self.hub {
            parts.push(format!("hub {url}"));
        }
        parts.join(",")
    }

    /// `<sd_hash>  <size>  <name>  <from>`, the name escaped to one line.
    pub fn line(&self) -> String {
        format!(
            "{}  {}  {}  {}",
            self.sd_hash,
            self.size,
            self.name.escape_debug(),
            self.from()
        )
    }
}

/// The rows of every source for one query, merged by sd hash, best first:
/// score, then how many sources (peers count each), then name; at most `max`.
pub fn compose(
    local: Vec<(u32, Hit)>,
    peers: Vec<PeerHit>,
    hub: Vec<(Hit, String)>,
    query: &str,
    max: usize,
) -> Vec<SearchRow> {
    let mut rows: HashMap<String, SearchRow> = HashMap::new();
    fn row(rows: &mut HashMap<String, SearchRow>, hit: Hit, score: u32) -> &mut SearchRow {
        let key = hit.sd_hash.to_string();
        let r = rows.entry(key.clone()).or_insert_with(|| SearchRow {
            sd_hash: key,
            name: hit.name,
            size: hit.size,
            score,
            peers: 0,
            local: false,
            hub: None,
        });
        r.score = r.score.max(score);
        r
    }
    for (s, hit) in local {
        row(&mut rows, hit, s).local = true;
    }
    for p in peers {
        row(&mut rows, p.hit, p.score).peers += p.peers;
    }
    let q = text::tokens(query);
    for (hit, url) in hub {
        let s = text::score(&q, &text::tokens(&hit.name)).unwrap_or(0);
        row(&mut rows, hit, s).hub = Some(url);
    }
    let mut out: Vec<SearchRow> = rows.into_values().collect();
    let weight = |r: &SearchRow| r.peers + usize::from(r.local) + usize::from(r.hub.is_some());
    out.sort_by(|a, b| {
        (b.score, weight(b))
            .cmp(&(a.score, weight(a)))
            .then_with(|| a.name.cmp(&b.name))
    });
    out.truncate(max);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::SdHash;

    fn hit(n: u8, name: &str) -> Hit {
        Hit {
            sd_hash: SdHash::from_bytes([n; 48]),
            name: name.into(),
            size: 1,
        }
    }

    #[test]
    fn sources_merge_by_stream_and_rank_by_score_then_sources() {
        let local = vec![(3, hit(1, "cat.jpg"))];
        let peers = vec![
            PeerHit {
                hit: hit(1, "cat.jpg"),
                score: 3,
                peers: 2,
            },
            PeerHit {
                hit: hit(2, "cats.jpg"),
                score: 2,
                peers: 5,
            },
            PeerHit {
                hit: hit(3, "cat.png"),
                score: 3,
                peers: 1,
            },
        ];
        let hub = vec![(hit(4, "kitten"), "lbry://kitten#1".to_owned())];
        let rows = compose(local, peers, hub, "cat", 10);
        let got: Vec<(String, String)> = rows.iter().map(|r| (r.name.clone(), r.from())).collect();
        let want = [
            ("cat.jpg", "local,peers 2"),
            ("cat.png", "peers 1"),
            ("cats.jpg", "peers 5"),
            ("kitten", "hub lbry://kitten#1"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(got, want);
        assert_eq!(
            compose(Vec::new(), Vec::new(), Vec::new(), "x", 10),
            Vec::new()
        );
    }
}
