//! The node's answers to `content` requests: `unpublish`, `pin`, `unpin`,
//! `cache drop`, `rate` and `add` (a torrent), over the control socket.
//!
//! The store work is `crate::content`'s, the same a command does on a data
//! dir no node holds; this adds what only a running node has: its fetcher
//! and peers (a pin fetches), its mount (a dropped or unpublished stream
//! leaves it), its share folder (an unpublished shared file stays
//! unpublished) and its rate limits.

use super::control::NodeControl;
use crate::content::{self, ContentError};
use crate::control::{ContentRequest, GetJob, Reply};
use crate::exchange::rate;
use crate::hash::SdHash;
use std::path::Path;

impl NodeControl {
    pub(super) async fn content(&self, req: ContentRequest) -> Result<Reply, String> {
        match req {
            ContentRequest::Pin {
                sd_hash,
                peers,
                timeout_secs,
            } => self.pin(&sd_hash, peers, timeout_secs).await,
            ContentRequest::Unpin { sd_hash } => {
                let sd = parse(&sd_hash)?;
                let store = self.store.clone();
                let was = self.blocking(move || content::unpin(&store, &sd)).await?;
                Ok(done(if was {
                    format!("unpinned {sd}")
                } else {
                    format!("{sd} was not pinned")
                }))
            }
            ContentRequest::CacheDrop { sd_hash } => self.cache_drop(sd_hash).await,
            ContentRequest::Unpublish { target } => self.unpublish(&target).await,
            ContentRequest::AddTorrent { source, peers } => {
                let Some(mount) = self.publisher.mount() else {
                    return Err("this node has no mount: torrents show only in one".into());
                };
                let at = mount.add_torrent(&source, &peers).await?;
                Ok(done(at.display().to_string()))
            }
            ContentRequest::Rate { upload, download } => {
                if let Some(r) = upload {
                    rate::upload().set_rate(r);
                }
                if let Some(r) = download {
                    rate::download().set_rate(r);
                }
                tracing::info!(
                    upload = rate::upload().rate(),
                    download = rate::download().rate(),
                    "rate limits changed"
                );
                Ok(Reply::Rates {
                    upload: rate::upload().rate(),
                    download: rate::download().rate(),
                })
            }
        }
    }

    async fn pin(
        &self,
        sd_hash: &str,
        peers: Vec<String>,
        timeout_secs: Option<u64>,
    ) -> Result<Reply, String> {
        let sd = parse(sd_hash)?;
        let job = GetJob {
            sd_hash: sd_hash.to_owned(),
            peers,
            offline: false,
            timeout_secs,
        };
        let fetcher = self.fetcher_for(&job).await?;
        let desc = self.descriptor(&fetcher, sd, false).await?;
        self.peers.register(&desc);
        let size = content::pin(self.store.clone(), &fetcher, sd, &desc)
            .await
            .map_err(text)?;
        if let Some(m) = self.publisher.mount() {
            m.stream_added(&desc);
        }
        Ok(done(format!("pinned {sd} ({size} bytes)")))
    }

    async fn cache_drop(&self, sd_hash: Option<String>) -> Result<Reply, String> {
        let store = self.store.clone();
        let Some(sd_hash) = sd_hash else {
            let cached: Vec<SdHash> = crate::catalog::disk_rows(&self.store)
                .into_iter()
                .filter(|r| !r.published && !r.pinned)
                .filter_map(|r| r.sd_hash.parse().ok())
                .collect();
            self.leave_mount(&cached);
            let (blobs, bytes) = self.blocking(move || content::drop_all(&store)).await?;
            return Ok(done(format!("dropped {blobs} blobs, {bytes} bytes")));
        };
        let sd = parse(&sd_hash)?;
        let bytes = self
            .blocking(move || content::drop_stream(&store, &sd))
            .await?;
        self.leave_mount(&[sd]);
        Ok(done(format!("dropped {sd} ({bytes} bytes)")))
    }

    /// Stops sharing a stream named by its sd hash or by a shared file's path.
    async fn unpublish(&self, target: &str) -> Result<Reply, String> {
        let sd = match target.parse::<SdHash>() {
            Ok(sd) => sd,
            Err(_) => self.shared_file(Path::new(target))?,
        };
        let store = self.store.clone();
        self.blocking(move || content::check_published(&store, &sd))
            .await?;
        if let Some(share) = self.share.get() {
            share.exclude(&sd).await;
        }
        let publisher = self.publisher.clone();
        crate::blocking::run(move || publisher.unpublish(&sd))
            .await
            .map_err(|e| e.to_string())?;
        Ok(done(format!("unpublished {sd}")))
    }

    /// The stream a file of the share folder was published as.
    fn shared_file(&self, path: &Path) -> Result<SdHash, String> {
        let Some(share) = self.share.get() else {
            return Err(format!(
                "{} is not an sd hash, and this node watches no share folder",
                path.display()
            ));
        };
        share.stream_of(path).ok_or_else(|| {
            format!(
                "{} is not a published file of the share folder {}",
                path.display(),
                share.dir().display()
            )
        })
    }

    fn leave_mount(&self, sds: &[SdHash]) {
        if let Some(m) = self.publisher.mount() {
            for sd in sds {
                m.stream_removed(sd);
            }
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T, ContentError> + Send + 'static,
    ) -> Result<T, String> {
        crate::blocking::run(f)
            .await
            .map_err(|e| e.to_string())?
            .map_err(text)
    }
}

fn parse(sd: &str) -> Result<SdHash, String> {
    sd.parse().map_err(|e| format!("not an sd hash: {e}"))
}

fn done(message: String) -> Reply {
    Reply::Done { message }
}

fn text(e: ContentError) -> String {
    crate::error_chain(&e)
}
