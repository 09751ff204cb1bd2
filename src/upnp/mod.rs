//! UPnP IGD port mapping: making a node behind a home router reachable.
//!
//! A node at home is behind its router's NAT: without a mapping, the blob
//! server (TCP) and the DHT node (UDP) it announces cannot be reached from
//! the internet, so nothing it publishes can be fetched. Like lbry-sdk,
//! the node asks the router (an Internet Gateway Device) to forward both
//! ports, and announces the external TCP port where LBRY expects it (the
//! DHT `store`, tracker announces) through the callback it is given.
//!
//! All of it runs in one background task and never delays start-up:
//! discovery has a short deadline, failures are retried on a backoff
//! ([`lease::Schedule`], pure, taking `now`), the lease is renewed before
//! it ends, and the mappings are removed when the node stops (bounded, so
//! a dead router never holds up a shutdown). [`igd`] does the talking.

mod igd;
pub mod lease;
mod task;

use igd_next::PortMappingProtocol;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long discovery may take before the attempt counts as failed.
pub const SEARCH_DEADLINE: Duration = Duration::from_secs(3);

/// Why a mapping attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum UpnpError {
    #[error("no UPnP gateway answered: {0}")]
    Search(String),
    #[error("cannot tell our address on the gateway's network")]
    Local(#[source] std::io::Error),
    #[error("the gateway does not tell its external address: {0}")]
    ExternalIp(String),
    #[error("the gateway refused to map our {proto} port: {reason}")]
    Map {
        proto: PortMappingProtocol,
        reason: String,
    },
    #[error("the gateway did not remove our {proto} mapping: {reason}")]
    Unmap {
        proto: PortMappingProtocol,
        reason: String,
    },
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
}

/// The settings of `--no-upnp` / `--upnp-gateway`.
#[derive(Debug, Clone, Default)]
pub struct UpnpConfig {
    /// Ask this gateway (its LAN address) alone instead of searching the LAN.
    pub gateway: Option<IpAddr>,
}

/// What `status` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum UpnpStatus {
    /// No mapping is attempted, and why.
    Off {
        reason: String,
    },
    Searching,
    Mapped {
        /// The gateway's control URL.
        gateway: String,
        external_ip: String,
        /// (our port, external port).
        tcp: (u16, u16),
        udp: Option<(u16, u16)>,
        /// Granted lease; 0: permanent.
        lease_secs: u64,
        /// When the lease ends (seconds since the epoch); `None`: permanent.
        expires: Option<u64>,
    },
    Failed {
        error: String,
        failures: u32,
    },
}

impl UpnpStatus {
    /// One line for `status`, at `now` (seconds since the epoch).
    pub fn line(&self, now: u64) -> String {
        match self {
            Self::Off { reason } => format!("upnp: none ({reason})"),
            Self::Searching => "upnp: looking for the gateway".into(),
            Self::Failed { error, failures } => {
                format!("upnp: no mapping ({error}; {failures} attempts failed, retrying)")
            }
            Self::Mapped {
                gateway,
                external_ip,
                tcp,
                udp,
                lease_secs,
                expires,
            } => {
                let mut s = format!("upnp: {external_ip} TCP {}->{}", tcp.1, tcp.0);
                if let Some((ours, ext)) = udp {
                    s += &format!(", UDP {ext}->{ours}");
                }
                match expires {
                    Some(e) => {
                        let left = e.saturating_sub(now);
                        s += &format!(", lease {lease_secs} s (ends in {left} s)");
                    }
                    None => s += ", permanent",
                }
                s + &format!(" via {gateway}")
            }
        }
    }
}

/// The running mapper's state, for `status`. Cheap to clone.
#[derive(Clone)]
pub struct Upnp {
    status: Arc<Mutex<UpnpStatus>>,
}

impl Upnp {
    /// No mapping, for `reason`.
    pub fn off(reason: &str) -> Self {
        Self {
            status: Arc::new(Mutex::new(UpnpStatus::Off {
                reason: reason.into(),
            })),
        }
    }

    pub fn status(&self) -> UpnpStatus {
        self.lock().clone()
    }

    fn set(&self, s: UpnpStatus) {
        *self.lock() = s;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, UpnpStatus> {
        self.status.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Our sockets to map: the blob server's (TCP) and the DHT node's (UDP).
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub tcp: SocketAddr,
    pub udp: Option<SocketAddr>,
}

/// Called with the external TCP port whenever it is (re)mapped.
pub type OnTcpPort = Arc<dyn Fn(u16) + Send + Sync>;

/// The mapper for `ports`, and the task that does the mapping (for the
/// caller to track and spawn; `None` when there is nothing to map). The
/// task ends, removing its mappings, when `stop` is cancelled.
pub fn start(
    cfg: UpnpConfig,
    ports: Ports,
    on_tcp: OnTcpPort,
    stop: CancellationToken,
) -> (
    Upnp,
    Option<impl std::future::Future<Output = ()> + Send + 'static>,
) {
    if ports.tcp.ip().is_loopback() {
        let why = format!("the blob server listens on {} only", ports.tcp.ip());
        return (Upnp::off(&why), None);
    }
    let upnp = Upnp {
        status: Arc::new(Mutex::new(UpnpStatus::Searching)),
    };
    let task = task::run(cfg, ports, upnp.clone(), on_tcp, stop);
    (upnp, Some(task))
}
