//! The driver's side of collections: once the share folder has settled (no
//! publish running, nothing waiting for its debounce), each folder's
//! collection is brought up to date (see `collections`), streams a kept
//! collection still names are not unpublished, and what is kept is saved
//! beside the manifest.

use super::Driver;
use crate::collection::{Collection, SUFFIX};
use crate::hash::SdHash;
use crate::share::collections::{self, Change, Collections};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

impl Driver {
    /// Whether a stream the state machine lets go is still named by a kept
    /// collection (then it stays published).
    pub(super) fn held_by_collection(&self, sd: &SdHash) -> bool {
        let held = self.colls.holds(sd);
        if held {
            tracing::info!(sd = %sd.short(), "kept: a collection still names it");
        }
        held
    }

    /// Publishes, keeps and releases collections so that each folder has the
    /// one its shared files make; does nothing until the folder has settled.
    pub(super) async fn update_collections(&mut self) {
        if self.job.is_some() || self.state.next_deadline().is_some() {
            return;
        }
        let shared: HashSet<(PathBuf, SdHash)> = self.state.shared().into_iter().collect();
        let records = self.state.records();
        let held: HashSet<SdHash> = records.iter().map(|r| r.sd).collect();
        let current: Vec<_> = records
            .into_iter()
            .filter(|r| shared.contains(&(r.path.clone(), r.sd)))
            .collect();
        let changes = self.colls.changes(&collections::desired(&current));
        if changes.is_empty() {
            return;
        }
        let mut release = Vec::new();
        for change in changes {
            match change {
                Change::Publish { folder, doc } => {
                    if let Some(sd) = self.publish_collection(&folder, &doc).await {
                        release.extend(self.colls.published(&folder, sd, doc));
                    }
                }
                Change::Retire { folder } => {
                    tracing::info!(%folder, "folder has no shared file: its collections are released");
                    release.extend(self.colls.retire(&folder));
                }
            }
        }
        release.retain(|sd| !held.contains(sd) && !self.colls.holds(sd));
        self.release_and_save(release).await;
    }

    async fn publish_collection(&self, folder: &str, doc: &Collection) -> Option<SdHash> {
        let (publisher, name, bytes) = (
            self.publisher.clone(),
            format!("{folder}{SUFFIX}"),
            doc.to_bytes(),
        );
        let files = doc.entries().len();
        match crate::blocking::run(move || publisher.publish_collection(&name, &bytes)).await {
            Ok(Ok(sd)) => {
                tracing::info!(%folder, files, sd = %sd, "collection published");
                Some(sd)
            }
            Ok(Err(e)) => {
                tracing::error!(%folder, error = %e, "cannot publish the folder's collection; trying again at the next scan");
                None
            }
            Err(_) => {
                tracing::error!(%folder, "publishing the folder's collection panicked");
                None
            }
        }
    }

    /// Unpublishes what no collection and no file holds any more, and saves
    /// what is kept.
    async fn release_and_save(&mut self, release: Vec<SdHash>) {
        let (publisher, path, kept) = (
            self.publisher.clone(),
            collections::kept_path(&self.manifest, &self.dir),
            self.colls.clone(),
        );
        let done = crate::blocking::run(move || {
            for sd in &release {
                publisher.unpublish(sd);
                tracing::info!(sd = %sd.short(), "unpublished: no collection names it any more");
            }
            save_kept(&path, &kept)
        })
        .await;
        if let Ok(Err(e)) = done {
            tracing::error!(error = %e, "cannot save the kept collections");
        }
    }
}

fn save_kept(path: &Path, kept: &Collections) -> std::io::Result<()> {
    if kept.folders.is_empty() && !path.exists() {
        return Ok(());
    }
    collections::save(path, kept)
}
