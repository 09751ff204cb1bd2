//! Sending an answer header and the blob bytes right behind it.
//!
//! A blob stored as a file goes through the kernel with `sendfile(2)`: no
//! copy through user space, no blocking read on the async threads. Under an
//! upload limit ([`rate`](super::rate)) blobs go in pieces of 64 KiB, each
//! waiting for the shared bucket. The socket
//! is non-blocking, so the loop waits for writability and resumes after
//! partial sends and `EAGAIN`. Blobs held in memory are written normally.
//!
//! Every wait for the socket has the stall deadline: a peer that asks for a
//! blob and stops reading frees its connection after that long, instead of
//! holding a slot for the whole send deadline. The kernel may take a whole
//! blob into its send buffer, so a send that "completed" proves nothing:
//! [`Drain`] then watches the bytes the peer has not acknowledged, and a
//! connection whose queue does not shrink for the stall deadline is closed.

use crate::store::RawBlob;
use std::io;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Writes `header` then the blob; returns the number of blob bytes sent.
/// Fails when the peer takes no byte for `stall`.
pub(super) async fn send_blob(
    stream: &mut TcpStream,
    header: &[u8],
    raw: RawBlob,
    stall: Duration,
) -> io::Result<u64> {
    write_all(stream, header, stall).await?;
    match raw {
        RawBlob::Bytes(bytes) => {
            let upload = super::rate::upload();
            for piece in bytes.chunks(upload.chunk(bytes.len()).max(1)) {
                upload.ready().await;
                write_all(stream, piece, stall).await?;
                upload.charge(piece.len() as u64);
            }
            Ok(bytes.len() as u64)
        }
        RawBlob::File(file, len) => send_file(stream, &file, len, stall).await,
    }
}

/// Writes all of `buf`; fails when the peer takes no byte for `stall`.
pub(super) async fn write_all(
    stream: &mut TcpStream,
    buf: &[u8],
    stall: Duration,
) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        match tokio::time::timeout(stall, stream.write(&buf[done..])).await {
            Err(_) => return Err(stalled(stall)),
            Ok(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(Ok(n)) => done += n,
            Ok(Err(e)) => return Err(e),
        }
    }
    Ok(())
}

fn stalled(stall: Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("the peer read nothing for {} s", stall.as_secs_f64()),
    )
}

#[cfg(target_os = "linux")]
async fn send_file(
    stream: &TcpStream,
    file: &std::fs::File,
    len: u64,
    stall: Duration,
) -> io::Result<u64> {
    use std::os::fd::AsRawFd;
    use tokio::io::Interest;

    /// Upper bound per call, so one call cannot hold a worker for long;
    /// smaller under an upload limit, so the limit holds evenly.
    const CHUNK: usize = 1 << 20;
    let upload = super::rate::upload();
    let (sock, fd) = (stream.as_raw_fd(), file.as_raw_fd());
    let mut offset: libc::off_t = 0;
    let end = libc::off_t::try_from(len)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "blob length overflows off_t"))?;
    while offset < end {
        // Lossless: `end - offset` is positive and at most `len`.
        let want = ((end - offset) as u64).min(upload.chunk(CHUNK) as u64) as usize;
        upload.ready().await;
        tokio::time::timeout(stall, stream.writable())
            .await
            .map_err(|_| stalled(stall))??;
        let sent = stream.try_io(Interest::WRITABLE, || {
            // SAFETY: `sock` and `fd` are open for the whole call (both are
            // borrowed), and `offset` is a valid, exclusive pointer.
            let n = unsafe { libc::sendfile(sock, fd, &mut offset, want) };
            if n < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(n as usize)
            }
        });
        match sent {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("blob file ended after {offset} of {len} bytes"),
                ))
            }
            Ok(n) => upload.charge(n as u64),
            // `try_io` has cleared the readiness: `writable()` waits again.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(len)
}

#[cfg(not(target_os = "linux"))]
async fn send_file(
    stream: &mut TcpStream,
    file: &std::fs::File,
    len: u64,
    stall: Duration,
) -> io::Result<u64> {
    use std::io::Read;
    let mut file = file.try_clone()?;
    let bytes = crate::blocking::run(move || {
        let mut buf = Vec::new();
        file.by_ref().take(len).read_to_end(&mut buf).map(|_| buf)
    })
    .await
    .map_err(io::Error::other)??;
    if bytes.len() as u64 != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "blob file shorter than announced",
        ));
    }
    write_all(stream, &bytes, stall).await?;
    Ok(len)
}

/// A sent blob on its way out of the kernel's send queue. Checked once per
/// stall deadline, so it costs nothing while the peer reads.
pub(super) struct Drain {
    check_at: tokio::time::Instant,
    unacked: u64,
}

impl Drain {
    /// Starts watching after a send; `None` when nothing is left to watch.
    pub(super) fn start(stream: &TcpStream, stall: Duration) -> Option<Drain> {
        let unacked = unacked(stream).filter(|n| *n > 0)?;
        Some(Drain {
            check_at: tokio::time::Instant::now() + stall,
            unacked,
        })
    }

    pub(super) fn check_at(&self) -> tokio::time::Instant {
        self.check_at
    }

    /// The next watch when the queue shrank (`None` once empty); the bytes
    /// still unread when it did not.
    pub(super) fn check(self, stream: &TcpStream, stall: Duration) -> Result<Option<Drain>, u64> {
        match unacked(stream) {
            None | Some(0) => Ok(None),
            Some(n) if n < self.unacked => Ok(Some(Drain {
                check_at: tokio::time::Instant::now() + stall,
                unacked: n,
            })),
            Some(n) => Err(n),
        }
    }
}

/// Bytes written to the socket that the peer has not acknowledged yet.
#[cfg(target_os = "linux")]
fn unacked(stream: &TcpStream) -> Option<u64> {
    use std::os::fd::AsRawFd;
    let mut n: libc::c_int = 0;
    // SAFETY: TIOCOUTQ (SIOCOUTQ) writes one int through a valid pointer; the
    // descriptor is open for the whole call (borrowed from `stream`).
    let r = unsafe { libc::ioctl(stream.as_raw_fd(), libc::TIOCOUTQ, &mut n) };
    (r == 0).then(|| u64::try_from(n).unwrap_or(0))
}

#[cfg(not(target_os = "linux"))]
fn unacked(_stream: &TcpStream) -> Option<u64> {
    None
}
