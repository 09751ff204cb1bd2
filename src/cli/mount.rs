//! `lbrymount MOUNTPOINT`: run a full node and mount the network there
//! (`node::mount` does it; this turns the flags into its configuration).

use super::node_args::NodeArgs;
use crate::config::Config;
use crate::node::MountConfig;
use anyhow::bail;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, clap::Args)]
pub struct MountArgs {
    /// Where to mount the network (an existing directory)
    #[arg(value_name = "MOUNTPOINT")]
    pub mountpoint: Option<PathBuf>,
    #[command(flatten)]
    pub node: NodeArgs,
    /// A peer to fetch blobs from, besides those the DHT names (repeatable)
    #[arg(long = "peer", value_name = "HOST:PORT", value_parser = super::parse_host_port)]
    pub peers: Vec<String>,
    /// A BitTorrent peer asked for every torrent opened in the mount (repeatable)
    #[arg(long = "bt-peer", value_name = "HOST:PORT", value_parser = super::parse_host_port)]
    pub bt_peers: Vec<String>,
    /// A mainline DHT node to join for torrents' peers (repeatable; default the public routers)
    #[arg(long = "bt-bootstrap", value_name = "HOST:PORT", value_parser = super::parse_host_port)]
    pub bt_bootstrap: Vec<String>,
    /// Find torrents' peers only among the --bt-peers, not in the mainline DHT
    #[arg(long, conflicts_with = "bt_bootstrap")]
    pub no_bt_dht: bool,
    /// Serve the cached pieces of open torrents to BitTorrent peers on this address
    #[arg(long = "bt-listen", value_name = "ADDR:PORT")]
    pub bt_listen: Option<std::net::SocketAddr>,
    /// Run a full mainline DHT node on this UDP address: it answers other
    /// nodes (they can join through it) instead of only asking
    #[arg(
        long = "bt-dht-listen",
        value_name = "ADDR:PORT",
        conflicts_with = "no_bt_dht"
    )]
    pub bt_dht_listen: Option<std::net::SocketAddr>,
    /// No torrents in the mount: a 40-hex root name is an LBRY name like any other
    #[arg(long, conflicts_with_all = ["bt_peers", "bt_bootstrap", "no_bt_dht", "bt_listen", "bt_dht_listen"])]
    pub no_bt: bool,
    /// Fail a read (EIO) that cannot be served within this many seconds
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub read_timeout: u64,
    /// Let other users read the mount (root, or user_allow_other in /etc/fuse.conf)
    #[arg(long)]
    pub allow_other: bool,
    /// Go to the background once the mount is usable: exit 0 then, or 1 with the reason
    #[arg(long)]
    pub daemon: bool,
    /// Write the log to FILE, rotated to FILE.1 at 10 MiB
    /// [default with --daemon: <data-dir>/lbrymount.log; otherwise stderr]
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// Started by mount(8) from an fstab line (`-o` options): `umount` is a
    /// clean stop. Not a flag: set from the form of the command line.
    #[arg(skip)]
    pub fstab: bool,
}

pub fn run(
    cfg: &Config,
    args: &MountArgs,
    hubs: Option<crate::hub::HubConfig>,
    net: super::NetFlags,
) -> anyhow::Result<()> {
    let Some(mp) = &args.mountpoint else {
        bail!("no mountpoint given (try `lbrymount --help`)");
    };
    let mut node = args.node.options(cfg, args.peers.clone(), hubs);
    net.apply(&mut node);
    crate::node::mount(MountConfig {
        node,
        mountpoint: mp.clone(),
        read_timeout: Duration::from_secs(args.read_timeout),
        allow_other: args.allow_other,
        on_ready: Some(crate::node::OnReady(std::sync::Arc::new(
            super::ready::mounted,
        ))),
        umount_stops: args.fstab,
        bt: (!args.no_bt).then(|| crate::node::torrents::BtConfig {
            peers: args.bt_peers.clone(),
            dht: (!args.no_bt_dht).then(|| args.bt_bootstrap.clone()),
            listen: args.bt_listen,
            dht_listen: args.bt_dht_listen,
        }),
    })
}
