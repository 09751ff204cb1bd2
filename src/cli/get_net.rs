//! `lbrymount get SD_HASH --peer HOST:PORT ...`: fetch a stream from peers.
//!
//! The sd blob first (it names the blobs and the file), then every data blob
//! through the fetcher's ordered window: blobs download in parallel across
//! peers while the file is written in order, so memory stays at the window
//! size whatever the stream's length. Blobs already in the store are taken
//! from there, so an interrupted `get` resumes.

use super::get::{open_output, report, GetRequest};
use super::progress::bytes_bar;
use crate::fetch::{Fetcher, Priority};
use crate::hash::SdHash;
use crate::node::oneshot::{fetching, Fetching, GetConfig};
use crate::node::Bootstrap;
use crate::sd::StreamDescriptor;
use crate::store::{DiskStore, HasBlob, ReadQuiet};
use anyhow::{bail, Context};
use std::sync::Arc;
use std::time::Duration;

/// Blobs in flight or waiting to be written (2 MiB each): at least this many,
/// two per peer beyond that, and never more than `MAX_WINDOW` (64 MiB).
const WINDOW: usize = 8;
const MAX_WINDOW: usize = 32;

pub async fn get(store: Arc<DiskStore>, req: GetRequest) -> anyhow::Result<()> {
    let sd = req.sd_hash;
    let cfg = GetConfig {
        peers: req.peers.clone(),
        bootstrap: bootstrap_for(&store, &req),
        fetch_deadline: Duration::from_secs(req.timeout_secs),
        reach: req.reach.clone(),
    };
    let Fetching {
        fetcher,
        peers,
        fixed,
        has_sources,
    } = fetching(store.clone(), &cfg).await?;
    if !has_sources && !store.contains(&sd.as_blob()) {
        bail!("stream descriptor {sd} is not in the local store, and --no-bootstrap without --peer, --blob-http or a fixed peer leaves nowhere to look");
    }
    let sd_blob = fetcher.fetch(sd.as_blob(), None, Priority::Urgent).await?;
    let desc = StreamDescriptor::parse_verified(sd_blob.data(), &sd)
        .with_context(|| format!("stream descriptor {sd} is invalid"))?;
    // The stream's blobs are looked up by its sd hash, as lbry-sdk announces them.
    peers.register(&desc);
    if crate::collection::is_collection_name(desc.suggested_file_name()) {
        return super::get_tree::get(fetcher, peers, desc, &req).await;
    }
    let missing = desc
        .blobs()
        .iter()
        .filter(|b| !store.contains(&b.hash))
        .count();
    tracing::info!(sd = %sd.short(), blobs = desc.blobs().len(), missing, peers = fixed, "getting stream");
    if missing > 0 && !has_sources {
        bail!(
            "{missing} of {} blobs are missing from the local store, and --no-bootstrap without --peer, --blob-http or a fixed peer leaves nowhere to look",
            desc.blobs().len()
        );
    }
    let window = (2 * fixed).clamp(WINDOW, MAX_WINDOW);
    write_stream(&fetcher, Arc::new(desc), &req, window).await
}

/// Where to look for peers besides those given: the DHT nodes given, else
/// (with no peer given either) LBRY's public DHT; nowhere when the store
/// has the whole stream.
fn bootstrap_for(store: &DiskStore, req: &GetRequest) -> Bootstrap {
    match (&req.bootstrap[..], req.peers.is_empty(), req.no_bootstrap) {
        (_, _, true) => Bootstrap::None,
        ([], true, false) if !complete_locally(store, &req.sd_hash) => Bootstrap::Default,
        ([], _, false) => Bootstrap::None,
        (specs, _, false) => Bootstrap::Nodes(specs.to_vec()),
    }
}

/// Fetches every data blob through an ordered window of `window` blobs and
/// writes the decrypted stream where `req` says, in order.
async fn write_stream(
    fetcher: &Fetcher,
    desc: Arc<StreamDescriptor>,
    req: &GetRequest,
    window: usize,
) -> anyhow::Result<()> {
    let bar = bytes_bar(
        desc.encrypted_size(),
        &desc.download_name(),
        req.show_progress,
    );
    let mut out = open_output(req.output.as_deref(), &desc.download_name())?;
    let target = out.describe();
    let wanted = desc
        .blobs()
        .iter()
        .map(|b| (b.hash, Some(u64::from(b.length))))
        .collect();
    let mut all = fetcher.fetch_all(wanted, window);
    let mut expected = 0;
    while let Some((i, blob)) = all.next().await {
        if i != expected {
            bail!("internal error: blob {i} arrived where blob {expected} belongs");
        }
        expected += 1;
        let info = desc
            .blobs()
            .get(i)
            .cloned()
            .context("fetcher returned an unknown blob index")?;
        let blob = blob.with_context(|| format!("cannot get blob {i} ({})", info.hash))?;
        let d = desc.clone();
        // Decryption and the write are blocking work; keep them off the async threads.
        let plain = tokio::task::spawn_blocking(move || d.described(&info).decrypt(blob)).await??;
        out = tokio::task::spawn_blocking(move || out.write(&plain).map(|_| out)).await??;
        bar.inc(u64::from(desc.blobs()[i].length));
    }
    let n = tokio::task::spawn_blocking(move || out.finish()).await??;
    bar.finish_and_clear();
    report(req, n, &target);
    Ok(())
}

/// Whether the store holds the stream's descriptor and every blob of it.
fn complete_locally<S: HasBlob + ReadQuiet + ?Sized>(store: &S, sd: &SdHash) -> bool {
    crate::assemble::load_descriptor_quiet(store, sd)
        .is_ok_and(|d| d.blobs().iter().all(|b| store.contains(&b.hash)))
}
