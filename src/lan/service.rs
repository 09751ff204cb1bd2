//! The running side of LAN discovery: the two sockets, the start burst and
//! periodic hellos, and what is done with each datagram heard. Every
//! decision about a datagram is the pure table's; this only moves bytes.

use super::table::{Ignored, LanPeer, LanTable, Outcome};
use super::{LanConfig, Me};
use crate::wire::lan::{Announcement, Kind};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Why LAN discovery could not start.
#[derive(Debug, thiserror::Error)]
pub enum LanError {
    #[error("cannot open the LAN discovery socket on UDP port {port}")]
    Socket {
        port: u16,
        #[source]
        source: std::io::Error,
    },
}

/// LAN discovery, running: who was heard, and what was ignored.
#[derive(Debug)]
pub struct Lan {
    table: Mutex<LanTable>,
}

impl Lan {
    /// The live LAN peers, most recently heard first.
    pub fn peers(&self) -> Vec<LanPeer> {
        self.lock().peers(Instant::now())
    }

    pub fn ignored(&self) -> Ignored {
        self.lock().ignored()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LanTable> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One datagram from `from`: a peer heard for the first time, and
    /// whether to answer it with a hello.
    fn hear(&self, from: SocketAddr, bytes: &[u8], me: &Me, own_port: u16) -> Heard {
        let now = Instant::now();
        let mut table = self.lock();
        if !table.admit(from.ip(), now) {
            tracing::trace!(peer = %from, "LAN datagram over the rate limit");
            return Heard::default();
        }
        let a = match Announcement::decode(bytes) {
            Ok(a) => a,
            Err(e) => {
                table.malformed();
                tracing::debug!(peer = %from, error = %e, "ignoring a LAN datagram");
                return Heard::default();
            }
        };
        if a.node_id == me.node_id && from.port() == own_port {
            // Our own multicast, looped back to us.
            return Heard::default();
        }
        let outcome = table.accept(from.ip(), &a, now);
        if outcome == Outcome::Own {
            tracing::debug!(peer = %from, "ignoring a LAN announcement that carries our node id");
        }
        Heard {
            new: match outcome {
                Outcome::New(p) => Some(p),
                _ => None,
            },
            answer: a.kind == Kind::Query && outcome != Outcome::Own,
        }
    }
}

#[derive(Debug, Default)]
struct Heard {
    new: Option<LanPeer>,
    answer: bool,
}

struct Sockets {
    /// Bound to the group's port: hears the multicast.
    group: UdpSocket,
    /// On a port of its own: sends, and hears answers to our queries.
    own: UdpSocket,
    own_port: u16,
    joined: bool,
    /// Whether a failure to join was logged as a warning.
    warned: bool,
}

/// Opens the sockets and starts announcing and listening until `stop`;
/// peers heard for the first time go to `new_peers` (dropped when it is full).
pub async fn start(
    cfg: LanConfig,
    me: Me,
    new_peers: mpsc::Sender<LanPeer>,
    stop: CancellationToken,
) -> Result<Arc<Lan>, LanError> {
    let port = cfg.group.port();
    let err = |source| LanError::Socket { port, source };
    let group = group_socket(port).map_err(err)?;
    let own = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
        .await
        .map_err(err)?;
    own.set_multicast_ttl_v4(1).map_err(err)?;
    own.set_multicast_loop_v4(true).map_err(err)?;
    let own_port = own.local_addr().map_err(err)?.port();
    let lan = Arc::new(Lan {
        table: Mutex::new(LanTable::new(me.node_id, cfg.limits.clone())),
    });
    let sockets = Sockets {
        group,
        own,
        own_port,
        joined: false,
        warned: false,
    };
    let span = tracing::info_span!("lan", node = %me.node_id.short());
    let run = run(lan.clone(), sockets, cfg, me, new_peers);
    crate::task::spawn("lan_discovery", span, async move {
        tokio::select! {
            () = stop.cancelled() => {}
            () = run => {}
        }
    });
    Ok(lan)
}

/// The group's port, shared with other nodes on this host (each gets a copy
/// of every multicast datagram).
fn group_socket(port: u16) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    s.set_nonblocking(true)?;
    s.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)).into())?;
    UdpSocket::from_std(s.into())
}

/// What woke the loop.
enum Event {
    Tick,
    /// A datagram on the group socket (`true`) or our own.
    Got(bool, std::io::Result<(usize, SocketAddr)>),
}

/// The loop: announce on schedule, answer and record what is heard.
async fn run(lan: Arc<Lan>, mut s: Sockets, cfg: LanConfig, me: Me, tx: mpsc::Sender<LanPeer>) {
    let start = tokio::time::Instant::now();
    let mut burst = cfg.start_burst.clone().into_iter();
    let mut next = start + burst.next().unwrap_or_default();
    let mut kind = Kind::Query;
    let (mut gbuf, mut obuf) = ([0u8; 2048], [0u8; 2048]);
    loop {
        let event = tokio::select! {
            () = tokio::time::sleep_until(next) => Event::Tick,
            r = s.group.recv_from(&mut gbuf) => Event::Got(true, r),
            r = s.own.recv_from(&mut obuf) => Event::Got(false, r),
        };
        let (len, from, buf) = match event {
            Event::Tick => {
                announce(&mut s, &cfg, &me, kind).await;
                lan.lock().expire(Instant::now());
                (next, kind) = match burst.next() {
                    Some(at) => (start + at, Kind::Query),
                    None => (
                        tokio::time::Instant::now() + cfg.announce_every,
                        Kind::Hello,
                    ),
                };
                continue;
            }
            Event::Got(_, Err(e)) => {
                // A UDP socket's errors are per datagram; it stays usable.
                tracing::debug!(error = %e, "LAN receive failed");
                continue;
            }
            Event::Got(group, Ok((len, from))) => (len, from, if group { &gbuf } else { &obuf }),
        };
        // A datagram longer than the buffer arrives cut to it, still oversized.
        let heard = lan.hear(from, &buf[..len], &me, s.own_port);
        if let Some(p) = heard.new {
            tracing::info!(peer = %p.blob_addr(), udp = p.udp_port, "found a LAN peer");
            if tx.try_send(p).is_err() {
                tracing::debug!(peer = %p.blob_addr(), "LAN peer not handed on: queue full");
            }
        }
        if heard.answer {
            send(&s.own, &me, Kind::Hello, from).await;
        }
    }
}

/// Joins the group (again, until it works: an interface may come up late),
/// then multicasts one datagram of `kind`.
async fn announce(s: &mut Sockets, cfg: &LanConfig, me: &Me, kind: Kind) {
    if !s.joined {
        match s
            .group
            .join_multicast_v4(*cfg.group.ip(), Ipv4Addr::UNSPECIFIED)
        {
            Ok(()) => s.joined = true,
            // Said once; tried again before every announcement.
            Err(e) if !s.warned => {
                s.warned = true;
                tracing::warn!(
                    group = %cfg.group,
                    error = %e,
                    "cannot join the LAN discovery group yet (no multicast route?)"
                );
            }
            Err(e) => tracing::debug!(error = %e, "LAN discovery group not joined"),
        }
    }
    send(&s.own, me, kind, SocketAddr::V4(cfg.group)).await;
}

async fn send(socket: &UdpSocket, me: &Me, kind: Kind, to: SocketAddr) {
    let a = Announcement {
        kind,
        node_id: me.node_id,
        tcp_port: me.tcp_port,
        udp_port: me.udp_port,
    };
    if let Err(e) = socket.send_to(&a.encode(), to).await {
        tracing::debug!(to = %to, error = %e, "LAN datagram not sent");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{NodeId, HASH_LEN};
    use crate::lan::Limits;

    fn me() -> Me {
        Me {
            node_id: NodeId::from_bytes([1; HASH_LEN]),
            tcp_port: 4444,
            udp_port: 4444,
        }
    }

    fn datagram(kind: Kind, id: u8) -> [u8; crate::wire::lan::LEN] {
        Announcement {
            kind,
            node_id: NodeId::from_bytes([id; HASH_LEN]),
            tcp_port: 5555,
            udp_port: 0,
        }
        .encode()
    }

    #[test]
    fn a_query_is_answered_our_own_datagrams_and_garbage_are_not() {
        let lan = Lan {
            table: Mutex::new(LanTable::new(me().node_id, Limits::default())),
        };
        let from: SocketAddr = "10.0.0.2:40000".parse().unwrap();
        let q = lan.hear(from, &datagram(Kind::Query, 2), &me(), 41000);
        assert!(q.answer && q.new.is_some_and(|p| p.blob_addr().port() == 5555));
        let again = lan.hear(from, &datagram(Kind::Hello, 2), &me(), 41000);
        assert!(!again.answer && again.new.is_none());
        // Our own query, looped back, and one forged from elsewhere.
        let looped: SocketAddr = "10.0.0.1:41000".parse().unwrap();
        let own = lan.hear(looped, &datagram(Kind::Query, 1), &me(), 41000);
        let forged = lan.hear(from, &datagram(Kind::Query, 1), &me(), 41000);
        assert!(!own.answer && !forged.answer);
        assert_eq!(lan.ignored().own_id, 1, "the looped one is not counted");
        let junk = lan.hear(from, b"junk", &me(), 41000);
        assert!(!junk.answer && junk.new.is_none());
        assert_eq!(lan.ignored().malformed, 1);
        assert_eq!(lan.peers().len(), 1);
    }
}
