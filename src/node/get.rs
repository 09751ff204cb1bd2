//! A `get` asked of the running node over its control socket.
//!
//! The node holds the data dir's lock, so `lbrymount get` on that data dir
//! cannot open the store; the node fetches the stream instead (into its own
//! store, so the blobs stay cached and a rerun resumes) and sends the
//! decrypted bytes back in order. The command writes them itself, with its
//! own rules for what it may replace. Memory stays bounded: a window of
//! blobs in flight, and a small channel to the socket writer, which waits
//! for the command to read.

use super::control::NodeControl;
use crate::assemble::{check_complete, load_descriptor};
use crate::control::server::GetEvent;
use crate::control::{GetJob, Reply};
use crate::fetch::{FetchConfig, Fetcher, PeerFinder, Priority};
use crate::hash::SdHash;
use crate::sd::StreamDescriptor;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::Sender;

/// Blobs in flight or waiting to be sent (2 MiB each).
const WINDOW: usize = 8;

impl NodeControl {
    /// Serves one `get`: `Stream`, then the file's bytes in order, as
    /// events; the reply is `Got`. Errors name the blob or peer concerned.
    pub(super) async fn get_stream(
        &self,
        job: GetJob,
        events: Sender<GetEvent>,
    ) -> Result<Reply, String> {
        let sd: SdHash = job
            .sd_hash
            .parse()
            .map_err(|e| format!("not an sd hash: {e}"))?;
        let fetcher = self.fetcher_for(&job).await?;
        let desc = self.descriptor(&fetcher, sd, job.offline).await?;
        self.peers.register(&desc);
        let header = GetEvent::Stream {
            name: desc.download_name(),
            size: desc.encrypted_size(),
        };
        events.send(header).await.map_err(|_| gone())?;
        let desc = Arc::new(desc);
        let wanted = desc
            .blobs()
            .iter()
            .map(|b| (b.hash, Some(u64::from(b.length))))
            .collect();
        let mut all = fetcher.fetch_all(wanted, WINDOW);
        let mut bytes = 0u64;
        while let Some((i, blob)) = all.next().await {
            let info = desc.blobs().get(i).copied().ok_or("unknown blob index")?;
            let blob = blob.map_err(|e| format!("cannot get blob {i}: {}", error_text(e)))?;
            let d = desc.clone();
            let plain = crate::blocking::run(move || d.described(&info).decrypt(blob))
                .await
                .map_err(|e| e.to_string())?
                .map_err(error_text)?;
            bytes += plain.len() as u64;
            events
                .send(GetEvent::Data(plain))
                .await
                .map_err(|_| gone())?;
        }
        tracing::info!(sd = %sd.short(), bytes, "stream sent to a get");
        Ok(Reply::Got { bytes })
    }

    /// The stream's descriptor: from the network (or the store) through
    /// `fetcher`; offline, from the store, which must hold the whole stream.
    pub(super) async fn descriptor(
        &self,
        fetcher: &Fetcher,
        sd: SdHash,
        offline: bool,
    ) -> Result<StreamDescriptor, String> {
        if offline {
            let store = self.store.clone();
            return crate::blocking::run(move || {
                let d = load_descriptor(&*store, &sd)?;
                check_complete(&*store, &d).map(|_| d)
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(error_text);
        }
        let blob = fetcher
            .fetch(sd.as_blob(), None, Priority::Urgent)
            .await
            .map_err(error_text)?;
        StreamDescriptor::parse_verified(blob.data(), &sd)
            .map_err(|e| format!("stream descriptor {sd} is invalid: {e}"))
    }

    /// A fetcher over the node's store and peers, plus the command's
    /// peers and deadline; offline, one that only reads the store.
    pub(super) async fn fetcher_for(&self, job: &GetJob) -> Result<Fetcher, String> {
        let extra = if job.offline {
            Vec::new()
        } else {
            super::resolve(&job.peers)
                .await
                .map_err(|e| format!("{e:#}"))?
        };
        // Offline: no source at all, so nothing is asked of the network.
        let finder: Arc<dyn PeerFinder> = if job.offline {
            Arc::new(super::peers::Peers::new(Vec::new(), None))
        } else {
            Arc::new(self.peers.with_extra(extra))
        };
        let deadline = job
            .timeout_secs
            .filter(|s| (1..=86_400).contains(s))
            .map_or(FetchConfig::default().deadline, Duration::from_secs);
        Ok(super::parts::fetcher(
            self.store.clone(),
            finder,
            deadline,
            &self.sources,
        ))
    }
}

fn error_text(e: impl std::error::Error + Send + Sync + 'static) -> String {
    format!("{:#}", anyhow::Error::new(e))
}

fn gone() -> String {
    "the command went away".to_string()
}
