//! The driver's start and end: the manifest's state restored (which of its
//! streams are still published) into a new driver, and at the end a
//! publish just finished recorded, one still running abandoned, and the
//! manifest saved.

use super::{folder, report_others, Driver, Params};
use crate::share::excluded::Exclusion;
use crate::share::state::{ShareState, Timing};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;
use tokio::time::Instant;

impl Driver {
    /// A driver for folder `dir`, its state restored from the manifest
    /// `p` holds (taken from it); `None` if restoring panicked.
    pub(super) async fn start(p: &mut Params, dir: PathBuf) -> Option<Driver> {
        let timing = Timing {
            debounce: p.debounce,
            retry: p.rescan,
        };
        let dev = p.contents.dev(&dir);
        let (records, others) = folder::split(std::mem::take(&mut p.contents), &dir);
        report_others(&others, &p.status);
        let publisher = p.publisher.clone();
        let excluded_at = super::super::excluded::beside(&p.manifest);
        let (own, excluded_others) = split_exclusions(&excluded_at, &dir);
        let restored = crate::blocking::run(move || {
            ShareState::restore(timing, records, |sd| publisher.is_published(sd)).with_excluded(own)
        })
        .await;
        let Ok(state) = restored else {
            tracing::error!(
                "checking the manifest's streams panicked; the share folder is not watched"
            );
            return None;
        };
        let colls = crate::share::collections::load(&crate::share::collections::kept_path(
            &p.manifest,
            &dir,
        ));
        Some(Driver {
            dir,
            manifest: p.manifest.clone(),
            others,
            excluded_at,
            excluded_others,
            publisher: p.publisher.clone(),
            status: p.status.clone(),
            state,
            every: p.rescan,
            fallback: p.rescan.min(super::FALLBACK_RESCAN),
            tick: (p.debounce / 4).clamp(Duration::from_millis(10), Duration::from_millis(250)),
            next_periodic: Instant::now() + p.rescan,
            last_scan: None,
            scanned_once: false,
            job: None,
            manifest_dirty: false,
            unreadable: BTreeSet::new(),
            root: folder::Root::new(dev),
            blind: None,
            watcher: None,
            events: None,
            colls,
        })
    }

    /// Ends the driver: records a publish that just finished, abandons one
    /// still running, and saves a manifest still unsaved.
    pub(super) async fn stop(&mut self) {
        if let Some(job) = self.job.take() {
            match job.slot.abandon() {
                Some(outcome) => self.record(&job, outcome).await,
                None => tracing::info!(
                    file = %job.rel.display(),
                    "stopping during a publish: its stream is unpublished when it ends"
                ),
            }
        }
        if self.manifest_dirty {
            self.apply(Vec::new()).await;
        }
    }
}

/// The unpublished files of `dir` (paths made relative), and those of other folders.
fn split_exclusions(
    at: &std::path::Path,
    dir: &std::path::Path,
) -> (Vec<Exclusion>, Vec<Exclusion>) {
    super::super::excluded::load(at)
        .into_iter()
        .partition(|x| x.dir == dir)
}

/// Saves the unpublished files, if given (blocking); a failure is logged.
pub(super) fn save_exclusions(excluded: Option<(PathBuf, Vec<Exclusion>)>) {
    let Some((at, list)) = excluded else { return };
    if let Err(e) = super::super::excluded::save(&at, &list) {
        tracing::error!(error = %e, "cannot save the unpublished share files");
    }
}

impl Driver {
    /// This folder's exclusions and the others', to save with the manifest.
    pub(super) fn exclusions(&self) -> (PathBuf, Vec<Exclusion>) {
        let mut all = self.excluded_others.clone();
        all.extend(self.state.excluded());
        (self.excluded_at.clone(), all)
    }

    /// Takes the files of streams the user unpublished out of sharing and
    /// saves that before answering, so a restart does not publish them again.
    pub(super) async fn exclude_requested(&mut self) {
        let requests = std::mem::take(&mut *super::lock(&self.status.exclude));
        for (sd, _) in &requests {
            for path in self.state.exclude(&self.dir, sd) {
                tracing::info!(file = %path.display(), sd = %sd.short(), "unpublished by the user: not shared while unchanged");
            }
        }
        self.manifest_dirty = true;
        self.apply(Vec::new()).await;
        for (_, done) in requests {
            let _ = done.send(());
        }
    }
}
