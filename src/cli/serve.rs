//! `lbrymount serve`: serve the local store to LBRY peers, and announce it in
//! the DHT (`node::serve` does it; this turns the flags into its configuration).

use super::node_args::NodeArgs;
use crate::config::Config;

/// Serves with the network sources and reach the flags chose.
pub fn run(cfg: &Config, args: &NodeArgs, net: super::NetFlags) -> anyhow::Result<()> {
    let mut options = args.options(cfg, Vec::new(), None);
    net.apply(&mut options);
    crate::node::serve(options)
}
