//! The command side of the control socket: blocking, with deadlines.
//!
//! `connect` tells "no node runs here" (no socket, or a socket nobody
//! listens on, left by a killed node) from a real failure, so commands can
//! fall back to opening the data dir themselves.

use super::{decode_reply, encode, socket_path, ControlError, Reply, Request};
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
        let path = self.path.clone();
        let io = |source| ControlError::Io {
            path: path.clone(),
            source,
        };
        self.reader.get_mut().write_all(&encode(req)).map_err(io)?;
        loop {
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
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Err(ControlError::Silent {
                        path,
                        secs: SILENCE.as_secs(),
                    })
                }
                Err(e) => return Err(io(e)),
            }
            line.pop();
            match decode_reply(&line) {
                Ok(Reply::Progress { bytes }) => progress(bytes),
                Ok(reply) => return Ok(reply),
                Err(why) => return Err(ControlError::BadReply { path, why }),
            }
        }
    }
}
