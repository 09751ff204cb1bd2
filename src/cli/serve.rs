//! `lbrymount serve --listen ADDR:PORT`: serve the local store to LBRY peers.

use crate::config::Config;
use crate::exchange::server::{BlobServer, ServerConfig};
use crate::store::DiskStore;
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use tracing::Instrument;

/// `dht`: the UDP address of a DHT node to run, and its bootstrap nodes.
pub fn run(
    cfg: &Config,
    listen: SocketAddr,
    max_connections: usize,
    dht: Option<(SocketAddr, Vec<String>)>,
) -> anyhow::Result<()> {
    let store = Arc::new(DiskStore::open(&cfg.data_dir, cfg.cache_bytes)?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("lbrymount-serve")
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let config = ServerConfig {
            max_connections,
            ..ServerConfig::default()
        };
        let server = BlobServer::bind(listen, store.clone(), config)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let stats = server.stats();
        let node = match dht {
            Some((udp, bootstrap)) => {
                let seeds = super::dht::resolve(&bootstrap).await?;
                let state = cfg.data_dir.join("dht.json");
                let node = super::dht::start(udp, &seeds, Some(&state)).await?;
                tracing::info!("dht node ready at {}", node.local_addr());
                let tcp_port = server.local_addr().port();
                let span = tracing::info_span!("announce");
                tokio::spawn(
                    super::dht::announce_loop(node.clone(), store, tcp_port).instrument(span),
                );
                Some(node)
            }
            None => None,
        };
        server.run(shutdown_signal()).await;
        if let Some(node) = &node {
            // Saves the DHT state now, not whenever the last handle drops.
            node.shutdown();
        }
        let s = stats.snapshot();
        tracing::info!(
            blobs = s.blobs_served,
            bytes = s.bytes_served,
            connections = s.connections,
            "serve finished"
        );
        Ok(())
    })
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        tracing::warn!("cannot install signal handlers; stop with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => tracing::info!("SIGINT received, shutting down"),
        _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
    }
}
