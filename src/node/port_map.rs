//! Being reachable from behind a home router: the UPnP mapper wired to
//! what announces our TCP port. When the router forwards another external
//! port to our blob server, that port is what the DHT `store` and the
//! tracker announces carry from then on, and everything is announced again
//! at once.

use super::announce::{AnnouncedPort, Announcer};
use super::Lifecycle;
use crate::upnp::{self, Ports, Upnp, UpnpConfig};
use std::sync::Arc;

/// Starts mapping `ports` in the background (unless `cfg` is `None`:
/// `--no-upnp`); never waits for the router.
pub fn start_upnp(
    cfg: Option<UpnpConfig>,
    ports: Ports,
    announced: &AnnouncedPort,
    announcer: &Announcer,
    life: &Lifecycle,
) -> Upnp {
    let Some(cfg) = cfg else {
        return Upnp::off("--no-upnp");
    };
    let (announced, announcer) = (announced.clone(), announcer.clone());
    let on_tcp = Arc::new(move |port: u16| {
        if announced.set(port) {
            tracing::info!(port, "announcing the port the router forwards");
            announcer.full_pass();
        }
    });
    let (handle, task) = upnp::start(cfg, ports, on_tcp, life.token());
    if let Some(task) = task {
        let span = tracing::info_span!("upnp", tcp = %ports.tcp);
        crate::task::spawn("upnp", span, life.track_self_stopping(task));
    }
    handle
}
