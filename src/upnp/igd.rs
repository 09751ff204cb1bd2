//! Talking to the gateway: discovery (SSDP), mapping and unmapping (SOAP),
//! through `igd-next`, each exchange under a deadline (the crate's HTTP
//! client has none of its own).

use super::UpnpError;
use igd_next::aio::tokio::Tokio;
use igd_next::aio::Gateway;
use igd_next::{AddAnyPortError, AddPortError, PortMappingProtocol, SearchOptions};
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// The description a mapping carries (what `upnpc -l` and router pages show).
pub const DESCRIPTION: &str = "lbrymount";
/// One SOAP exchange with the gateway, at most.
const SOAP_DEADLINE: Duration = Duration::from_secs(5);
/// SSDP's port, where a gateway named by hand is asked directly.
const SSDP_PORT: u16 = 1900;

pub type Igd = Gateway<Tokio>;

/// Finds the gateway: by multicast on the LAN, or asking `direct` (its LAN
/// address) alone; gives up after `deadline`.
pub async fn discover(direct: Option<IpAddr>, deadline: Duration) -> Result<Igd, UpnpError> {
    let mut opts = SearchOptions {
        timeout: Some(deadline),
        single_search_timeout: Some(deadline),
        ..SearchOptions::default()
    };
    if let Some(ip) = direct {
        opts.broadcast_address = SocketAddr::new(ip, SSDP_PORT);
    }
    // The crate's own deadline covers the search; this one its HTTP fetches too.
    bounded(deadline + SOAP_DEADLINE, "the gateway search", async {
        igd_next::aio::tokio::search_gateway(opts)
            .await
            .map_err(|e| UpnpError::Search(e.to_string()))
    })
    .await
}

/// Our address on the gateway's network: the one the kernel picks to reach it.
pub fn local_ip_towards(gateway: SocketAddr) -> Result<IpAddr, UpnpError> {
    let s = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).map_err(UpnpError::Local)?;
    s.connect(gateway).map_err(UpnpError::Local)?;
    Ok(s.local_addr().map_err(UpnpError::Local)?.ip())
}

/// The gateway's external address.
pub async fn external_ip(gw: &Igd) -> Result<IpAddr, UpnpError> {
    bounded(SOAP_DEADLINE, "the external address", async {
        gw.get_external_ip()
            .await
            .map_err(|e| UpnpError::ExternalIp(e.to_string()))
    })
    .await
}

/// Maps `internal` on the gateway, preferring the external port `want`
/// (the same as ours, or the one mapped before); returns the external
/// port and the lease granted (zero: permanent).
pub async fn map(
    gw: &Igd,
    proto: PortMappingProtocol,
    internal: SocketAddr,
    want: u16,
    lease: Duration,
) -> Result<(u16, Duration), UpnpError> {
    let secs = u32::try_from(lease.as_secs()).unwrap_or(u32::MAX);
    let failed = |e: String| UpnpError::Map { proto, reason: e };
    match add_port(gw, proto, internal, want, secs).await? {
        Ok(()) => return Ok((want, lease)),
        Err(AddPortError::OnlyPermanentLeasesSupported) => {
            add_port(gw, proto, internal, want, 0)
                .await?
                .map_err(|e| failed(e.to_string()))?;
            return Ok((want, Duration::ZERO));
        }
        Err(AddPortError::PortInUse) => {}
        Err(e) => return Err(failed(e.to_string())),
    }
    // Our port is taken on the gateway (another machine of the LAN): any other.
    let any = bounded(SOAP_DEADLINE, "a port mapping", async {
        Ok(gw.add_any_port(proto, internal, secs, DESCRIPTION).await)
    })
    .await?;
    match any {
        Ok(port) => Ok((port, lease)),
        Err(AddAnyPortError::OnlyPermanentLeasesSupported) => {
            let port = bounded(SOAP_DEADLINE, "a port mapping", async {
                Ok(gw.add_any_port(proto, internal, 0, DESCRIPTION).await)
            })
            .await?
            .map_err(|e| failed(e.to_string()))?;
            Ok((port, Duration::ZERO))
        }
        Err(e) => Err(failed(e.to_string())),
    }
}

async fn add_port(
    gw: &Igd,
    proto: PortMappingProtocol,
    internal: SocketAddr,
    external: u16,
    secs: u32,
) -> Result<Result<(), AddPortError>, UpnpError> {
    bounded(SOAP_DEADLINE, "a port mapping", async {
        Ok(gw
            .add_port(proto, external, internal, secs, DESCRIPTION)
            .await)
    })
    .await
}

/// Removes the mapping of `external`; a mapping already gone is not an error.
pub async fn unmap(gw: &Igd, proto: PortMappingProtocol, external: u16) -> Result<(), UpnpError> {
    bounded(SOAP_DEADLINE, "removing a mapping", async {
        match gw.remove_port(proto, external).await {
            Ok(()) | Err(igd_next::RemovePortError::NoSuchPortMapping) => Ok(()),
            Err(e) => Err(UpnpError::Unmap {
                proto,
                reason: e.to_string(),
            }),
        }
    })
    .await
}

async fn bounded<T>(
    deadline: Duration,
    what: &'static str,
    fut: impl Future<Output = Result<T, UpnpError>>,
) -> Result<T, UpnpError> {
    tokio::time::timeout(deadline, fut)
        .await
        .map_err(|_| UpnpError::Timeout(what))?
}
