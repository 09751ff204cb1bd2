//! A search by name over every source a node has: its own store (local
//! shares), the lbrymount peers its DHT node finds, and its LBRY hubs. The
//! sources are asked at once, each bounded by its own deadline, and merged
//! by `search::compose`. Used by a running node (for the control socket and
//! the mount's `.search`) and by a one-shot `lbrymount search`.

use crate::control::SearchJob;
use crate::dht;
use crate::hub::{Resolver, SearchQuery};
use crate::search::{compose, search_peers, NameIndex, SearchConfig, SearchRow};
use crate::wire::search::Hit;
use std::net::SocketAddr;
use std::sync::Arc;

/// Most rows of one search.
pub const MAX_ROWS: u32 = 200;

/// What a search asks.
#[derive(Clone, Default)]
pub struct Sources {
    /// The store's names (local shares).
    pub index: Option<Arc<NameIndex>>,
    /// The DHT node that finds peers.
    pub dht: Option<Arc<dht::Node>>,
    /// Our own blob server, never asked.
    pub own: Option<SocketAddr>,
    pub hub: Option<Arc<Resolver>>,
}

/// Searches every source the job wants and this node has. An error only
/// when every source asked failed (a hub that did not answer, and no other).
pub async fn search(src: &Sources, job: &SearchJob) -> Result<Vec<SearchRow>, String> {
    let limit = job.limit.clamp(1, MAX_ROWS) as usize;
    let local = async {
        let Some(index) = src.index.clone() else {
            return Vec::new();
        };
        let text = job.text.clone();
        crate::blocking::run(move || index.search(&text, limit))
            .await
            .unwrap_or_default()
    };
    let peers = async {
        match (&src.dht, job.peers) {
            (Some(node), true) => {
                search_peers(node.clone(), &job.text, src.own, &SearchConfig::default()).await
            }
            _ => Vec::new(),
        }
    };
    let hub = async {
        match (&src.hub, job.hub) {
            (Some(r), true) => Some(hub_hits(r, &job.text, limit).await),
            _ => None,
        }
    };
    let (local, peers, hub) = tokio::join!(local, peers, hub);
    let hub = match hub {
        Some(Err(e)) if local.is_empty() && peers.is_empty() && !job.peers => return Err(e),
        Some(Err(e)) => {
            tracing::warn!("hub search failed: {e}");
            Vec::new()
        }
        Some(Ok(h)) => h,
        None => Vec::new(),
    };
    Ok(compose(local, peers, hub, &job.text, limit))
}

/// The stream claims a hub finds for `text`, as hits with their URLs.
async fn hub_hits(r: &Resolver, text: &str, limit: usize) -> Result<Vec<(Hit, String)>, String> {
    let q = SearchQuery {
        text: Some(text.to_owned()),
        channel: None,
        limit: (limit as u32).min(crate::hub::MAX_HITS),
        offset: 0,
    };
    let page = r.search(&q).await.map_err(|e| e.to_string())?;
    Ok(page
        .items
        .iter()
        .filter_map(|c| {
            let s = c.stream()?;
            let hit = Hit {
                sd_hash: s.sd_hash?,
                name: s.file_name.clone(),
                size: s.size,
            };
            Some((hit, c.canonical_url.clone()))
        })
        .collect())
}

/// The node's sources as the mount's `.search` (peers, local store, hubs).
pub struct MountSearch(pub Sources);

impl crate::vfs::Searcher for MountSearch {
    fn search<'a>(
        &'a self,
        text: &'a str,
    ) -> crate::vfs::names::BoxFuture<'a, Result<Vec<crate::vfs::Found>, String>> {
        Box::pin(async move {
            let job = SearchJob {
                text: text.to_owned(),
                limit: crate::vfs::search_dir::MAX_RESULTS as u32,
                hub: self.0.hub.is_some(),
                peers: true,
            };
            let rows = search(&self.0, &job).await?;
            let found = rows.into_iter().filter_map(|r| {
                let sd = r.sd_hash.parse().ok()?;
                Some(crate::vfs::Found { sd, name: r.name })
            });
            Ok(found.collect())
        })
    }
}
