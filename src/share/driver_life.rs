//! The driver's start and end: the manifest's state restored (which of its
//! streams are still published) into a new driver, and at the end a
//! publish just finished recorded, one still running abandoned, and the
//! manifest saved.

use super::{folder, report_others, Driver, Params};
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
        let restored = crate::blocking::run(move || {
            ShareState::restore(timing, records, |sd| publisher.is_published(sd))
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
