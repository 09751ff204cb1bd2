//! `serve`: a node that serves its store, announces it and watches its
//! share folder until a signal (SIGINT, SIGTERM, SIGHUP) stops it in order.

use super::{Node, NodeConfig, STOP_GRACE};
use anyhow::Context;

/// Runs a node on its own runtime until a signal; logs what it served.
pub fn serve(cfg: NodeConfig) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("lbrymount-serve")
        .build()
        .context("cannot start the async runtime")?;
    let result = rt.block_on(async move {
        let mut node = Node::start(cfg).await?;
        node.start_share()?;
        node.stop_asked().await;
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
    rt.shutdown_timeout(STOP_GRACE);
    result
}

/// Resolves on SIGINT, SIGTERM or SIGHUP.
pub async fn shutdown_signal() {
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
