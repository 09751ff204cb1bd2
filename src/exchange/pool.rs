//! Idle client connections kept for reuse, keyed by peer address.
//!
//! lbry-sdk reuses one connection for the next blob (docs/protocol.md §3.5), which
//! saves a handshake per 2 MiB. Only a connection that finished a transfer
//! cleanly is put back; one that failed in any way is dropped. A connection is
//! checked when taken: one that idled too long (lbry-sdk servers close after
//! 30 s without a transfer), that the peer closed, or that has unexpected
//! bytes waiting is discarded.
//!
//! Bounded: each `put` first reaps every connection that idled past
//! `max_idle` (so peers never asked again do not keep sockets open), and at
//! most [`MAX_PEERS`] peers keep idle connections; a new one displaces the
//! peer idle longest.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// Peers with idle connections kept, at most.
pub(super) const MAX_PEERS: usize = 64;

pub(super) struct Pool {
    idle: Mutex<Idle>,
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

    fn lock(&self) -> std::sync::MutexGuard<'_, Idle> {
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
        let now = Instant::now();
        let mut idle = self.lock();
        reap(&mut idle, now, self.max_idle);
        if !idle.contains_key(&peer) && idle.len() >= MAX_PEERS {
            // The peer whose newest connection is oldest goes.
            let stalest = idle
                .iter()
                .min_by_key(|(_, conns)| conns.last().map(|(_, since)| *since))
                .map(|(addr, _)| *addr);
            if let Some(addr) = stalest {
                idle.remove(&addr);
            }
        }
        let conns = idle.entry(peer).or_default();
        if conns.len() >= self.per_peer {
            conns.remove(0);
        }
        conns.push((stream, now));
    }

    /// Idle connections held, over all peers.
    #[cfg(test)]
    pub fn total_idle(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    /// Idle connections held for `peer`.
    pub fn idle(&self, peer: SocketAddr) -> usize {
        self.lock().get(&peer).map_or(0, Vec::len)
    }
}

type Idle = HashMap<SocketAddr, Vec<(TcpStream, Instant)>>;

/// Drops (closes) every connection idle for `max_idle` or more at `now`.
fn reap(idle: &mut Idle, now: Instant, max_idle: Duration) {
    idle.retain(|_, conns| {
        conns.retain(|(_, since)| now.saturating_duration_since(*since) < max_idle);
        !conns.is_empty()
    });
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A connected loopback stream (its server end kept open in `keep`).
    async fn connection(keep: &mut Vec<TcpStream>) -> (SocketAddr, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        keep.push(server);
        (addr, client)
    }

    #[tokio::test]
    async fn connections_of_peers_never_asked_again_are_reaped() {
        // Every connection has idled out by the time the next one is put.
        let pool = Pool::new(Duration::ZERO, 2);
        let mut servers = Vec::new();
        let (a, conn) = connection(&mut servers).await;
        pool.put(a, conn);
        assert_eq!(pool.total_idle(), 1);
        // Putting another peer's connection reaps the one that idled out.
        let (b, conn) = connection(&mut servers).await;
        pool.put(b, conn);
        assert_eq!(pool.idle(a), 0, "the idle connection to a was closed");
        assert_eq!(pool.total_idle(), 1);
    }

    #[tokio::test]
    async fn at_most_max_peers_keep_idle_connections() {
        let pool = Pool::new(Duration::from_secs(60), 2);
        let mut servers = Vec::new();
        let mut first = None;
        for _ in 0..MAX_PEERS + 5 {
            let (addr, conn) = connection(&mut servers).await;
            first.get_or_insert(addr);
            pool.put(addr, conn);
        }
        assert_eq!(pool.total_idle(), MAX_PEERS);
        assert_eq!(pool.idle(first.unwrap()), 0, "the stalest peer went first");
    }
}
