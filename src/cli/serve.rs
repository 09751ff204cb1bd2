//! `lbrymount serve`: serve the local store to LBRY peers, and announce it in
//! the DHT (`node::serve` does it; this turns the flags into its configuration).

use super::node_args::NodeArgs;
use crate::config::Config;

/// Serves with `sources`: the trackers and the other blob sources.
pub fn run(
    cfg: &Config,
    args: &NodeArgs,
    sources: (Vec<String>, crate::node::Reach),
) -> anyhow::Result<()> {
    let mut options = args.options(cfg, Vec::new(), None);
    (options.trackers, options.reach) = sources;
    crate::node::serve(options)
}
