//! [`Resolver`]: URLs to verified claims, as lbry-sdk's `Ledger.resolve`
//! does it: `blockchain.claimtrie.resolve` (≤ 100 URLs a call) gives
//! pointers, `blockchain.transaction.get_batch` (≤ 100 txids a call) the
//! transactions, and `verify` reads and checks the claims in them.
//!
//! Answers go to the memory cache and to the data dir; when no hub answers,
//! the last saved answer is used and its age logged and shown in `status`.
//! The whole lookup runs under one deadline, besides those of the
//! connection and of each call.

use super::cache::{MemCache, Saved};
use super::hubs::{HubError, HubStatus, Hubs};
use super::types::{NameError, Resolved};
use super::verify::{self, TxSet};
use crate::wire::hub::proto::{Output, Outputs};
use crate::wire::hub::{decode_outputs, txid_hex, LbryUrl};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most URLs per `claimtrie.resolve` and txids per `get_batch` (lbry-sdk's batches).
const BATCH: usize = 100;
/// Entries of the in-memory cache.
const MEM_CAP: usize = 4096;

/// The hubs run today: the LBRY Foundation's and Odysee's (lbry-sdk's own
/// defaults went down with LBRY Inc. in 2023).
pub const DEFAULT_HUBS: &[&str] = &[
    "s1.lbry.network:50001",
    "a-hub1.odysee.com:50001",
    "b-hub1.odysee.com:50001",
    "c-hub1.odysee.com:50001",
    "s-hub1.odysee.com:50001",
];

/// Where and how to ask.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// `HOST:PORT` of each hub, tried in order.
    pub hubs: Vec<String>,
    pub connect_timeout: Duration,
    /// For one call (one request line and its reply).
    pub call_timeout: Duration,
    /// For a whole lookup (resolve or search, with its transactions).
    pub resolve_timeout: Duration,
    /// How long an answer is reused from memory (zero: never).
    pub cache_ttl: Duration,
    /// Where the last answers are kept for offline use (`names/`).
    pub data_dir: Option<PathBuf>,
}

impl HubConfig {
    /// The given hubs (or [`DEFAULT_HUBS`] when empty) with lbry-sdk's
    /// connect deadline and a cache of five minutes.
    pub fn new(hubs: Vec<String>, data_dir: Option<PathBuf>) -> Self {
        let hubs = if hubs.is_empty() {
            DEFAULT_HUBS.iter().map(|s| s.to_string()).collect()
        } else {
            hubs
        };
        HubConfig {
            hubs,
            connect_timeout: Duration::from_secs(6),
            call_timeout: Duration::from_secs(10),
            resolve_timeout: Duration::from_secs(30),
            cache_ttl: Duration::from_secs(300),
            data_dir,
        }
    }
}

/// Names to claims, through the configured hubs.
pub struct Resolver {
    pub(super) hubs: Hubs,
    pub(super) cfg: HubConfig,
    mem: Mutex<MemCache<Resolved>>,
    pub(super) pages: Mutex<MemCache<super::SearchPage>>,
    pub(super) saved: Option<std::sync::Arc<Saved>>,
}

impl Resolver {
    pub fn new(cfg: HubConfig) -> Self {
        Resolver {
            hubs: Hubs::new(&cfg.hubs, cfg.connect_timeout, cfg.call_timeout),
            mem: Mutex::new(MemCache::new(cfg.cache_ttl, MEM_CAP)),
            pages: Mutex::new(MemCache::new(cfg.cache_ttl, MEM_CAP / 16)),
            saved: cfg
                .data_dir
                .as_deref()
                .map(|d| std::sync::Arc::new(Saved::new(d))),
            cfg,
        }
    }

    /// The hub in use and the last error.
    pub fn status(&self) -> HubStatus {
        self.hubs.status()
    }

    /// One URL (with or without `lbry://`) to its verified claim.
    pub async fn resolve(&self, url: &str) -> Result<Resolved, NameError> {
        let urls = [url.to_string()];
        self.resolve_many(&urls)
            .await
            .pop()
            .unwrap_or_else(|| Err(NameError::NoHub("no answer".into())))
    }

    /// Many URLs, in batches; one result per URL, in order.
    pub async fn resolve_many(&self, urls: &[String]) -> Vec<Result<Resolved, NameError>> {
        let mut results: Vec<Option<Result<Resolved, NameError>>> = vec![None; urls.len()];
        let mut ask: Vec<(usize, String, LbryUrl)> = Vec::new();
        let now = Instant::now();
        for (i, u) in urls.iter().enumerate() {
            match u.parse::<LbryUrl>() {
                Err(e) => results[i] = Some(Err(NameError::Invalid(e.to_string()))),
                Ok(parsed) => {
                    let key = parsed.to_string();
                    match self.lock_mem().get(&key, now) {
                        Some(r) => results[i] = Some(Ok(r)),
                        None => ask.push((i, key, parsed)),
                    }
                }
            }
        }
        for chunk in ask.chunks(BATCH) {
            let answers = self.ask_deadline(chunk).await;
            for ((i, key, _), answer) in chunk.iter().zip(answers) {
                results[*i] = Some(self.keep(key, answer).await);
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(NameError::NoHub("no answer".into()))))
            .collect()
    }

    /// Caches a good answer; replaces a no-hub error with the saved answer.
    async fn keep(
        &self,
        key: &str,
        answer: Result<Resolved, NameError>,
    ) -> Result<Resolved, NameError> {
        match answer {
            Ok(r) => {
                self.lock_mem()
                    .put(key.to_string(), r.clone(), Instant::now());
                if let Some(s) = &self.saved {
                    s.put(key, &r).await;
                }
                Ok(r)
            }
            Err(NameError::NoHub(why)) => {
                let saved = match &self.saved {
                    Some(s) => s.get::<Resolved>(key).await,
                    None => None,
                };
                match saved {
                    Some((age, r)) => {
                        self.stale(key, age, &why);
                        Ok(r)
                    }
                    None => Err(NameError::NoHub(why)),
                }
            }
            Err(e) => Err(e),
        }
    }

    pub(super) fn stale(&self, key: &str, age: Duration, why: &str) {
        let mins = age.as_secs() / 60;
        tracing::warn!(
            name = key,
            age_min = mins,
            "no hub answered ({why}); using the answer saved {mins} min ago"
        );
        self.hubs.set_stale(format!(
            "{key}: answer saved {mins} min ago (no hub answered)"
        ));
    }

    fn lock_mem(&self) -> std::sync::MutexGuard<'_, MemCache<Resolved>> {
        self.mem.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn ask_deadline(
        &self,
        chunk: &[(usize, String, LbryUrl)],
    ) -> Vec<Result<Resolved, NameError>> {
        let limit = self.cfg.resolve_timeout;
        match tokio::time::timeout(limit, self.ask(chunk)).await {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => vec![Err(e); chunk.len()],
            Err(_) => {
                let why = format!("no complete answer within {} s", limit.as_secs());
                self.hubs.note_error(why.clone());
                vec![Err(NameError::NoHub(why)); chunk.len()]
            }
        }
    }

    async fn ask(
        &self,
        chunk: &[(usize, String, LbryUrl)],
    ) -> Result<Vec<Result<Resolved, NameError>>, NameError> {
        let urls: Vec<&str> = chunk.iter().map(|(_, k, _)| k.as_str()).collect();
        let reply = self
            .call("blockchain.claimtrie.resolve", &json!(urls))
            .await?;
        let outputs = self.outputs(&reply)?;
        if outputs.txos.len() != chunk.len() {
            return Err(self.untrusted(format!(
                "asked {} URLs, the hub answered {}",
                chunk.len(),
                outputs.txos.len()
            )));
        }
        let txs = self.fetch_txs(&outputs.txos).await?;
        Ok(chunk
            .iter()
            .zip(&outputs.txos)
            .map(|((_, key, url), out)| {
                let r = verify::resolved(Some((key, url)), out, &txs);
                if let Err(NameError::Untrusted(why)) = &r {
                    self.hubs.note_error(format!("untrusted answer: {why}"));
                }
                r
            })
            .collect())
    }

    /// A call, with hub failures turned into [`NameError::NoHub`].
    pub(super) async fn call(&self, method: &str, params: &Value) -> Result<Value, NameError> {
        self.hubs.call(method, params).await.map_err(|e| match e {
            HubError::NoHub(why) => NameError::NoHub(why),
            rpc @ HubError::Rpc { .. } => NameError::NoHub(crate::error_chain(&rpc)),
        })
    }

    /// The `Outputs` of a resolve or search reply.
    pub(super) fn outputs(&self, reply: &Value) -> Result<Outputs, NameError> {
        let text = reply
            .as_str()
            .ok_or_else(|| self.untrusted("the answer is not a base64 string".into()))?;
        decode_outputs(text).map_err(|e| self.untrusted(format!("malformed answer: {e}")))
    }

    pub(super) fn untrusted(&self, why: String) -> NameError {
        self.hubs.note_error(format!("untrusted answer: {why}"));
        NameError::Untrusted(why)
    }

    /// The transactions `rows` point at, fetched in batches and checked.
    pub(super) async fn fetch_txs(&self, rows: &[Output]) -> Result<TxSet, NameError> {
        let mut txs = TxSet::default();
        for batch in verify::referenced_txs(rows).chunks(BATCH) {
            let ids: Vec<String> = batch.iter().map(txid_hex).collect();
            let reply = self
                .call("blockchain.transaction.get_batch", &json!(ids))
                .await?;
            txs.add_batch(batch, &reply).map_err(|e| match e {
                NameError::Untrusted(why) => self.untrusted(why),
                other => other,
            })?;
        }
        Ok(txs)
    }
}
