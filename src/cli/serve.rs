//! `lbrymount serve`: serve the local store to LBRY peers, and announce it in the DHT.

use super::node_args::NodeArgs;
use crate::config::Config;
use crate::node::Node;
use anyhow::Context;
use std::time::Duration;

pub fn run(cfg: &Config, args: &NodeArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("lbrymount-serve")
        .build()
        .context("cannot start the async runtime")?;
    let result = rt.block_on(async move {
        let mut node = Node::start(
            cfg,
            args.options(&cfg.data_dir, Vec::new(), Duration::from_secs(60)),
        )
        .await?;
        node.start_share()?;
        shutdown_signal().await;
        let s = node.shutdown().await;
        tracing::info!(
            blobs = s.blobs_served,
            bytes = s.bytes_served,
            connections = s.connections,
            "serve finished"
        );
        Ok(())
    });
    // Blocking work still running (a cancelled publish finishing its last
    // chunk) gets a moment, not as long as it likes.
    rt.shutdown_timeout(crate::node::STOP_GRACE);
    result
}

/// Resolves on SIGINT, SIGTERM or SIGHUP.
pub(super) async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    // SIGHUP too: closing the terminal a node runs in must stop it cleanly
    // (unmounting), not kill it with its mount left behind.
    let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        tracing::warn!("cannot install signal handlers; stop with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => tracing::info!("SIGINT received, shutting down"),
        _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
        _ = hup.recv() => tracing::info!("SIGHUP received, shutting down"),
    }
}
