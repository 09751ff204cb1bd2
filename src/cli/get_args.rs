//! `get`'s flags, and which download they start: a stream by sd hash or
//! URL (`get`), or a torrent by magnet, `btih:`, `.torrent` file, or an
//! LBRY claim whose source is a torrent (`get_torrent`).

use super::{get, get_torrent, names, parse_get_target, parse_host_port};
use crate::config::Config;
use crate::hub::HubConfig;
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct GetArgs {
    /// The stream: its sd hash (96 lowercase hex characters) or an LBRY URL (`lbry://@chan/name`);
    /// or a torrent: a magnet link, btih:INFOHASH or a .torrent file (written into a directory)
    #[arg(value_name = "SD_HASH|URL|MAGNET|FILE.torrent", value_parser = parse_get_target)]
    pub stream: String,
    /// Where to write the file (replaced only if a regular file), a directory to add it to,
    /// or - for standard output [default: the descriptor's name, made visible, in the current directory]
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Use only blobs already in the local store; never touch the network
    #[arg(long, conflicts_with = "peers")]
    pub offline: bool,
    /// A peer to fetch blobs from (repeatable)
    #[arg(long = "peer", value_name = "HOST:PORT", value_parser = parse_host_port)]
    pub peers: Vec<String>,
    /// Find the stream's peers in the DHT, joining through this DHT node (UDP; repeatable)
    /// [default without --peer: LBRY's public bootstrap list]
    #[arg(long = "bootstrap", value_name = "HOST:PORT", value_parser = parse_host_port, conflicts_with = "offline")]
    pub bootstrap: Vec<String>,
    /// Do not look in LBRY's public DHT: use only --peer and the local store
    #[arg(long, conflicts_with_all = ["bootstrap", "offline"])]
    pub no_bootstrap: bool,
    /// Give up on a blob after this many seconds without success from any peer
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub timeout: u64,
}

/// Runs the download `args` name.
pub fn run(
    cfg: &Config,
    hub: Option<HubConfig>,
    net: &super::NetFlags,
    args: GetArgs,
    show_progress: bool,
) -> anyhow::Result<()> {
    let source = match get_torrent::is_torrent(&args.stream) {
        true => names::Source::Torrent(args.stream.clone()),
        false => names::source_of(hub, &args.stream)?,
    };
    let sd_hash = match source {
        names::Source::Stream(sd) => sd,
        names::Source::Torrent(target) => {
            return get_torrent::run(get_torrent::TorrentGet {
                target,
                output: args.output,
                offline: args.offline,
                peers: args.peers,
                bootstrap: args.bootstrap,
                no_bootstrap: args.no_bootstrap,
                timeout: std::time::Duration::from_secs(args.timeout),
                show_progress,
            })
        }
    };
    get::run(
        cfg,
        get::GetRequest {
            sd_hash,
            output: args.output,
            offline: args.offline,
            peers: args.peers,
            bootstrap: args.bootstrap,
            no_bootstrap: args.no_bootstrap,
            timeout_secs: args.timeout,
            show_progress,
            reach: net.reach.clone(),
        },
    )
}
