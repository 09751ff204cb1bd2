//! `lbrymount publish FILE...`: into a running node (over its control
//! socket, so the stream is announced and shown in the mount at once), or
//! into the data dir directly when no node runs.

use super::held::{node_or_store, Holder};
use super::progress::bytes_bar;
use crate::config::Config;
use crate::control::{client, Reply, Request};
use crate::publish::{publish_file, PublishError, PublishOptions};
use crate::store::DiskStore;
use anyhow::Context;
use std::path::{Path, PathBuf};
use tokio_util::sync::CancellationToken;

/// Files below this size finish before a bar would be worth drawing.
const BAR_THRESHOLD: u64 = 64 << 20;

pub fn run(cfg: &Config, files: &[PathBuf], show_progress: bool) -> anyhow::Result<()> {
    let store = match node_or_store(cfg)? {
        Holder::Node(node) => return through_node(cfg, node, files, show_progress),
        Holder::Nobody(store) => *store,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // A signal cancels the publish between chunks, so it stops at once and
    // its blobs are discarded whole (no temporary file left in the store).
    let cancel = CancellationToken::new();
    let files = files.to_vec();
    let token = cancel.clone();
    rt.block_on(async move {
        let work = tokio::task::spawn_blocking(move || {
            publish_here(&store, &files, show_progress, &token)
        });
        super::interrupt::cancel_on_signal(work, cancel).await
    })
}

/// Publishes into the data dir directly (no node runs on it).
fn publish_here(
    store: &DiskStore,
    files: &[PathBuf],
    show_progress: bool,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let opts = PublishOptions {
        cancel: cancel.clone(),
        ..PublishOptions::default()
    };
    for file in files {
        let bar = bar_for(file, show_progress);
        let published = publish_file(store, file, &opts, &|n| bar.inc(n)).map_err(|e| match e {
            // Read errors already name the file; store errors name a blob, so add which file.
            PublishError::Store(_) => {
                anyhow::Error::new(e).context(format!("cannot publish {}", file.display()))
            }
            other => other.into(),
        })?;
        bar.finish_and_clear();
        println!("{}  {}", published.sd_hash, file.display());
    }
    Ok(())
}

fn bar_for(file: &Path, show_progress: bool) -> indicatif::ProgressBar {
    let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    bytes_bar(
        size,
        &file.to_string_lossy(),
        show_progress && size >= BAR_THRESHOLD,
    )
}

/// Asks the running node to publish each file; the node reads it itself,
/// so the path is made absolute first.
fn through_node(
    cfg: &Config,
    first: client::Client,
    files: &[PathBuf],
    show_progress: bool,
) -> anyhow::Result<()> {
    let mut first = Some(first);
    for file in files {
        let path = std::path::absolute(file)
            .with_context(|| format!("cannot resolve {}", file.display()))?;
        let bar = bar_for(file, show_progress);
        // One request per connection.
        let mut node = match first.take() {
            Some(c) => c,
            None => client::connect(&cfg.data_dir)?
                .context("the node running on the data dir stopped")?,
        };
        let reply = node.request(&Request::Publish { path }, |n| bar.set_position(n))?;
        bar.finish_and_clear();
        match reply {
            Reply::Published { sd_hash, .. } => println!("{sd_hash}  {}", file.display()),
            Reply::Error { message } => anyhow::bail!("{message}"),
            other => anyhow::bail!("unexpected reply from the node: {other:?}"),
        }
    }
    Ok(())
}
