//! The flags about being reachable from the internet: UPnP port mapping
//! on the home router (on by default for the mount and `serve`).
//!
//! They are global, like `--no-hub` and `--no-trackers`, so a wrapper (a
//! test harness, a script) can turn the LAN multicast off on any command.

use crate::upnp::UpnpConfig;
use std::net::IpAddr;

#[derive(Debug, Clone, clap::Args)]
pub struct UpnpArgs {
    /// Map no port on the home router: no UPnP (no multicast search on the LAN)
    #[arg(long, global = true)]
    pub no_upnp: bool,
    /// Ask this UPnP gateway (its LAN address) directly instead of searching the LAN
    #[arg(long, global = true, value_name = "ADDR", conflicts_with = "no_upnp")]
    pub upnp_gateway: Option<IpAddr>,
}

impl UpnpArgs {
    /// The mapping to keep; `None` with `--no-upnp`.
    pub fn upnp(&self) -> Option<UpnpConfig> {
        (!self.no_upnp).then_some(UpnpConfig {
            gateway: self.upnp_gateway,
        })
    }
}
