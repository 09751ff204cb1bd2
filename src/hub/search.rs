//! Claim search (`blockchain.claimtrie.search`, keyword parameters) and a
//! channel's streams page by page, newest first.
//!
//! Every hit is checked like a resolve (`verify`); a hit that claims to be
//! in the channel searched for but whose signature does not verify is left
//! out of the page (and logged), so nothing unsigned is ever listed under a
//! channel. A hub that lies about a transaction fails the whole page.
//! Channel pages are cached and saved like resolutions, so a channel lists
//! offline what was last seen.

use super::resolve::Resolver;
use super::types::{NameError, Resolved};
use super::verify;
use crate::wire::hub::LbryUrl;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::time::Instant;

/// The most hits asked for in one call (lbry-sdk's largest page).
pub const MAX_PAGE: u32 = 50;
/// The most hits one search returns (the hub counts no further).
pub const MAX_HITS: u32 = 1000;

/// What to search for: stream claims, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    /// Words to look for in names, titles and descriptions.
    pub text: Option<String>,
    /// Only claims signed by this channel (`@name` or `lbry://@name#id`).
    pub channel: Option<String>,
    /// Hits wanted, at most [`MAX_HITS`]; asked [`MAX_PAGE`] at a time.
    pub limit: u32,
    pub offset: u32,
}

/// One page of hits and how many there are in all (the hub counts to 1000).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchPage {
    pub items: Vec<Resolved>,
    pub total: u32,
}

struct RawPage {
    found: SearchPage,
    rows: u32,
}

impl Resolver {
    /// Up to `q.limit` stream claims matching `q`, newest first. A channel's
    /// listing (no text) is [`Resolver::channel_streams`], cached and saved.
    pub async fn search(&self, q: &SearchQuery) -> Result<SearchPage, NameError> {
        match (&q.text, &q.channel) {
            (None, Some(c)) => self.channel_streams(c, q.offset, q.limit).await,
            _ => self.search_uncached(q).await,
        }
    }

    async fn search_uncached(&self, q: &SearchQuery) -> Result<SearchPage, NameError> {
        let channel = match &q.channel {
            Some(c) => Some(channel_url(c)?),
            None => None,
        };
        let limit = self.cfg.resolve_timeout;
        tokio::time::timeout(limit, self.search_pages(q, channel.as_ref()))
            .await
            .unwrap_or_else(|_| {
                Err(NameError::NoHub(format!(
                    "no complete answer within {} s",
                    limit.as_secs()
                )))
            })
    }

    /// The streams of a channel, newest first, `limit` (≤ [`MAX_HITS`],
    /// asked [`MAX_PAGE`] at a time) from `offset`; the last answer is used
    /// when no hub answers.
    pub async fn channel_streams(
        &self,
        channel_url: &str,
        offset: u32,
        limit: u32,
    ) -> Result<SearchPage, NameError> {
        let key = format!(
            "channel_streams {} {offset} {limit}",
            channel_url_key(channel_url)?
        );
        if let Some(p) = self.lock_pages().get(&key, Instant::now()) {
            return Ok(p);
        }
        let q = SearchQuery {
            text: None,
            channel: Some(channel_url.to_string()),
            limit,
            offset,
        };
        match self.search_uncached(&q).await {
            Ok(page) => {
                self.lock_pages()
                    .put(key.clone(), page.clone(), Instant::now());
                if let Some(s) = &self.saved {
                    s.put(&key, &page).await;
                }
                Ok(page)
            }
            Err(NameError::NoHub(why)) => {
                let saved = match &self.saved {
                    Some(s) => s.get::<SearchPage>(&key).await,
                    None => None,
                };
                match saved {
                    Some((age, page)) => {
                        self.stale(&key, age, &why);
                        Ok(page)
                    }
                    None => Err(NameError::NoHub(why)),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Pages of at most [`MAX_PAGE`] until `q.limit` hits or the end.
    async fn search_pages(
        &self,
        q: &SearchQuery,
        channel: Option<&LbryUrl>,
    ) -> Result<SearchPage, NameError> {
        let want = q.limit.clamp(1, MAX_HITS);
        let mut all = SearchPage::default();
        let mut offset = q.offset;
        loop {
            let page_q = SearchQuery {
                limit: (want - all.items.len() as u32).min(MAX_PAGE),
                offset,
                ..q.clone()
            };
            let page = self.search_now(&page_q, channel).await?;
            let got = page.rows;
            all.total = page.found.total;
            all.items.extend(page.found.items);
            offset += got;
            if got < page_q.limit || all.items.len() as u32 >= want || offset >= all.total {
                return Ok(all);
            }
        }
    }

    /// One call: the checked hits, and how many rows the hub sent.
    async fn search_now(
        &self,
        q: &SearchQuery,
        channel: Option<&LbryUrl>,
    ) -> Result<RawPage, NameError> {
        let reply = self
            .call("blockchain.claimtrie.search", &search_params(q, channel))
            .await?;
        if reply.as_str() == Some("") {
            if let Some(c) = channel {
                return Err(NameError::NotFound(format!(
                    "Could not find channel in \"{c}\"."
                )));
            }
        }
        let outputs = self.outputs(&reply)?;
        let txs = self.fetch_txs(&outputs.txos).await?;
        let mut items = Vec::with_capacity(outputs.txos.len());
        for out in &outputs.txos {
            let r = verify::resolved(None, out, &txs).map_err(|e| match e {
                NameError::Untrusted(why) => self.untrusted(why),
                other => other,
            });
            match r {
                Ok(r) if channel.is_some() && r.channel.is_none() => {
                    tracing::warn!(
                        claim_id = r.claim_id,
                        "search hit not signed by the channel; left out"
                    );
                }
                Ok(r) => items.push(r),
                Err(e @ NameError::Untrusted(_)) => return Err(e),
                Err(e) => tracing::debug!(error = %e, "search hit skipped"),
            }
        }
        if let Some(c) = channel {
            items.iter().try_for_each(|hit| check_channel(c, hit))?;
        }
        Ok(RawPage {
            rows: outputs.txos.len() as u32,
            found: SearchPage {
                items,
                total: outputs.total,
            },
        })
    }

    fn lock_pages(&self) -> std::sync::MutexGuard<'_, super::cache::MemCache<SearchPage>> {
        self.pages.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The hits of a channel search must all be in the channel asked for.
fn check_channel(asked: &LbryUrl, hit: &Resolved) -> Result<(), NameError> {
    let Some(part) = &asked.channel else {
        return Ok(());
    };
    let Some(ch) = &hit.channel else {
        return Ok(());
    };
    let id_ok = match &part.modifier {
        Some(crate::wire::hub::Modifier::ClaimId(p)) => ch.claim_id.starts_with(p.as_str()),
        _ => true,
    };
    if id_ok && (!part.name.is_ascii() || part.name.eq_ignore_ascii_case(&ch.name)) {
        Ok(())
    } else {
        Err(NameError::Untrusted(format!(
            "asked for the streams of {asked}, the hub answered with those of {}",
            ch.canonical_url
        )))
    }
}

/// The keyword parameters lbry-sdk's `claim_search` sends.
fn search_params(q: &SearchQuery, channel: Option<&LbryUrl>) -> Value {
    let mut m = Map::new();
    if let Some(t) = q.text.as_ref().filter(|t| !t.is_empty()) {
        m.insert("text".into(), t.clone().into());
    }
    if let Some(c) = channel {
        let c = c.to_string();
        m.insert("channel".into(), c.trim_start_matches("lbry://").into());
    }
    m.insert("claim_type".into(), "stream".into());
    m.insert("order_by".into(), serde_json::json!(["release_time"]));
    m.insert("limit".into(), q.limit.clamp(1, MAX_PAGE).into());
    m.insert("offset".into(), q.offset.into());
    Value::Object(m)
}

/// `@chan`, `lbry://@chan#ab` → the channel's URL; anything else is invalid.
fn channel_url(text: &str) -> Result<LbryUrl, NameError> {
    let with_at = if text.starts_with('@') || text.starts_with("lbry://") {
        text.to_string()
    } else {
        format!("@{text}")
    };
    let url: LbryUrl = with_at
        .parse()
        .map_err(|e: crate::wire::hub::UrlError| NameError::Invalid(e.to_string()))?;
    if url.channel.is_none() || url.stream.is_some() {
        return Err(NameError::Invalid(format!("{text:?} is not a channel URL")));
    }
    Ok(url)
}

fn channel_url_key(text: &str) -> Result<String, NameError> {
    channel_url(text).map(|u| u.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_parameters_are_keywords_with_a_bounded_page() {
        let q = SearchQuery {
            text: Some("cats".into()),
            channel: None,
            limit: 5000,
            offset: 100,
        };
        let p = search_params(&q, channel_url("@bar").ok().as_ref());
        assert_eq!(p["text"], "cats");
        assert_eq!(p["channel"], "@bar");
        assert_eq!(p["claim_type"], "stream");
        assert_eq!(p["limit"], MAX_PAGE);
        assert_eq!(p["offset"], 100);
        assert!(channel_url("bar").is_ok(), "the @ may be left out");
        assert!(channel_url("@bar/one").is_err());
        assert!(channel_url("@b ar").is_err());
    }
}
