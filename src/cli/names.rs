//! `lbrymount resolve URL...` and `lbrymount search TEXT`: LBRY names
//! through a hub, printed one claim a line, sd hash first (or as JSON).
//! Resolution and its checks are `hub`'s business; this is flags in,
//! lines out.

use crate::hash::SdHash;
use crate::hub::{HubConfig, NameError, Resolved, Resolver, SearchQuery};
use anyhow::{bail, Context};

/// The resolver the flags ask for; an error when names are turned off.
fn resolver(hub: Option<HubConfig>) -> anyhow::Result<Resolver> {
    match hub {
        Some(h) => Ok(Resolver::new(h)),
        None => bail!("names are turned off (--no-hub); give --hub HOST:PORT or drop --no-hub"),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Prints each URL's claim; exits 1 (an error) when any did not resolve.
pub fn resolve(hub: Option<HubConfig>, urls: &[String], json: bool) -> anyhow::Result<()> {
    let resolver = resolver(hub)?;
    let results = runtime()?.block_on(resolver.resolve_many(urls));
    let mut failed: Vec<NameError> = Vec::new();
    for r in results {
        match r.and_then(|r| print_claim(&r, json)) {
            Ok(()) => {}
            Err(e) => failed.push(e),
        }
    }
    finish(failed, urls.len())
}

/// One claim: its line, or its JSON; a claim with no sd hash is an error
/// unless JSON was asked (JSON says everything the claim says).
fn print_claim(r: &Resolved, json: bool) -> Result<(), NameError> {
    if json {
        println!("{}", serde_json::to_string(r).unwrap_or_default());
        return Ok(());
    }
    match r.line() {
        Some(line) => {
            println!("{line}");
            Ok(())
        }
        None => r.sd_hash().map(|_| ()),
    }
}

fn finish(failed: Vec<NameError>, asked: usize) -> anyhow::Result<()> {
    match failed.len() {
        0 => Ok(()),
        1 if asked == 1 => Err(anyhow::Error::new(failed.into_iter().next().expect("one"))),
        n => {
            for e in &failed {
                eprintln!("lbrymount: {e}");
            }
            bail!("{n} of {asked} URLs did not resolve")
        }
    }
}

/// The sd hash a command was given, resolving an LBRY URL through the hubs
/// (or their last answer, kept in the data dir, when none answers).
pub fn sd_hash_of(hub: Option<HubConfig>, stream: &str) -> anyhow::Result<SdHash> {
    if let Ok(sd) = stream.parse::<SdHash>() {
        return Ok(sd);
    }
    let resolved = resolve_one(hub, stream)?;
    let sd = resolved.sd_hash()?;
    tracing::info!(url = %resolved.canonical_url, sd = %sd.short(), "resolved");
    Ok(sd)
}

/// What `get` was given: an LBRY stream, or a claim whose source is a
/// torrent (`btih:<infohash>`, as `get` takes it).
pub enum Source {
    Stream(SdHash),
    Torrent(String),
}

/// [`sd_hash_of`], but a claim whose source is a torrent gives its infohash.
pub fn source_of(hub: Option<HubConfig>, stream: &str) -> anyhow::Result<Source> {
    if let Ok(sd) = stream.parse::<SdHash>() {
        return Ok(Source::Stream(sd));
    }
    let resolved = resolve_one(hub, stream)?;
    if let Some(ih) = resolved.torrent() {
        tracing::info!(url = %resolved.canonical_url, btih = %hex::encode(ih), "resolved to a torrent");
        return Ok(Source::Torrent(format!("btih:{}", hex::encode(ih))));
    }
    let sd = resolved.sd_hash()?;
    tracing::info!(url = %resolved.canonical_url, sd = %sd.short(), "resolved");
    Ok(Source::Stream(sd))
}

fn resolve_one(hub: Option<HubConfig>, url: &str) -> anyhow::Result<crate::hub::Resolved> {
    let resolver = resolver(hub)?;
    Ok(runtime()?.block_on(resolver.resolve(url))?)
}

/// [`sd_hash_of`] for a command whose stream is optional.
pub fn sd_hash_opt(
    hub: Option<HubConfig>,
    stream: Option<String>,
) -> anyhow::Result<Option<SdHash>> {
    stream.map(|s| sd_hash_of(hub, &s)).transpose()
}

/// Prints the stream claims a search finds, newest first.
pub fn search(hub: Option<HubConfig>, q: &SearchQuery, json: bool) -> anyhow::Result<()> {
    let resolver = resolver(hub)?;
    let page = runtime()?.block_on(resolver.search(q))?;
    let mut skipped = 0;
    for r in &page.items {
        if json {
            println!("{}", serde_json::to_string(r).unwrap_or_default());
        } else if let Some(line) = r.line() {
            println!("{line}");
        } else {
            skipped += 1;
        }
    }
    if skipped > 0 {
        tracing::warn!("{skipped} hits have no sd hash and are not listed (--json shows them)");
    }
    Ok(())
}

/// A one-shot command's deadline for the whole answer, and no longer for any part of it.
pub fn with_timeout(
    hub: Option<crate::hub::HubConfig>,
    secs: u64,
) -> Option<crate::hub::HubConfig> {
    hub.map(|mut h| {
        let t = std::time::Duration::from_secs(secs);
        h.resolve_timeout = t;
        h.call_timeout = h.call_timeout.min(t);
        h.connect_timeout = h.connect_timeout.min(t);
        h
    })
}
