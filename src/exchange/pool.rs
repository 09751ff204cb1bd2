//! Idle client connections kept for reuse, keyed by peer address.
//!
//! lbry-sdk reuses one connection for the next blob (docs/protocol.md §3.5), which
//! saves a handshake per 2 MiB. Only a connection that finished a transfer
//! cleanly is put back; one that failed in any way is dropped. A connection is
//! checked when taken: one that idled too long (lbry-sdk servers close after
//! 30 s without a transfer), that the peer closed, or that has unexpected
//! bytes waiting is discarded.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

pub(super) struct Pool {
    idle: Mutex<HashMap<SocketAddr, Vec<(TcpStream, Instant)>>>,
    max_idle: Duration,
    per_peer: usize,
}

impl Pool {
    pub fn new(max_idle: Duration, per_peer: usize) -> Self {
        Self {
            idle: Mutex::new(HashMap::new()),
            max_idle,
            per_peer,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, Vec<(TcpStream, Instant)>>> {
        // Every critical section is a push or a pop: a panic cannot leave it half-done.
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The most recently used healthy idle connection to `peer`, if any.
    pub fn take(&self, peer: SocketAddr) -> Option<TcpStream> {
        let mut idle = self.lock();
        let conns = idle.get_mut(&peer)?;
        let mut found = None;
        while let Some((stream, since)) = conns.pop() {
            if since.elapsed() < self.max_idle && peek(&stream) == Peek::Quiet {
                found = Some(stream);
                break;
            }
        }
        if conns.is_empty() {
            idle.remove(&peer);
        }
        found
    }

    /// Keeps a connection that just finished a clean exchange.
    /// A connection the peer closed meanwhile is dropped instead.
    pub fn put(&self, peer: SocketAddr, stream: TcpStream) {
        if self.per_peer == 0 || peek(&stream) != Peek::Quiet {
            return;
        }
        let mut idle = self.lock();
        let conns = idle.entry(peer).or_default();
        if conns.len() >= self.per_peer {
            conns.remove(0);
        }
        conns.push((stream, Instant::now()));
    }

    /// Idle connections held for `peer`.
    pub fn idle(&self, peer: SocketAddr) -> usize {
        self.lock().get(&peer).map_or(0, Vec::len)
    }
}

/// What is waiting on a connection between two exchanges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Peek {
    /// Open, nothing to read: the only state fit for reuse.
    Quiet,
    /// The peer closed (or reset) the connection.
    Closed,
    /// Bytes nobody asked for.
    Unexpected,
}

/// Looks at the connection without consuming anything.
pub(super) fn peek(stream: &TcpStream) -> Peek {
    let mut byte = 0u8;
    // SAFETY: the descriptor is open (borrowed from `stream`) and `byte` is a
    // valid one-byte buffer. MSG_PEEK leaves any data in the socket.
    let n = unsafe {
        libc::recv(
            stream.as_raw_fd(),
            (&mut byte as *mut u8).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    match n {
        0 => Peek::Closed,
        n if n > 0 => Peek::Unexpected,
        _ if std::io::Error::last_os_error().kind() == std::io::ErrorKind::WouldBlock => {
            Peek::Quiet
        }
        _ => Peek::Closed,
    }
}
