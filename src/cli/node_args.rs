//! The flags every long-running node takes (`serve` and the mount), turned
//! into a [`NodeConfig`].

use crate::config::Config;
use crate::fetch::FetchConfig;
use crate::node::{Bootstrap, NodeConfig};
use crate::reflector::ReflectorConfig;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct NodeArgs {
    /// Address and TCP port of the blob server (4444 is the LBRY default)
    #[arg(long, value_name = "ADDR:PORT", default_value = "0.0.0.0:4444")]
    pub listen: SocketAddr,
    /// Most connections served at once; further ones are closed at once until one ends
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub max_connections: u32,
    /// UDP address of the DHT node (LBRY peers expect the same port number as --listen)
    #[arg(long, value_name = "ADDR:PORT", default_value = "0.0.0.0:4444")]
    pub dht_listen: SocketAddr,
    /// Run no DHT node: serve only peers that know our address, announce nothing
    #[arg(long, conflicts_with_all = ["bootstrap", "no_bootstrap"])]
    pub no_dht: bool,
    /// Join the DHT through this node (UDP; repeatable) instead of LBRY's public bootstrap list
    #[arg(long = "bootstrap", value_name = "HOST:PORT", value_parser = super::parse_host_port)]
    pub bootstrap: Vec<String>,
    /// Join through no node: wait to be found (the first node of a private network)
    #[arg(long, conflicts_with = "bootstrap")]
    pub no_bootstrap: bool,
    /// Share folder: files copied into it are published [default: <data-dir>/share]
    #[arg(long, value_name = "DIR")]
    pub share: Option<PathBuf>,
    /// Watch no share folder
    #[arg(long, conflicts_with = "share")]
    pub no_share: bool,
    /// Be a reflector: accept stream uploads (lbry-sdk's reflector protocol) on this TCP address
    #[arg(long, value_name = "ADDR:PORT")]
    pub reflector_listen: Option<SocketAddr>,
    /// Refuse reflector uploads that would bring the store's pinned blobs over this size, e.g. 100G
    #[arg(long, value_name = "SIZE", requires = "reflector_listen", value_parser = super::parse_size_arg)]
    pub reflector_max_size: Option<u64>,
    /// Upload every stream this node publishes to a reflector, in the background, with retries
    #[arg(long)]
    pub reflect: bool,
    /// The reflector --reflect uploads to [default: reflector.lbry.com:5566]
    #[arg(long, value_name = "HOST:PORT", requires = "reflect", value_parser = super::parse_host_port)]
    pub reflector: Option<String>,
    /// Most bytes per second sent to peers, all connections together, e.g. 500K or 10M; 0: no limit
    #[arg(long, value_name = "RATE", default_value = "0", value_parser = super::parse_size_arg)]
    pub max_upload_rate: u64,
    /// Most blob bytes per second received from peers, all connections together; 0: no limit
    #[arg(long, value_name = "RATE", default_value = "0", value_parser = super::parse_size_arg)]
    pub max_download_rate: u64,
}

impl NodeArgs {
    /// The node these flags ask for, on `cfg`'s data dir; `peers` come from
    /// the command's own flags. (The mount sets the fetch deadline from its
    /// read timeout; the global flags set trackers and LAN discovery.)
    pub fn options(
        &self,
        cfg: &Config,
        peers: Vec<String>,
        hubs: Option<crate::hub::HubConfig>,
    ) -> NodeConfig {
        let bootstrap = if self.no_bootstrap {
            Bootstrap::None
        } else if self.bootstrap.is_empty() {
            Bootstrap::Default
        } else {
            Bootstrap::Nodes(self.bootstrap.clone())
        };
        NodeConfig {
            data: cfg.clone(),
            listen: self.listen,
            max_connections: self.max_connections as usize,
            dht_listen: (!self.no_dht).then_some(self.dht_listen),
            bootstrap,
            peers,
            fetch_deadline: FetchConfig::default().deadline,
            hubs,
            trackers: Vec::new(),
            reach: crate::node::Reach::default(),
            share_dir: (!self.no_share).then(|| {
                self.share
                    .clone()
                    .unwrap_or_else(|| cfg.data_dir.join("share"))
            }),
            lan: true,
            reflector: self
                .reflector_listen
                .map(|a| ReflectorConfig::new(a, self.reflector_max_size)),
            upnp: None,
            reflect: self.reflect.then(|| {
                self.reflector
                    .clone()
                    .unwrap_or_else(|| super::reflect::DEFAULT_REFLECTOR.to_string())
            }),
            max_upload_rate: self.max_upload_rate,
            max_download_rate: self.max_download_rate,
        }
    }
}
