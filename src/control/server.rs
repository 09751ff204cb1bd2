//! The node side of the control socket.
//!
//! Requests are answered on blocking threads (listing reads descriptors,
//! publishing hashes and encrypts), never on the async runtime's workers. A
//! malformed or oversized request gets an error reply and the connection is
//! closed; the node goes on. Only the node's own user (or root) is served.

use super::{
    decode_request, encode, socket_path, ControlError, GetJob, Reply, Request, SearchJob, Status,
};
use crate::catalog::StreamRow;
use crate::fetch::BoxFuture;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;

/// How long a client has to send its request, and the node to write a line.
const IO_DEADLINE: Duration = Duration::from_secs(10);
/// What is read and dropped of an oversized request before closing, so
/// its sender reads the error instead of a reset connection.
const DRAIN_BYTES: u64 = 1 << 20;
const DRAIN_DEADLINE: Duration = Duration::from_secs(1);
/// How often a long request reports progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);
/// How long the node waits for a `get` to take the next bytes: the command
/// may write to a pipe whose reader pauses (a paused player).
const DATA_DEADLINE: Duration = Duration::from_secs(600);

/// What a `get` produces, in order: the header, then the file's bytes.
#[derive(Debug)]
pub enum GetEvent {
    Stream { name: String, size: u64 },
    Data(Vec<u8>),
}

/// What the control socket asks of the node (the consumer owns the seam).
/// Every method may block; the server calls them on blocking threads.
pub trait ControlHandler: Send + Sync + 'static {
    fn ls(&self) -> Vec<StreamRow>;
    fn status(&self) -> Status;
    /// Publishes `path`, reporting bytes done; the reply is `Published`.
    fn publish(&self, path: &Path, progress: &(dyn Fn(u64) + Sync)) -> Result<Reply, String>;
    /// Gets a stream, sending its events in order; the reply is `Got`. Async:
    /// it waits on the network, not on the CPU.
    fn get(
        &self,
        job: GetJob,
        events: tokio::sync::mpsc::Sender<GetEvent>,
    ) -> BoxFuture<'_, Result<Reply, String>>;
    /// Starts stopping the node (as SIGTERM would); returns its process id.
    fn stop(&self) -> Result<u32, String> {
        Err("this node cannot be stopped through its control socket".into())
    }

    /// Changes what the node holds or its rate limits; the reply is `Done`
    /// or `Rates`. Async: a pin may fetch a whole stream.
    fn content(&self, req: super::ContentRequest) -> BoxFuture<'_, Result<Reply, String>> {
        let _ = req;
        Box::pin(async { Err("this node does not manage content".to_string()) })
    }
    /// Searches stream names; the reply is `Found`. Async, bounded by the
    /// search's deadlines.
    fn search(&self, job: SearchJob) -> BoxFuture<'_, Result<Reply, String>>;
}

/// A listening control socket; stops and removes its file on `shutdown` or drop.
pub struct ControlServer {
    path: PathBuf,
    stop: watch::Sender<bool>,
}

/// Listens on the data dir's socket. The caller holds the data dir's lock,
/// so a socket file already there was left by a node that died: it is replaced.
pub fn start(
    data_dir: &Path,
    handler: Arc<dyn ControlHandler>,
) -> Result<ControlServer, ControlError> {
    let path = socket_path(data_dir);
    let io = |source| ControlError::Io {
        path: path.clone(),
        source,
    };
    if let Ok(meta) = std::fs::symlink_metadata(&path) {
        if meta.file_type().is_socket() {
            std::fs::remove_file(&path).map_err(io)?;
        }
    }
    let listener = UnixListener::bind(&path).map_err(io)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    let (stop, stopped) = watch::channel(false);
    let span = tracing::info_span!("control");
    crate::task::spawn("control socket", span, accept(listener, handler, stopped));
    tracing::info!(socket = %path.display(), "control socket ready");
    Ok(ControlServer { path, stop })
}

impl ControlServer {
    pub fn shutdown(&self) {
        if !self.stop.send_replace(true) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn accept(
    listener: UnixListener,
    handler: Arc<dyn ControlHandler>,
    mut stop: watch::Receiver<bool>,
) {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    loop {
        let conn = tokio::select! {
            _ = stop.changed() => return,
            c = listener.accept() => c,
        };
        match conn {
            Ok((stream, _)) => {
                let allowed = stream.peer_cred().map(|c| c.uid() == me || c.uid() == 0);
                if !allowed.unwrap_or(false) {
                    tracing::warn!("refused a control connection from another user");
                    continue;
                }
                let handler = handler.clone();
                let span = tracing::debug_span!("control request");
                crate::task::spawn("control request", span, serve(stream, handler));
            }
            Err(e) => {
                tracing::warn!(error = %e, "control socket accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn serve(stream: UnixStream, handler: Arc<dyn ControlHandler>) {
    let (read, mut write) = stream.into_split();
    let mut line = Vec::new();
    let mut limited = BufReader::new(read).take(super::MAX_REQUEST as u64 + 1);
    let mut oversized = false;
    let reply = match tokio::time::timeout(IO_DEADLINE, limited.read_until(b'\n', &mut line)).await
    {
        Err(_) => Reply::Error {
            message: format!("no request within {} s", IO_DEADLINE.as_secs()),
        },
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "control request unreadable");
            return;
        }
        // Connected and left without asking: a probe, nothing to answer.
        Ok(Ok(0)) => return,
        Ok(Ok(_)) if line.last() != Some(&b'\n') => {
            oversized = true;
            Reply::Error {
                message: format!(
                    "malformed request: no complete line within {} bytes",
                    super::MAX_REQUEST
                ),
            }
        }
        Ok(Ok(_)) => {
            line.pop();
            match decode_request(&line) {
                Ok(req) => answer(req, handler, &mut write).await,
                Err(message) => Reply::Error { message },
            }
        }
    };
    if let Reply::Error { message } = &reply {
        tracing::info!(error = %message, "control request failed");
    }
    let _ = send(&mut write, &reply).await;
    if oversized {
        // The client may still be writing its oversized request: closing
        // with its bytes unread would reset the connection before it reads
        // the answer. Take (and drop) what it sends for a moment first.
        let _ = write.shutdown().await;
        let mut rest = limited.into_inner().take(DRAIN_BYTES);
        let mut sink = tokio::io::sink();
        let drain = tokio::io::copy(&mut rest, &mut sink);
        let _ = tokio::time::timeout(DRAIN_DEADLINE, drain).await;
    }
}

async fn answer(
    req: Request,
    handler: Arc<dyn ControlHandler>,
    write: &mut tokio::net::unix::OwnedWriteHalf,
) -> Reply {
    tracing::debug!(?req, "control request");
    let done = match req {
        Request::Ls => flatten(
            crate::blocking::run(move || {
                Ok(Reply::Ls {
                    streams: handler.ls(),
                })
            })
            .await,
        ),
        Request::Status => flatten(
            crate::blocking::run(move || Ok(Reply::Status(Box::new(handler.status())))).await,
        ),
        Request::Get(job) => get(job, &*handler, write).await,
        Request::Stop => handler.stop().map(|pid| Reply::Stopping { pid }),
        Request::Content(req) => content(req, &*handler, write).await,
        Request::Search(job) => handler.search(job).await,
        Request::Publish { path } => {
            let bytes = Arc::new(AtomicU64::new(0));
            let counter = bytes.clone();
            let job = crate::blocking::run_long(move || {
                handler.publish(&path, &|n| {
                    counter.fetch_add(n, Ordering::Relaxed);
                })
            });
            tokio::pin!(job);
            let mut tick = tokio::time::interval(PROGRESS_EVERY);
            tick.tick().await;
            loop {
                tokio::select! {
                    r = &mut job => break flatten(r),
                    _ = tick.tick() => {
                        let progress = Reply::Progress { bytes: bytes.load(Ordering::Relaxed) };
                        // A client that went away does not stop the publish.
                        let _ = send(write, &progress).await;
                    }
                }
            }
        }
    };
    match done {
        Ok(reply) => reply,
        Err(message) => Reply::Error { message },
    }
}

/// Runs a `get`, writing its events as they come, with progress lines while
/// it waits (so the command's silence deadline holds). A command that stops
/// reading ends the job.
async fn get(
    job: GetJob,
    handler: &dyn ControlHandler,
    write: &mut tokio::net::unix::OwnedWriteHalf,
) -> Result<Reply, String> {
    let (tx, mut rx) = tokio::sync::mpsc::channel(2);
    let job = handler.get(job, tx);
    tokio::pin!(job);
    let mut tick = tokio::time::interval(PROGRESS_EVERY);
    tick.tick().await;
    let mut sent = 0u64;
    let mut result = None;
    loop {
        tokio::select! {
            r = &mut job, if result.is_none() => result = Some(r),
            ev = rx.recv() => match ev {
                Some(ev) => {
                    sent += send_event(write, ev).await.map_err(|e| format!("the command went away: {e}"))?;
                }
                // The job is done and every event is written.
                None => break,
            },
            _ = tick.tick(), if result.is_none() => {
                let _ = send(write, &Reply::Progress { bytes: sent }).await;
            }
        }
    }
    result.unwrap_or_else(|| Err("the get ended without an answer".into()))
}

/// Runs a `content` request, with progress lines while it works (a pin
/// fetches a whole stream) so the command's silence deadline holds.
async fn content(
    req: super::ContentRequest,
    handler: &dyn ControlHandler,
    write: &mut tokio::net::unix::OwnedWriteHalf,
) -> Result<Reply, String> {
    let job = handler.content(req);
    tokio::pin!(job);
    let mut tick = tokio::time::interval(PROGRESS_EVERY);
    tick.tick().await;
    loop {
        tokio::select! {
            r = &mut job => return r,
            _ = tick.tick() => {
                let _ = send(write, &Reply::Progress { bytes: 0 }).await;
            }
        }
    }
}

/// Writes one event: a `stream` line, or a `data` line and its bytes.
async fn send_event(
    write: &mut tokio::net::unix::OwnedWriteHalf,
    ev: GetEvent,
) -> std::io::Result<u64> {
    match ev {
        GetEvent::Stream { name, size } => {
            send(write, &Reply::Stream { name, size }).await.map(|_| 0)
        }
        GetEvent::Data(bytes) => {
            let mut n = 0;
            for piece in bytes.chunks(super::MAX_DATA as usize) {
                let len = piece.len() as u32;
                let frame = async {
                    write.write_all(&encode(&Reply::Data { len })).await?;
                    write.write_all(piece).await
                };
                match tokio::time::timeout(DATA_DEADLINE, frame).await {
                    Ok(r) => r?,
                    Err(_) => return Err(std::io::ErrorKind::TimedOut.into()),
                }
                n += u64::from(len);
            }
            Ok(n)
        }
    }
}

/// Waits for a blocking answer; a panic in it becomes an error reply.
fn flatten(r: Result<Result<Reply, String>, tokio::task::JoinError>) -> Result<Reply, String> {
    r.unwrap_or_else(|e| Err(format!("the request failed inside the node: {e}")))
}

async fn send(write: &mut tokio::net::unix::OwnedWriteHalf, reply: &Reply) -> std::io::Result<()> {
    match tokio::time::timeout(IO_DEADLINE, write.write_all(&encode(reply))).await {
        Ok(r) => r,
        Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
    }
}
