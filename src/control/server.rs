//! The node side of the control socket.
//!
//! Requests are answered on blocking threads (listing reads descriptors,
//! publishing hashes and encrypts), never on the async runtime's workers. A
//! malformed or oversized request gets an error reply and the connection is
//! closed; the node goes on. Only the node's own user (or root) is served.

use super::{decode_request, encode, socket_path, ControlError, Reply, Request, Status};
use crate::catalog::StreamRow;
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
/// How often a long request reports progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// What the control socket asks of the node (the consumer owns the seam).
/// Every method may block; the server calls them on blocking threads.
pub trait ControlHandler: Send + Sync + 'static {
    fn ls(&self) -> Vec<StreamRow>;
    fn status(&self) -> Status;
    /// Publishes `path`, reporting bytes done; the reply is `Published`.
    fn publish(&self, path: &Path, progress: &(dyn Fn(u64) + Sync)) -> Result<Reply, String>;
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
    crate::fetch::task::spawn("control socket", span, accept(listener, handler, stopped));
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
                crate::fetch::task::spawn("control request", span, serve(stream, handler));
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
        Ok(Ok(_)) if line.last() != Some(&b'\n') => Reply::Error {
            message: format!(
                "malformed request: no complete line within {} bytes",
                super::MAX_REQUEST
            ),
        },
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
}

async fn answer(
    req: Request,
    handler: Arc<dyn ControlHandler>,
    write: &mut tokio::net::unix::OwnedWriteHalf,
) -> Reply {
    tracing::debug!(?req, "control request");
    let done = match req {
        Request::Ls => flatten(
            tokio::task::spawn_blocking(move || {
                Ok(Reply::Ls {
                    streams: handler.ls(),
                })
            })
            .await,
        ),
        Request::Status => flatten(
            tokio::task::spawn_blocking(move || Ok(Reply::Status(Box::new(handler.status()))))
                .await,
        ),
        Request::Publish { path } => {
            let bytes = Arc::new(AtomicU64::new(0));
            let counter = bytes.clone();
            let mut job = tokio::task::spawn_blocking(move || {
                handler.publish(&path, &|n| {
                    counter.fetch_add(n, Ordering::Relaxed);
                })
            });
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
