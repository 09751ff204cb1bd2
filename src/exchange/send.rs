//! Sending an answer header and the blob bytes right behind it.
//!
//! A blob stored as a file goes through the kernel with `sendfile(2)`: no
//! copy through user space, no blocking read on the async threads. The socket
//! is non-blocking, so the loop waits for writability and resumes after
//! partial sends and `EAGAIN`. Blobs held in memory are written normally.

use crate::store::RawBlob;
use std::io;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Writes `header` then the blob; returns the number of blob bytes sent.
pub(super) async fn send_blob(
    stream: &mut TcpStream,
    header: &[u8],
    raw: RawBlob,
) -> io::Result<u64> {
    stream.write_all(header).await?;
    match raw {
        RawBlob::Bytes(bytes) => {
            stream.write_all(&bytes).await?;
            Ok(bytes.len() as u64)
        }
        RawBlob::File(file, len) => send_file(stream, &file, len).await,
    }
}

#[cfg(target_os = "linux")]
async fn send_file(stream: &TcpStream, file: &std::fs::File, len: u64) -> io::Result<u64> {
    use std::os::fd::AsRawFd;
    use tokio::io::Interest;

    /// Upper bound per call, so one call cannot hold a worker for long.
    const CHUNK: u64 = 1 << 20;
    let (sock, fd) = (stream.as_raw_fd(), file.as_raw_fd());
    let mut offset: libc::off_t = 0;
    let end = libc::off_t::try_from(len)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "blob length overflows off_t"))?;
    while offset < end {
        // Lossless: `end - offset` is positive and at most `len`.
        let want = ((end - offset) as u64).min(CHUNK) as usize;
        stream.writable().await?;
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
            Ok(_) => {}
            // `try_io` has cleared the readiness: `writable()` waits again.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(len)
}

#[cfg(not(target_os = "linux"))]
async fn send_file(stream: &mut TcpStream, file: &std::fs::File, len: u64) -> io::Result<u64> {
    use std::io::Read;
    let mut file = file.try_clone()?;
    let bytes = tokio::task::spawn_blocking(move || {
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
    stream.write_all(&bytes).await?;
    Ok(len)
}
