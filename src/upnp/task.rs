//! The mapping task: map, renew before the lease ends, retry on a backoff,
//! and remove the mappings when the node stops. Its timing is the pure
//! [`Schedule`]'s; this only does what it says when it says it.

use super::igd::{self, Igd};
use super::lease::{self, Schedule};
use super::{OnTcpPort, Ports, Upnp, UpnpConfig, UpnpError, UpnpStatus, SEARCH_DEADLINE};
use igd_next::PortMappingProtocol::{TCP, UDP};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};
use tokio_util::sync::CancellationToken;

/// Removing the mappings at shutdown, at most (within the node's stop grace).
const UNMAP_DEADLINE: Duration = Duration::from_millis(500);

/// What is mapped now.
struct Mapping {
    gw: Igd,
    external_ip: IpAddr,
    /// External ports.
    tcp: u16,
    udp: Option<u16>,
    granted: Duration,
}

pub(super) async fn run(
    cfg: UpnpConfig,
    ports: Ports,
    upnp: Upnp,
    on_tcp: OnTcpPort,
    stop: CancellationToken,
) {
    let mut schedule = Schedule::new(Instant::now());
    let mut current: Option<Mapping> = None;
    // After a failed renewal the gateway is searched for again (it may
    // have changed address); the old mapping is still removed at exit.
    let mut healthy = false;
    loop {
        let next = tokio::time::Instant::from_std(schedule.next());
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep_until(next) => {}
        }
        let prev = current.as_ref().filter(|_| healthy);
        let result = tokio::select! {
            () = stop.cancelled() => break,
            r = attempt(&cfg, &ports, prev) => r,
        };
        match result {
            Ok(m) => {
                schedule.mapped(Instant::now(), m.granted);
                if current.as_ref().map(|c| c.tcp) != Some(m.tcp) {
                    tracing::info!(external = %SocketAddr::new(m.external_ip, m.tcp), udp = ?m.udp, lease = m.granted.as_secs(), "upnp: ports mapped");
                    on_tcp(m.tcp);
                } else {
                    tracing::debug!(lease = m.granted.as_secs(), "upnp: lease renewed");
                }
                upnp.set(mapped_status(&m, &ports));
                current = Some(m);
                healthy = true;
            }
            Err(e) => {
                schedule.failed(Instant::now());
                healthy = false;
                tracing::info!(error = %e, failures = schedule.failures(), "upnp: no mapping");
                upnp.set(UpnpStatus::Failed {
                    error: crate::error_chain(&e),
                    failures: schedule.failures(),
                });
            }
        }
    }
    if let Some(m) = current {
        remove(&m).await;
    }
}

/// One attempt: find the gateway (unless we know it), then map both ports,
/// keeping the external ports mapped before.
async fn attempt(
    cfg: &UpnpConfig,
    ports: &Ports,
    prev: Option<&Mapping>,
) -> Result<Mapping, UpnpError> {
    let gw = match prev {
        Some(m) => m.gw.clone(),
        None => igd::discover(cfg.gateway, SEARCH_DEADLINE).await?,
    };
    let ours = |a: SocketAddr| -> Result<SocketAddr, UpnpError> {
        let ip = if a.ip().is_unspecified() {
            igd::local_ip_towards(gw.addr)?
        } else {
            a.ip()
        };
        Ok(SocketAddr::new(ip, a.port()))
    };
    let external_ip = igd::external_ip(&gw).await?;
    let want = prev.map_or(ports.tcp.port(), |m| m.tcp);
    let (tcp, granted) = igd::map(&gw, TCP, ours(ports.tcp)?, want, lease::LEASE).await?;
    let udp = match ports.udp {
        Some(u) => {
            let want = prev.and_then(|m| m.udp).unwrap_or(u.port());
            Some(igd::map(&gw, UDP, ours(u)?, want, lease::LEASE).await?.0)
        }
        None => None,
    };
    Ok(Mapping {
        gw,
        external_ip,
        tcp,
        udp,
        granted,
    })
}

fn mapped_status(m: &Mapping, ports: &Ports) -> UpnpStatus {
    let epoch = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    UpnpStatus::Mapped {
        gateway: m.gw.to_string(),
        external_ip: m.external_ip.to_string(),
        tcp: (ports.tcp.port(), m.tcp),
        udp: ports.udp.zip(m.udp).map(|(u, e)| (u.port(), e)),
        lease_secs: m.granted.as_secs(),
        expires: (!m.granted.is_zero()).then(|| epoch + m.granted.as_secs()),
    }
}

/// Removes our mappings, bounded: a router that does not answer keeps them
/// until their lease ends.
async fn remove(m: &Mapping) {
    let both = async {
        igd::unmap(&m.gw, TCP, m.tcp).await?;
        if let Some(u) = m.udp {
            igd::unmap(&m.gw, UDP, u).await?;
        }
        Ok::<(), UpnpError>(())
    };
    match tokio::time::timeout(UNMAP_DEADLINE, both).await {
        Ok(Ok(())) => tracing::info!("upnp: mappings removed"),
        Ok(Err(e)) => tracing::warn!(error = %e, "upnp: cannot remove the mappings"),
        Err(_) => tracing::warn!(
            "upnp: the gateway did not answer; the mappings stay until their lease ends"
        ),
    }
}
