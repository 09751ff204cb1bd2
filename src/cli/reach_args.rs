//! The flags for blob sources beyond the DHT: lbry-sdk's fixed peers (the
//! fallback) and HTTP blob sources, turned into a [`Reach`]; and the
//! trackers' list. Global: the mount, `serve` and a one-shot `get` use them.

use crate::fetch::HttpUrl;
use crate::node::fixed_peers::DEFAULT_FIXED_PEERS;
use crate::node::Reach;

#[derive(Debug, Clone, clap::Args)]
pub struct ReachArgs {
    /// A blob server asked when the DHT and trackers give no usable peer within 2 s
    /// (lbry-sdk's fixed peer; repeatable) [default: cdn.reflector.lbry.com:5567]
    #[arg(long = "fixed-peer", global = true, value_name = "HOST:PORT", value_parser = super::parse_host_port)]
    pub fixed_peers: Vec<String>,

    /// Use no fixed peer (wins over --fixed-peer)
    #[arg(long, global = true)]
    pub no_fixed_peers: bool,

    /// An HTTP blob source asked for every blob as URL/blob?hash=HEX, as Odysee's blob storage
    /// serves it (http:// or https://; repeatable)
    #[arg(long = "blob-http", global = true, value_name = "URL", value_parser = parse_http_url)]
    pub blob_http: Vec<HttpUrl>,
}

impl ReachArgs {
    /// The sources these flags ask for: the fixed peers given, none with
    /// `--no-fixed-peers`, or lbry-sdk's default.
    pub fn reach(&self) -> Reach {
        let fixed_peers = if self.no_fixed_peers {
            Vec::new()
        } else if self.fixed_peers.is_empty() {
            DEFAULT_FIXED_PEERS.map(str::to_owned).to_vec()
        } else {
            self.fixed_peers.clone()
        };
        Reach {
            fixed_peers,
            blob_http: self.blob_http.clone(),
        }
    }
}

/// What the network flags chose for a node: trackers, fixed peers and HTTP
/// sources, LAN discovery, UPnP.
pub struct NetFlags {
    pub trackers: Vec<String>,
    pub reach: Reach,
    pub lan: bool,
    pub upnp: Option<crate::upnp::UpnpConfig>,
}

impl NetFlags {
    /// Puts these choices into a node's configuration.
    pub fn apply(self, node: &mut crate::node::NodeConfig) {
        node.trackers = self.trackers;
        node.reach = self.reach;
        node.lan = self.lan;
        node.upnp = self.upnp;
    }
}

impl super::Cli {
    /// The trackers a node uses: none with `--no-trackers`, those given,
    /// or LBRY's list.
    pub fn tracker_list(&self) -> Vec<String> {
        if self.no_trackers {
            Vec::new()
        } else if self.trackers.is_empty() {
            crate::tracker::DEFAULT_TRACKERS.map(str::to_owned).to_vec()
        } else {
            self.trackers.clone()
        }
    }
}

fn parse_http_url(s: &str) -> Result<HttpUrl, String> {
    HttpUrl::parse(s).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Args {
        #[command(flatten)]
        reach: ReachArgs,
    }

    fn reach(args: &[&str]) -> Reach {
        let mut argv = vec!["x"];
        argv.extend(args);
        Args::try_parse_from(argv).expect("parses").reach.reach()
    }

    #[test]
    fn the_default_fixed_peer_unless_told_otherwise() {
        assert_eq!(reach(&[]).fixed_peers, DEFAULT_FIXED_PEERS);
        let given = reach(&["--fixed-peer", "127.0.0.1:5567"]).fixed_peers;
        assert_eq!(given, ["127.0.0.1:5567"]);
        let none = reach(&["--fixed-peer", "127.0.0.1:5567", "--no-fixed-peers"]);
        assert!(none.fixed_peers.is_empty());
        let http = reach(&["--blob-http", "http://127.0.0.1:8080/"]).blob_http;
        assert_eq!(http[0].as_str(), "http://127.0.0.1:8080");
        assert!(Args::try_parse_from(["x", "--blob-http", "ftp://x"]).is_err());
    }
}
