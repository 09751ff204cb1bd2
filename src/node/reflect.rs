//! `--reflect`: every stream this node publishes is uploaded to a
//! reflector in the background, so it stays available while this machine
//! is offline (lbry-sdk reflects each stream it publishes the same way).
//!
//! Publishing never waits for it: the publisher only queues the stream
//! (a bounded channel; a full one drops the request with a warning, and
//! the next start offers every published stream again). One task uploads
//! one stream at a time with the reflector client, which sends only what
//! the reflector lacks, so offering a stream already there costs one round
//! trip. A failed upload is retried on the backoff of
//! [`crate::reflector::pending`]; one whose blobs are gone (unpublished
//! meanwhile) is dropped. `status` shows what was reflected, what waits
//! and the last error.

use crate::hash::SdHash;
use crate::reflector::pending::Pending;
use crate::reflector::{reflect, ClientConfig, Reflected, ReflectorError};
use crate::store::DiskStore;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;
use tokio::sync::mpsc;

/// Requests from the publisher waiting for the task, at most.
const QUEUE: usize = 256;

/// What `status` shows of background reflection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReflectStatus {
    pub reflector: String,
    /// Streams uploaded (or found complete) since the node started.
    pub reflected: u64,
    /// Streams waiting (a retry included).
    pub pending: usize,
    /// The last stream reflected.
    pub last_reflected: Option<String>,
    /// The last failure, with the stream concerned.
    pub last_error: Option<String>,
}

/// Queues streams for the reflect task. Cheap to clone.
#[derive(Clone)]
pub struct Reflect {
    tx: mpsc::Sender<SdHash>,
    status: Arc<Mutex<ReflectStatus>>,
}

impl Reflect {
    /// Queues `sd` for upload; never waits.
    pub fn stream(&self, sd: SdHash) {
        if let Err(mpsc::error::TrySendError::Full(sd)) = self.tx.try_send(sd) {
            tracing::warn!(sd = %sd.short(), "reflect queue full; the stream is offered again at the next start");
        }
    }

    pub fn status(&self) -> ReflectStatus {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Starts reflecting to `addr` (`HOST:PORT`) every stream queued, and the
/// streams already published here; stops when `life` does.
pub fn start(store: Arc<DiskStore>, addr: String, life: &super::Lifecycle) -> Reflect {
    let (tx, rx) = mpsc::channel(QUEUE);
    let status = Arc::new(Mutex::new(ReflectStatus {
        reflector: addr.clone(),
        ..ReflectStatus::default()
    }));
    let task = Task {
        store,
        addr: addr.clone(),
        status: status.clone(),
        pending: Pending::default(),
    };
    let span = tracing::info_span!("reflect", reflector = %addr);
    crate::task::spawn("reflect", span, life.track(task.run(rx)));
    Reflect { tx, status }
}

type Upload =
    Pin<Box<dyn Future<Output = (SdHash, u32, Result<Reflected, ReflectorError>)> + Send>>;

struct Task {
    store: Arc<DiskStore>,
    addr: String,
    status: Arc<Mutex<ReflectStatus>>,
    pending: Pending,
}

impl Task {
    async fn run(mut self, mut rx: mpsc::Receiver<SdHash>) {
        for sd in self.published().await {
            self.add(sd);
        }
        let mut inflight: Option<Upload> = None;
        loop {
            if inflight.is_none() {
                inflight = self
                    .pending
                    .take_due(Instant::now())
                    .map(|(sd, f)| self.upload(sd, f));
            }
            self.update(|s| s.pending = self.pending.len() + usize::from(inflight.is_some()));
            let wake = inflight
                .is_none()
                .then(|| self.pending.next_due())
                .flatten();
            tokio::select! {
                sd = rx.recv() => match sd {
                    Some(sd) => self.add(sd),
                    None => return,
                },
                done = async { inflight.as_mut().expect("guarded").await }, if inflight.is_some() => {
                    inflight = None;
                    self.finished(done.0, done.1, done.2);
                }
                () = sleep_until(wake), if wake.is_some() => {}
            }
        }
    }

    fn add(&mut self, sd: SdHash) {
        if !self.pending.add(sd, Instant::now()) {
            tracing::warn!(sd = %sd.short(), "too many streams waiting to be reflected; offered again at the next start");
        }
    }

    fn upload(&self, sd: SdHash, failures: u32) -> Upload {
        let (store, addr) = (self.store.clone(), self.addr.clone());
        Box::pin(async move {
            let r = reflect(store, &addr, sd, &ClientConfig::default(), &|_| {}).await;
            (sd, failures, r)
        })
    }

    fn finished(&mut self, sd: SdHash, failures: u32, r: Result<Reflected, ReflectorError>) {
        match r {
            Ok(done) => {
                tracing::info!(sd = %sd.short(), blobs_sent = done.blobs_sent, bytes_sent = done.bytes_sent, "reflected");
                self.update(|s| {
                    s.reflected += 1;
                    s.last_reflected = Some(sd.to_string());
                });
            }
            Err(e) => {
                let why = format!("{}: {}", sd.short(), crate::error_chain(&e));
                // Blobs gone (unpublished meanwhile) or a broken descriptor: no retry helps.
                let gone = matches!(
                    e,
                    ReflectorError::Missing(_) | ReflectorError::Descriptor(_)
                );
                if gone {
                    tracing::info!(sd = %sd.short(), error = %why, "not reflecting");
                } else {
                    let due = self.pending.failed(sd, failures + 1, Instant::now());
                    let wait = due.saturating_duration_since(Instant::now()).as_secs();
                    tracing::info!(sd = %sd.short(), error = %why, retry_in_s = wait, "reflect failed");
                }
                self.update(|s| s.last_error = Some(why));
            }
        }
    }

    /// The streams published here (pinned), offered again at each start.
    async fn published(&self) -> Vec<SdHash> {
        let store = self.store.clone();
        crate::blocking::run(move || {
            crate::catalog::stream_rows(&*store)
                .into_iter()
                .filter(|r| r.published)
                .filter_map(|r| r.sd_hash.parse().ok())
                .collect()
        })
        .await
        .unwrap_or_default()
    }

    fn update(&self, f: impl FnOnce(&mut ReflectStatus)) {
        f(&mut self.status.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
    }
}
