//! The command side of the control socket: blocking, with deadlines.
//!
//! `connect` tells "no node runs here" (no socket, or a socket nobody
//! listens on, left by a killed node) from a real failure, so commands can
//! fall back to opening the data dir themselves.

use super::{decode_reply, encode, socket_path, ControlError, Reply, Request, MAX_DATA};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Longest silence from the node (it sends progress at least every second).
const SILENCE: Duration = Duration::from_secs(30);
/// Longest reply line (a listing of many streams).
const MAX_REPLY: u64 = 64 << 20;

pub struct Client {
    path: PathBuf,
    reader: BufReader<UnixStream>,
}

/// Connects to the node running on `data_dir`; `Ok(None)` when none runs.
pub fn connect(data_dir: &Path) -> Result<Option<Client>, ControlError> {
    let path = socket_path(data_dir);
    let io = |source| ControlError::Io {
        path: path.clone(),
        source,
    };
    let stream = match UnixStream::connect(&path) {
        Ok(s) => s,
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused) => {
            return Ok(None)
        }
        Err(e) => return Err(io(e)),
    };
    stream.set_read_timeout(Some(SILENCE)).map_err(io)?;
    stream.set_write_timeout(Some(SILENCE)).map_err(io)?;
    Ok(Some(Client {
        reader: BufReader::new(stream),
        path,
    }))
}

impl Client {
    /// Sends `req` and returns the final reply, passing progress to `progress`.
    /// A `Reply::Error` is returned as a reply: it is the node's answer.
    pub fn request(
        &mut self,
        req: &Request,
        mut progress: impl FnMut(u64),
    ) -> Result<Reply, ControlError> {
        self.send(req)?;
        loop {
            match self.next_reply()? {
                Reply::Progress { bytes } => progress(bytes),
                reply => return Ok(reply),
            }
        }
    }

    /// Sends a request; its replies come from [`next_reply`](Self::next_reply).
    pub fn send(&mut self, req: &Request) -> Result<(), ControlError> {
        let path = self.path.clone();
        self.reader
            .get_mut()
            .write_all(&encode(req))
            .map_err(|source| ControlError::Io { path, source })
    }

    /// The next reply line, progress included.
    pub fn next_reply(&mut self) -> Result<Reply, ControlError> {
        let path = self.path.clone();
        let mut line = Vec::new();
        let n = (&mut self.reader)
            .take(MAX_REPLY)
            .read_until(b'\n', &mut line);
        match n {
            Ok(0) => return Err(ControlError::Closed { path }),
            Ok(_) if line.last() != Some(&b'\n') => {
                return Err(ControlError::BadReply {
                    path,
                    why: "unterminated or oversized line".into(),
                })
            }
            Ok(_) => {}
            Err(e) => return Err(self.read_error(e)),
        }
        line.pop();
        decode_reply(&line).map_err(|why| ControlError::BadReply { path, why })
    }

    /// The `len` raw bytes that follow a `data` reply.
    pub fn read_data(&mut self, len: u32) -> Result<Vec<u8>, ControlError> {
        if len > MAX_DATA {
            return Err(ControlError::BadReply {
                path: self.path.clone(),
                why: format!("{len} bytes of data in one piece"),
            });
        }
        let mut buf = vec![0; len as usize];
        match self.reader.read_exact(&mut buf) {
            Ok(()) => Ok(buf),
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => Err(ControlError::Closed {
                path: self.path.clone(),
            }),
            Err(e) => Err(self.read_error(e)),
        }
    }

    fn read_error(&self, e: std::io::Error) -> ControlError {
        let path = self.path.clone();
        if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) {
            ControlError::Silent {
                path,
                secs: SILENCE.as_secs(),
            }
        } else {
            ControlError::Io { path, source: e }
        }
    }
}
