//! The share folder's async driver: turns watcher events and timers into
//! scans, feeds them to the state machine, and carries out its actions.
//!
//! Events only say "look soon": every look is a full [`scan`], because
//! inotify drops events when its queue overflows and cannot see into folders
//! created before their watch was added; a periodic rescan covers the rest.
//! When inotify cannot run (its per-user watch limit is reached, or no
//! instance can be created) the driver says so loudly and polls instead.
//!
//! Blocking work never runs on the runtime: scans, unpublishes and manifest
//! writes run on blocking threads and are awaited; a publish (CPU-heavy, maybe
//! minutes) runs on its own blocking thread while the driver keeps scanning
//! (see `job`: a publish still running at shutdown is undone when it ends).

use super::folder::{self, Presence};
use super::manifest::Manifest;
use super::state::{is_ignored_path, Action, FileStamp, Outcome, ShareState};
use super::{job, manifest, scan, watcher, SharePublisher, FALLBACK_RESCAN};
use crate::hash::SdHash;
use notify::event::{AccessKind, AccessMode};
use notify::EventKind;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc::Receiver;
use tokio::sync::watch;
use tokio::time::Instant;

/// What the handle reads while the driver runs.
#[derive(Default)]
pub(super) struct Status {
    pub shared: Mutex<Vec<(PathBuf, SdHash)>>,
    pub polling: AtomicBool,
    /// Why sharing is paused, if it is.
    pub paused: Mutex<Option<String>>,
    /// Other folders' files kept published: folder, how many.
    pub others: Mutex<Vec<(PathBuf, usize)>>,
    /// Streams the user unpublished, for the driver to exclude their files;
    /// each answered once the exclusion is saved.
    pub exclude: Mutex<Vec<(SdHash, tokio::sync::oneshot::Sender<()>)>>,
    pub wake: tokio::sync::Notify,
}

/// How the driver learns about changes.
pub(super) enum Setup {
    Notify,
    Poll(Duration),
    /// Acts as if the watcher failed with this error (the fallback path, testable
    /// without touching the system's inotify limits).
    #[cfg(test)]
    FailNotify(fn() -> notify::Error),
}

pub(super) struct Params {
    pub manifest: PathBuf,
    /// The whole manifest as loaded.
    pub contents: Manifest,
    pub presence: Presence,
    pub debounce: Duration,
    pub rescan: Duration,
    pub setup: Setup,
    pub publisher: Arc<dyn SharePublisher>,
    pub status: Arc<Status>,
}

struct Job {
    rel: PathBuf,
    stamp: FileStamp,
    slot: Arc<job::Slot>,
}

struct Driver {
    dir: PathBuf,
    manifest: PathBuf,
    /// The manifest's entries of other folders, saved along with this one's.
    others: Manifest,
    /// Where unpublished files are listed, and those of other folders.
    excluded_at: PathBuf,
    excluded_others: Vec<crate::share::excluded::Exclusion>,
    publisher: Arc<dyn SharePublisher>,
    status: Arc<Status>,
    state: ShareState,
    /// Period of full scans: `rescan`, or the fallback when polling.
    every: Duration,
    fallback: Duration,
    /// Shortest gap between scans, and how long events are gathered first.
    tick: Duration,
    next_periodic: Instant,
    last_scan: Option<Instant>,
    /// The first scan after start was logged (tests and users wait for it).
    scanned_once: bool,
    job: Option<Job>,
    manifest_dirty: bool,
    unreadable: BTreeSet<PathBuf>,
    /// The folder root's device, and why scans cannot see it now, if so.
    root: folder::Root,
    blind: Option<folder::Blind>,
    /// inotify, if it runs; restarted when the folder comes back.
    watcher: Option<notify::RecommendedWatcher>,
    events: Option<watcher::Events>,
    /// The folders' collections kept published.
    colls: super::collections::Collections,
}

pub(super) async fn run(mut p: Params, mut stop: watch::Receiver<bool>) {
    let Some(dir) = present(&p, &mut stop).await else {
        return;
    };
    let Some(mut d) = Driver::start(&mut p, dir).await else {
        return;
    };
    d.show_status();
    let (tx, mut events) = watcher::Events::channel();
    // Held for its side effect: dropping it stops inotify.
    d.watcher = d.start_watcher(p.setup, tx.clone()).await;
    d.events = d.watcher.is_some().then_some(tx);
    d.serve(&mut events, &mut stop).await;
    d.stop().await;
    tracing::info!("share folder no longer watched");
}

async fn job_done(job: Option<&Job>) {
    match job {
        Some(j) => j.slot.done().await,
        None => std::future::pending().await,
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(super) use crate::error_chain as chain;

#[path = "driver_coll.rs"]
mod coll;
#[path = "driver_life.rs"]
mod life;
#[path = "driver_pause.rs"]
mod pause;
pub(super) use pause::mark_missing;
use pause::{present, report_others};

impl Driver {
    /// Scans, follows events and finishes jobs until `stop` says so.
    async fn serve(
        &mut self,
        events: &mut Receiver<notify::Result<notify::Event>>,
        stop: &mut watch::Receiver<bool>,
    ) {
        let mut scan_at = Some(Instant::now());
        while !*stop.borrow() {
            let wake = self.next_wake(scan_at);
            tokio::select! {
                biased;
                changed = stop.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
                () = self.status.wake.notified() => self.exclude_requested().await,
                () = job_done(self.job.as_ref()) => {
                    self.finish_job().await;
                    scan_at = Some(Instant::now());
                }
                Some(event) = events.recv() => {
                    if let Some(at) = self.on_event(event) {
                        scan_at = Some(scan_at.map_or(at, |s| s.min(at)));
                    }
                }
                () = tokio::time::sleep_until(wake) => {
                    scan_at = None;
                    self.scan().await;
                }
            }
        }
    }

    fn next_wake(&self, scan_at: Option<Instant>) -> Instant {
        let deadline = self.state.next_deadline().map(Instant::from_std);
        let wake = [Some(self.next_periodic), scan_at, deadline]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(self.next_periodic);
        match self.last_scan {
            Some(last) => wake.max(last + self.tick),
            None => wake,
        }
    }

    /// What a watcher event means: when to scan, if at all.
    fn on_event(&mut self, event: notify::Result<notify::Event>) -> Option<Instant> {
        // Events dropped on a full queue could have been anything: scan.
        let missed = self
            .events
            .as_ref()
            .is_some_and(watcher::Events::take_missed);
        match event {
            Ok(_) if missed => Some(Instant::now() + self.tick),
            // Opens and reads (ours included, while publishing) change
            // nothing; closing after a write may end a copy.
            Ok(e) if matches!(e.kind, EventKind::Access(a) if a != AccessKind::Close(AccessMode::Write)) => {
                None
            }
            Ok(e)
                if !e.need_rescan()
                    && !e.paths.is_empty()
                    && e.paths.iter().all(|p| self.ignored(p)) =>
            {
                None
            }
            Ok(_) => Some(Instant::now() + self.tick),
            Err(e) => {
                if watcher::is_watch_limit(&e) {
                    // A new subfolder could not be watched: rescans must cover it.
                    self.fall_back(&e);
                } else {
                    tracing::debug!(error = %e, "share folder watcher error; scanning");
                }
                Some(Instant::now())
            }
        }
    }

    fn ignored(&self, path: &Path) -> bool {
        match path.strip_prefix(&self.dir) {
            Ok(rel) => !rel.as_os_str().is_empty() && is_ignored_path(rel),
            Err(_) => false,
        }
    }

    async fn start_watcher(
        &mut self,
        setup: Setup,
        tx: watcher::Events,
    ) -> Option<notify::RecommendedWatcher> {
        match setup {
            Setup::Poll(every) => {
                self.every = every;
                self.next_periodic = Instant::now() + every;
                self.status.polling.store(true, Ordering::Relaxed);
                tracing::info!(every = ?every, "share folder is polled, not watched");
                None
            }
            Setup::Notify => {
                let dir = self.dir.clone();
                match crate::blocking::run(move || watcher::start(&dir, tx)).await {
                    Ok(Ok(w)) => {
                        tracing::info!("watching share folder");
                        Some(w)
                    }
                    Ok(Err(e)) => {
                        self.fall_back(&e);
                        None
                    }
                    Err(_) => {
                        self.fall_back(&notify::Error::generic("starting the watcher panicked"));
                        None
                    }
                }
            }
            #[cfg(test)]
            Setup::FailNotify(error) => {
                self.fall_back(&error());
                None
            }
        }
    }

    /// Switches to rescans every `fallback`, with a warning that says why.
    fn fall_back(&mut self, e: &notify::Error) {
        if self.status.polling.swap(true, Ordering::Relaxed) {
            return;
        }
        self.every = self.every.min(self.fallback);
        self.next_periodic = self.next_periodic.min(Instant::now() + self.every);
        tracing::warn!("{}", watcher::fallback_warning(e, self.every));
    }

    async fn scan(&mut self) {
        let started = Instant::now();
        let dir = self.dir.clone();
        let scanned = crate::blocking::run(move || (scan::scan(&dir), folder::device(&dir)));
        let Ok((mut scan, dev)) = scanned.await else {
            tracing::error!("scanning the share folder panicked");
            return;
        };
        let shares = !self.state.shared().is_empty();
        let before = self.root.dev();
        let blind = self.root.check(&mut scan, dev, shares);
        if self.root.dev() != before {
            self.manifest_dirty = true;
        }
        self.root_changed(blind).await;
        self.last_scan = Some(started);
        self.next_periodic = started + self.every;
        let unreadable: BTreeSet<PathBuf> = scan.unreadable.iter().cloned().collect();
        for path in unreadable.difference(&self.unreadable) {
            tracing::warn!(
                path = %self.dir.join(path).display(),
                "cannot read this part of the share folder; what it held stays shared until it can be read"
            );
        }
        self.unreadable = unreadable;
        let actions = self.state.observe(started.into_std(), &scan);
        let first = self.last_scan.is_some() && !self.scanned_once;
        self.apply(actions).await;
        if first {
            self.scanned_once = true;
            tracing::info!(files = scan.files.len(), "share folder scanned");
        }
    }

    /// Carries out the state machine's actions: unpublishes and the manifest
    /// first (short, awaited), then starts the publish, if any.
    async fn apply(&mut self, actions: Vec<Action>) {
        let mut unpublish = Vec::new();
        let mut publish = None;
        for a in actions {
            match a {
                Action::Hash { path, stamp } => publish = Some((path, stamp, job::Kind::Hash)),
                Action::Publish { path, stamp } => {
                    publish = Some((path, stamp, job::Kind::Publish));
                }
                Action::Kept { path, sd } => {
                    tracing::info!(file = %path.display(), sd = %sd.short(), "content unchanged: keeps its sd hash");
                }
                Action::Unpublish(sd) if self.held_by_collection(&sd) => {}
                Action::Unpublish(sd) => unpublish.push(sd),
                Action::WriteManifest => self.manifest_dirty = true,
            }
        }
        if !unpublish.is_empty() || self.manifest_dirty {
            let records = self.manifest_dirty.then(|| {
                self.others
                    .with(&self.dir, self.root.dev(), self.state.records())
            });
            let (publisher, path) = (self.publisher.clone(), self.manifest.clone());
            let excluded = self.manifest_dirty.then(|| self.exclusions());
            let span = tracing::Span::current();
            let done = crate::blocking::run(move || {
                let _enter = span.enter();
                life::save_exclusions(excluded);
                for sd in &unpublish {
                    publisher.unpublish(sd);
                    tracing::info!(sd = %sd.short(), "unpublished");
                }
                records.map(|r| manifest::save(&path, &r))
            })
            .await;
            match done {
                Ok(Some(Ok(()))) => self.manifest_dirty = false,
                Ok(Some(Err(e))) => {
                    tracing::error!(error = %chain(&e), "cannot save the share manifest; trying again at the next scan");
                }
                Ok(None) => {}
                Err(_) => tracing::error!("unpublishing panicked"),
            }
        }
        self.show_status();
        if let Some((rel, stamp, kind)) = publish {
            self.launch(rel, stamp, kind);
        }
        self.update_collections().await;
    }

    fn show_status(&self) {
        *lock(&self.status.shared) = self.state.shared();
    }

    fn launch(&mut self, rel: PathBuf, stamp: FileStamp, kind: job::Kind) {
        let slot = job::spawn(self.publisher.clone(), &self.dir, &rel, stamp, kind);
        self.job = Some(Job { rel, stamp, slot });
    }

    async fn finish_job(&mut self) {
        let Some(job) = self.job.take() else { return };
        match job.slot.take() {
            Some(outcome) => self.record(&job, outcome).await,
            None => self.job = Some(job),
        }
    }

    async fn record(&mut self, job: &Job, outcome: Outcome) {
        let file = job.rel.display();
        let changed = match &outcome {
            Outcome::Published { after, .. } | Outcome::Hashed { after, .. } => {
                *after != Some(job.stamp)
            }
            Outcome::Failed => false,
        };
        if changed {
            tracing::info!(%file, "changed while it was read; looking again once it is stable");
        } else if let Outcome::Published { sd, .. } = &outcome {
            tracing::info!(%file, sd = %sd, "published");
        }
        let actions = self
            .state
            .job_done(std::time::Instant::now(), &job.rel, outcome);
        self.apply(actions).await;
    }
}
