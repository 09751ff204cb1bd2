//! `lbrymount serve`: serve the local store to LBRY peers, and announce it in
//! the DHT (`node::serve` does it; this turns the flags into its configuration).

use super::node_args::NodeArgs;
use crate::config::Config;

pub fn run(
    cfg: &Config,
    args: &NodeArgs,
    trackers: Vec<String>,
    lan: bool,
    upnp: Option<crate::upnp::UpnpConfig>,
) -> anyhow::Result<()> {
    let mut options = args.options(cfg, Vec::new(), None);
    options.trackers = trackers;
    options.lan = lan;
    options.upnp = upnp;
    crate::node::serve(options)
}
