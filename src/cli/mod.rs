//! The command line: clap types, turned into a validated [`Config`] and run.
//!
//! This is the binary's edge: errors become `anyhow` here, with context that
//! names the file, blob or peer concerned; `main` maps them to exit code 1.
//! clap itself exits with 2 on usage errors.

mod add;
mod config_file;
mod content;
pub mod daemon;
mod dht_cmd;
mod dht_mainline;
pub mod fstab;
mod get;
mod get_args;
mod get_net;
mod get_node;
mod get_torrent;
mod get_tree;
mod get_tree_node;
mod held;
mod interrupt;
pub mod log_file;
mod ls;
mod mount;
mod names;
mod node_args;
mod parse;
mod pin;
mod progress;
mod publish;
mod reach_args;
pub mod ready;
use reach_args::NetFlags;
mod reflect;
mod search;
mod serve;
mod service;
mod status;
mod unpublish;
mod upnp_args;

use crate::config::Config;
use clap::{Parser, Subcommand};
use parse::{parse_get_target, parse_host_port, parse_size_arg, parse_stream};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "lbrymount",
    version,
    args_override_self = true,
    override_usage = "lbrymount [OPTIONS] MOUNTPOINT\n       lbrymount [OPTIONS] <COMMAND>",
    about = "Mount the LBRY network as a filesystem; publish, fetch and serve LBRY streams",
    after_help = "Logs go to stderr; set RUST_LOG (e.g. RUST_LOG=lbrymount=debug) for finer control. See lbrymount(1)."
)]
pub struct Cli {
    /// Data directory holding blobfiles/ (lbrynet's layout), the lock and the pin list
    /// [default: $XDG_DATA_HOME/lbrymount or ~/.local/share/lbrymount]
    #[arg(long, global = true, env = "LBRYMOUNT_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Hard cap on cached (fetched) blobs, e.g. 512M or 10G; published blobs are not counted
    #[arg(long, global = true, value_name = "SIZE", default_value = "10G", value_parser = parse_size_arg)]
    pub cache_size: u64,

    /// More log output on stderr (-v: debug, -vv: trace)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only errors on stderr (no progress bars)
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// An LBRY hub (wallet server) to resolve names through, tried in order (repeatable)
    /// [default: the public hubs listed in lbrymount(1)]
    #[arg(long = "hub", global = true, value_name = "HOST:PORT", value_parser = parse_host_port)]
    pub hubs: Vec<String>,

    /// Resolve no names: contact no hub (wins over --hub)
    #[arg(long, global = true)]
    pub no_hub: bool,

    /// A BEP-15 UDP tracker to announce streams to and find peers through (repeatable)
    /// [default: LBRY's trackers listed in lbrymount(1)]
    #[arg(long = "tracker", global = true, value_name = "HOST:PORT", value_parser = parse_host_port)]
    pub trackers: Vec<String>,

    /// Use no tracker (wins over --tracker)
    #[arg(long, global = true)]
    pub no_trackers: bool,

    /// Neither find nodes on the LAN nor announce this node there: no multicast (mount and serve)
    #[arg(long, global = true, overrides_with = "lan")]
    pub no_lan: bool,

    /// Find nodes on the LAN and announce this node there: the default; wins over an earlier --no-lan
    #[arg(long, global = true, overrides_with = "no_lan")]
    pub lan: bool,
    #[command(flatten)]
    pub upnp: upnp_args::UpnpArgs,
    #[command(flatten)]
    pub reach: reach_args::ReachArgs,

    /// Without a command: mount the network at MOUNTPOINT
    #[command(flatten)]
    pub mount: mount::MountArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Publish files as LBRY streams: chunk, encrypt and store them (pinned), print `<sd_hash>  <file>`
    Publish {
        /// Files to publish
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Upload streams to a reflector (lbry-sdk's reflector protocol) so they stay available
    /// while this machine is offline; only blobs the reflector lacks are sent
    Reflect {
        /// The streams: sd hashes or LBRY URLs, each held in the local store
        #[arg(required = true, value_name = "SD_HASH|URL", value_parser = parse_stream)]
        streams: Vec<String>,
        /// The reflector to upload to [default: reflector.lbry.com:5566]
        #[arg(long, value_name = "HOST:PORT", value_parser = parse_host_port)]
        reflector: Option<String>,
    },
    /// Download a stream and write the original file
    Get(get_args::GetArgs),
    /// List the streams of the running node, or of the local store: sd hash, size, blobs present/total, file name
    Ls {
        /// Only this stream (sd hash or LBRY URL)
        #[arg(value_name = "SD_HASH|URL", value_parser = parse_stream)]
        stream: Option<String>,
        /// One JSON array of stream objects (fields in lbrymount(1))
        #[arg(long)]
        json: bool,
    },
    /// Resolve LBRY URLs through a hub: one `<sd_hash>  <size>  <file name>  <canonical URL>` line per URL
    Resolve {
        /// LBRY URLs (`lbry://@channel/name`, `name`, `name#claimid`; the scheme may be left out)
        #[arg(required = true, value_name = "URL")]
        urls: Vec<String>,
        /// Print everything the claim says, one JSON object per URL
        #[arg(long)]
        json: bool,
        /// Give up when the hubs have not answered within this many seconds
        #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
        timeout: u64,
    },
    /// Search stream names on lbrymount peers (through the DHT), in the local store and through a hub:
    /// one line per stream, `<sd_hash>  <size>  <file name>  <where from>`, best match first
    Search {
        /// Words to look for
        #[arg(value_name = "TEXT", required_unless_present = "channel")]
        text: Option<String>,
        /// Only streams signed by this channel (`@name`)
        #[arg(long, value_name = "@CHANNEL")]
        channel: Option<String>,
        /// How many claims to list at most
        #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
        /// Print everything each claim says, one JSON object per claim
        #[arg(long)]
        json: bool,
        /// Give up when the hubs have not answered within this many seconds
        #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
        timeout: u64,
        /// Without a running node: find peers in the DHT joining through this node (UDP; repeatable)
        /// [default: LBRY's public bootstrap list]
        #[arg(long = "bootstrap", value_name = "HOST:PORT", value_parser = parse_host_port)]
        bootstrap: Vec<String>,
        /// Without a running node: ask no DHT peers, only the local store and the hubs
        #[arg(long, conflicts_with = "bootstrap")]
        no_bootstrap: bool,
    },
    /// Show what the node running on the data dir is doing: peers, DHT, cache, streams, recent read errors
    Status {
        /// Only this stream: its row and the recent errors that name it (sd hash or LBRY URL)
        #[arg(value_name = "SD_HASH|URL", value_parser = parse_stream)]
        stream: Option<String>,
        #[command(flatten)]
        show: status::ShowArgs,
    },
    /// Talk to the LBRY DHT (or with --mainline, BitTorrent's) directly: ping, find-node, find-peers, announce, table, and for the mainline DHT sample-infohashes, crawl and serve
    Dht {
        /// BitTorrent's mainline DHT (BEP 5) instead of LBRY's
        #[arg(long, global = true)]
        mainline: bool,
        /// Join through this DHT node (UDP; repeatable) [default: LBRY's public bootstrap list, or with --mainline BitTorrent's usual routers]
        #[arg(long = "bootstrap", value_name = "HOST:PORT", value_parser = parse_host_port, global = true)]
        bootstrap: Vec<String>,
        #[command(subcommand)]
        command: dht_cmd::DhtCommand,
    },
    /// Serve the local store to LBRY peers over the blob-exchange protocol, and announce it in the DHT
    #[command(args_override_self = true)]
    Serve {
        #[command(flatten)]
        node: node_args::NodeArgs,
    },
    #[command(flatten)]
    Service(service::ServiceCommand),
    #[command(flatten)]
    Content(content::ContentCommand),
}

impl Cli {
    /// The hubs to resolve names through; `None` with `--no-hub`.
    pub fn hub_config(&self, cfg: &Config) -> Option<crate::hub::HubConfig> {
        (!self.no_hub)
            .then(|| crate::hub::HubConfig::new(self.hubs.clone(), Some(cfg.data_dir.clone())))
    }

    /// Builds the validated configuration from flags, environment and XDG defaults.
    pub fn config(&self) -> anyhow::Result<Config> {
        let env = |k| std::env::var_os(k).map(PathBuf::from);
        let data_dir = Config::resolve_data_dir(
            self.data_dir.as_deref(),
            env("XDG_DATA_HOME").as_deref(),
            env("HOME").as_deref(),
        )?;
        Ok(Config {
            data_dir,
            cache_bytes: self.cache_size,
        })
    }
}

/// Parses the command line again with the options of the data dir's config
/// file (`<data-dir>/config`) for the mount and `serve`; the command line wins.
/// Exits with a usage error (2) on a bad config file.
pub fn with_config_file(cli: Cli, argv: Vec<std::ffi::OsString>) -> anyhow::Result<Cli> {
    use clap::CommandFactory;
    let sub = match &cli.command {
        None => None,
        Some(Command::Serve { .. }) => Some("serve"),
        Some(Command::Resolve { .. }) => Some("resolve"),
        Some(Command::Search { .. }) => Some("search"),
        Some(_) => return Ok(cli),
    };
    let file = config_file::path(&cli.config()?.data_dir);
    let cmd = Cli::command();
    let args = match config_file::with_config(argv.clone(), &file, &cmd, sub) {
        Ok(a) => a,
        Err(e) => cmd
            .clone()
            .error(clap::error::ErrorKind::InvalidValue, e)
            .exit(),
    };
    if args == argv {
        return Ok(cli);
    }
    Ok(<Cli as clap::Parser>::try_parse_from(args).unwrap_or_else(|e| e.exit()))
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let cfg = cli.config()?;
    run_command(&cfg, cli).map_err(|e| explain_locked(e, &cfg))
}

/// A data dir held by another node: say what to do about it. (`ls`,
/// `status`, `publish` and `get` go through a running node's control
/// socket; this is for a second node, or a node without its socket.)
fn explain_locked(e: anyhow::Error, cfg: &Config) -> anyhow::Error {
    let locked = e.chain().any(|c| {
        matches!(
            c.downcast_ref(),
            Some(crate::store::StoreError::Locked { .. })
        )
    });
    if !locked {
        return e;
    }
    anyhow::anyhow!(
        "{e:#}; stop that node first, or give this command another --data-dir (`lbrymount --data-dir {} status` shows what the node is doing)",
        cfg.data_dir.display()
    )
}

fn run_command(cfg: &Config, cli: Cli) -> anyhow::Result<()> {
    let show_progress = !cli.quiet;
    let hub = cli.hub_config(cfg);
    let trackers = cli.tracker_list();
    let net = NetFlags {
        trackers,
        reach: cli.reach.reach(),
        lan: !cli.no_lan,
        upnp: cli.upnp.upnp(),
    };
    let Some(command) = cli.command else {
        return mount::run(cfg, &cli.mount, hub, net);
    };
    match command {
        Command::Publish { files } => publish::run(cfg, &files, show_progress),
        Command::Get(args) => get_args::run(cfg, hub, &net, args, show_progress),
        Command::Reflect { streams, reflector } => {
            let sds = streams
                .iter()
                .map(|s| names::sd_hash_of(hub.clone(), s))
                .collect::<anyhow::Result<Vec<_>>>()?;
            reflect::run(cfg, &sds, reflector, show_progress)
        }
        Command::Ls { stream, json } => ls::run(cfg, names::sd_hash_opt(hub, stream)?, json),
        Command::Resolve {
            urls,
            json,
            timeout,
        } => names::resolve(names::with_timeout(hub, timeout), &urls, json),
        Command::Search {
            text,
            channel,
            limit,
            json,
            timeout,
            bootstrap,
            no_bootstrap,
        } => match (text, channel) {
            (Some(text), None) => {
                let args = search::SearchArgs {
                    text,
                    limit,
                    json,
                    bootstrap,
                    no_bootstrap,
                };
                search::run(cfg, names::with_timeout(hub, timeout), args)
            }
            (text, channel) => {
                let q = crate::hub::SearchQuery {
                    text,
                    channel,
                    limit,
                    offset: 0,
                };
                names::search(names::with_timeout(hub, timeout), &q, json)
            }
        },
        Command::Status { stream, show } => {
            status::run(cfg, names::sd_hash_opt(hub, stream)?, &show)
        }
        Command::Dht {
            bootstrap,
            command,
            mainline,
        } => dht_cmd::run(command, &bootstrap, mainline),
        Command::Serve { node } => serve::run(cfg, &node, net),
        Command::Service(c) => service::run(c),
        Command::Content(c) => content::run(cfg, c, hub, net.reach),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
