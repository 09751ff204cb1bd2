//! `lbrymount get COLLECTION_SD_HASH -o DIR`: a whole folder tree.
//!
//! The collection's document (docs/protocol.md §12) is fetched and checked
//! first, so a hostile one (`..`, absolute paths, clashes, too many
//! entries) is refused before anything is written. Then its files are
//! fetched [`PARALLEL`] at a time, each through the fetcher (which spreads
//! blobs over every peer it knows and fails over between them), decrypted
//! and written through `output_tree`: inside DIR only, never through a
//! symlink, each file appearing whole once its size and SHA-384 match.
//! A file already in DIR with the collection's size and SHA-384 is skipped
//! without fetching anything, and blobs fetched before stay in the store,
//! so running the same command again resumes. A file that fails does not
//! stop the others; the command then fails naming every file that did.

use super::get::GetRequest;
use crate::collection::{self, Collection, Entry};
use crate::fetch::{Fetcher, Priority};
use crate::node::peers::Peers;
use crate::output_tree::{Existing, TreeRoot};
use crate::sd::StreamDescriptor;
use anyhow::{bail, Context};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tracing::Instrument;

/// Files fetched at once.
pub const PARALLEL: usize = 4;
/// Blobs in flight per file.
const WINDOW: usize = 4;

/// What every file's task shares.
struct Ctx {
    fetcher: Fetcher,
    peers: Arc<Peers>,
    root: TreeRoot,
    entries: Vec<Entry>,
    tally: Tally,
}

/// The files of a collection's `get`, shared by its workers: which comes
/// next, which were skipped as complete, which failed and why.
#[derive(Default)]
pub(super) struct Tally {
    next: AtomicUsize,
    failed: Mutex<Vec<String>>,
    skipped: AtomicUsize,
}

impl Tally {
    /// The next entry no worker has taken.
    pub(super) fn take<'a>(&self, entries: &'a [Entry]) -> Option<&'a Entry> {
        entries.get(self.next.fetch_add(1, Ordering::Relaxed))
    }

    /// Logs and counts how `entry` went (`Ok(true)`: already complete).
    pub(super) fn record(&self, entry: &Entry, result: anyhow::Result<bool>) {
        match result {
            Ok(true) => {
                self.skipped.fetch_add(1, Ordering::Relaxed);
                tracing::info!(path = %entry.path, "already complete: skipped");
            }
            Ok(false) => tracing::info!(path = %entry.path, bytes = entry.size, "file written"),
            Err(e) => {
                let msg = format!("{}: {}", entry.path, crate::error_chain(e.as_ref()));
                tracing::warn!(error = %msg, "file failed");
                self.failed
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(msg);
            }
        }
    }

    /// The `get` ended: an error naming every file that failed, or the
    /// count written (and skipped as complete) on stderr.
    pub(super) fn outcome(self, req: &GetRequest, n: usize, root: &TreeRoot) -> anyhow::Result<()> {
        let failed = self.failed.into_inner().unwrap_or_else(|e| e.into_inner());
        let skipped = self.skipped.into_inner();
        let (sd, target) = (req.sd_hash, root.display(""));
        if !failed.is_empty() {
            bail!(
                "{} of {n} files of collection {sd} could not be written:\n  {}",
                failed.len(),
                failed.join("\n  ")
            );
        }
        tracing::info!(sd = %sd.short(), files = n, skipped, path = %target.display(), "collection written");
        if req.show_progress {
            eprintln!(
                "wrote {} files to {} ({skipped} already complete)",
                n - skipped,
                target.display()
            );
        }
        Ok(())
    }
}

/// Gets the tree of collection `desc` (already fetched and verified).
pub async fn get(
    fetcher: Fetcher,
    peers: Arc<Peers>,
    desc: StreamDescriptor,
    req: &GetRequest,
) -> anyhow::Result<()> {
    let sd = req.sd_hash;
    let max = collection::MAX_BYTES as u64 + 16 * desc.blobs().len() as u64;
    if desc.encrypted_size() > max {
        bail!(
            "collection {sd} is larger than {} bytes",
            collection::MAX_BYTES
        );
    }
    let bytes = read_stream(&fetcher, &desc).await?;
    let tree = Collection::parse(&bytes).with_context(|| format!("collection {sd} is refused"))?;
    let dir = target_dir(req, &desc.download_name())?;
    let root = tokio::task::spawn_blocking(move || TreeRoot::open(&dir)).await??;
    tracing::info!(sd = %sd.short(), files = tree.entries().len(), bytes = tree.total_size(), "getting collection");
    let ctx = Arc::new(Ctx {
        fetcher,
        peers,
        root,
        entries: tree.entries().to_vec(),
        tally: Tally::default(),
    });
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..PARALLEL.min(ctx.entries.len()) {
        workers.spawn(worker(ctx.clone()));
    }
    while workers.join_next().await.is_some() {}
    let ctx = Arc::into_inner(ctx).context("internal error: a worker outlived the get")?;
    let n = ctx.entries.len();
    ctx.tally.outcome(req, n, &ctx.root)
}

/// `-o DIR`, or `./<collection name>` without it (`name`: the
/// collection's download name).
pub(super) fn target_dir(req: &GetRequest, name: &str) -> anyhow::Result<PathBuf> {
    match &req.output {
        Some(p) if p.as_os_str() == "-" => bail!("a collection is a folder tree: give -o DIR"),
        Some(p) => Ok(p.clone()),
        None => {
            let name = name.strip_suffix(collection::SUFFIX).unwrap_or(name);
            let cwd = std::env::current_dir().context("cannot determine the current directory")?;
            Ok(cwd.join(name))
        }
    }
}

/// Takes entries until none is left.
async fn worker(ctx: Arc<Ctx>) {
    while let Some(entry) = ctx.tally.take(&ctx.entries).cloned() {
        let span = tracing::info_span!("file", path = %entry.path, sd = %entry.sd.short());
        let result = one_file(&ctx, &entry).instrument(span).await;
        ctx.tally.record(&entry, result);
    }
}

/// Writes one file; `Ok(true)` if it was already there, complete.
async fn one_file(ctx: &Arc<Ctx>, entry: &Entry) -> anyhow::Result<bool> {
    let c = ctx.clone();
    let rel = entry.path.clone();
    let (dir, name, existing) = tokio::task::spawn_blocking(move || {
        let (dir, name) = c.root.parent(&rel)?;
        let existing = dir.existing(&name)?;
        Ok::<_, crate::output_tree::TreeError>((dir, name, existing))
    })
    .await??;
    if let (Existing::File { size, sha384 }, Some(want)) = (&existing, entry.sha384) {
        if *size == entry.size && *sha384 == want {
            return Ok(true);
        }
    }
    let sd_blob = ctx
        .fetcher
        .fetch(entry.sd.as_blob(), None, Priority::Urgent)
        .await?;
    let desc = StreamDescriptor::parse_verified(sd_blob.data(), &entry.sd)
        .context("its stream descriptor is invalid")?;
    ctx.peers.register(&desc);
    let mut out = tokio::task::spawn_blocking(move || dir.create(&name)).await??;
    let desc = Arc::new(desc);
    let wanted = desc
        .blobs()
        .iter()
        .map(|b| (b.hash, Some(u64::from(b.length))))
        .collect();
    let mut all = ctx.fetcher.fetch_all(wanted, WINDOW);
    let mut expected = 0;
    while let Some((i, blob)) = all.next().await {
        if i != expected {
            bail!("internal error: blob {i} arrived where blob {expected} belongs");
        }
        expected += 1;
        let info = desc.blobs().get(i).cloned().context("unknown blob index")?;
        let blob = blob.with_context(|| format!("cannot get blob {i} ({})", info.hash))?;
        let d = desc.clone();
        let plain = tokio::task::spawn_blocking(move || d.described(&info).decrypt(blob)).await??;
        out = tokio::task::spawn_blocking(move || out.write(&plain).map(|()| out)).await??;
    }
    let (size, sha) = (entry.size, entry.sha384);
    tokio::task::spawn_blocking(move || out.finish(size, sha)).await??;
    Ok(false)
}

/// The whole plaintext of a small stream (a collection document).
async fn read_stream(fetcher: &Fetcher, desc: &StreamDescriptor) -> anyhow::Result<Vec<u8>> {
    let wanted = desc
        .blobs()
        .iter()
        .map(|b| (b.hash, Some(u64::from(b.length))))
        .collect();
    let mut all = fetcher.fetch_all(wanted, WINDOW);
    let mut bytes = Vec::new();
    while let Some((i, blob)) = all.next().await {
        let info = desc.blobs().get(i).cloned().context("unknown blob index")?;
        let blob = blob.with_context(|| format!("cannot get blob {i} of the collection"))?;
        bytes.extend_from_slice(&desc.described(&info).decrypt(blob)?);
    }
    Ok(bytes)
}
