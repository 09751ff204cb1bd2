//! `unpublish`, `pin`, `unpin`, `cache ls|drop` and `rate`: what the user
//! keeps, frees and shares, and how fast.
//!
//! Each asks the node running on the data dir over its control socket, or
//! else opens the store itself (`held`) and does the same through
//! `crate::content`; `rate` needs a running node (limits live in it).

use super::held::{node_or_store, Holder};
use crate::config::Config;
use crate::content;
use crate::control::client::Client;
use crate::control::{ContentRequest, Reply, Request};
use crate::hash::SdHash;
use crate::store::DiskStore;
use anyhow::{bail, Context};
use std::path::Path;

#[derive(Debug, clap::Subcommand)]
pub enum ContentCommand {
    /// Stop sharing a stream published here; a file of the share folder is left on disk
    /// and is not published again while it is unchanged
    Unpublish {
        /// The stream's sd hash, or a file in the share folder
        #[arg(value_name = "SD_HASH|FILE")]
        target: String,
    },
    /// Fetch a stream (if needed) and keep it whatever the cache pressure
    Pin {
        /// The stream: its sd hash or an LBRY URL
        #[arg(value_name = "SD_HASH|URL", value_parser = super::parse_stream)]
        stream: String,
        /// A peer to fetch blobs from (repeatable)
        #[arg(long = "peer", value_name = "HOST:PORT", value_parser = super::parse_host_port)]
        peers: Vec<String>,
        /// Without a running node: do not look in LBRY's public DHT, only --peer and the store
        #[arg(long)]
        no_bootstrap: bool,
        /// Give up on a blob after this many seconds without success from any peer
        #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86400))]
        timeout: u64,
    },
    /// Let a pinned stream's blobs be evicted again (they stay cached until then)
    Unpin {
        /// The stream: its sd hash or an LBRY URL
        #[arg(value_name = "SD_HASH|URL", value_parser = super::parse_stream)]
        stream: String,
    },
    /// See and free the cache
    Cache {
        #[command(subcommand)]
        command: CacheCommand,
    },
    /// Show a torrent in the running mount (a magnet link, btih:INFOHASH or a .torrent file)
    /// and print its path there; with no node running, keep a .torrent file for the next mount
    Add {
        #[arg(value_name = "MAGNET|FILE.torrent")]
        source: String,
        /// A BitTorrent peer for this torrent, besides the mount's (repeatable)
        #[arg(long = "peer", value_name = "HOST:PORT", value_parser = super::parse_host_port)]
        peers: Vec<String>,
    },
    /// Change the running node's rate limits (bytes per second, e.g. 500K or 10M; 0: no limit)
    Rate {
        /// Most bytes per second sent to peers
        #[arg(long, value_name = "RATE", value_parser = super::parse_size_arg)]
        upload: Option<u64>,
        /// Most blob bytes per second received from peers
        #[arg(long, value_name = "RATE", value_parser = super::parse_size_arg)]
        download: Option<u64>,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum CacheCommand {
    /// List the streams in the store: sd hash, bytes held, published/pinned/cached, file name
    Ls {
        /// One JSON array of stream objects (fields in lbrymount(1))
        #[arg(long)]
        json: bool,
    },
    /// Free a cached stream's blobs, or every cached blob; never published or pinned ones
    Drop {
        /// The stream to drop
        #[arg(
            value_name = "SD_HASH",
            required_unless_present = "all",
            conflicts_with = "all"
        )]
        sd_hash: Option<SdHash>,
        /// Every cached blob (published and pinned streams stay)
        #[arg(long)]
        all: bool,
    },
}

pub fn run(
    cfg: &Config,
    cmd: ContentCommand,
    hub: Option<crate::hub::HubConfig>,
    reach: crate::node::Reach,
) -> anyhow::Result<()> {
    match cmd {
        ContentCommand::Unpublish { target } => unpublish(cfg, &target),
        ContentCommand::Pin {
            stream,
            peers,
            no_bootstrap,
            timeout,
        } => {
            let sd = super::names::sd_hash_of(hub, &stream)?;
            let pin = super::pin::PinRequest {
                sd,
                peers,
                no_bootstrap,
                timeout_secs: timeout,
                reach,
            };
            super::pin::run(cfg, pin)
        }
        ContentCommand::Unpin { stream } => {
            let sd = super::names::sd_hash_of(hub, &stream)?;
            let req = ContentRequest::Unpin {
                sd_hash: sd.to_string(),
            };
            on_node_or_store(cfg, req, |store| {
                Ok(match content::unpin(store, &sd)? {
                    true => format!("unpinned {sd}"),
                    false => format!("{sd} was not pinned"),
                })
            })
        }
        ContentCommand::Cache { command } => cache(cfg, command),
        ContentCommand::Rate { upload, download } => rate(cfg, upload, download),
        ContentCommand::Add { source, peers } => super::add::run(cfg, &source, peers),
    }
}

fn cache(cfg: &Config, cmd: CacheCommand) -> anyhow::Result<()> {
    match cmd {
        CacheCommand::Ls { json } => {
            let rows = super::ls::rows(cfg)?;
            if json {
                return super::ls::print_json(&rows);
            }
            for r in rows {
                let state = super::ls::state_of(&r);
                let name = r.name.escape_debug();
                println!("{}  {}  {state}  {name}", r.sd_hash, r.stored_bytes);
            }
            Ok(())
        }
        CacheCommand::Drop { sd_hash, .. } => {
            let req = ContentRequest::CacheDrop {
                sd_hash: sd_hash.map(|s| s.to_string()),
            };
            on_node_or_store(cfg, req, |store| match sd_hash {
                Some(sd) => {
                    let bytes = content::drop_stream(store, &sd)?;
                    Ok(format!("dropped {sd} ({bytes} bytes)"))
                }
                None => {
                    let (blobs, bytes) = content::drop_all(store)?;
                    Ok(format!("dropped {blobs} blobs, {bytes} bytes"))
                }
            })
        }
    }
}

fn rate(cfg: &Config, upload: Option<u64>, download: Option<u64>) -> anyhow::Result<()> {
    let Some(node) = crate::control::client::connect(&cfg.data_dir)? else {
        bail!(
            "no lbrymount node is running on data dir {}; start one with --max-upload-rate/--max-download-rate",
            cfg.data_dir.display()
        );
    };
    match ask(node, ContentRequest::Rate { upload, download })? {
        Reply::Rates { upload, download } => {
            let show = |r: u64| {
                if r == 0 {
                    "unlimited".to_string()
                } else {
                    format!("{r} bytes/s")
                }
            };
            println!("upload: {}", show(upload));
            println!("download: {}", show(download));
            Ok(())
        }
        other => bail!("unexpected reply from the node: {other:?}"),
    }
}

/// `unpublish SD_HASH|FILE`: through the node, or on the store and the
/// share folder's lists when none runs.
fn unpublish(cfg: &Config, target: &str) -> anyhow::Result<()> {
    let (req_target, sd) = match target.parse::<SdHash>() {
        Ok(sd) => (sd.to_string(), Some(sd)),
        Err(_) => {
            let path = std::fs::canonicalize(target)
                .with_context(|| format!("{target} is neither an sd hash nor a file"))?;
            (path.to_string_lossy().into_owned(), None)
        }
    };
    let req = ContentRequest::Unpublish { target: req_target };
    on_node_or_store(cfg, req, |store| {
        let sd = match sd {
            Some(sd) => sd,
            None => super::unpublish::shared_file(cfg, Path::new(target))?,
        };
        content::check_published(store, &sd)?;
        super::unpublish::exclude_offline(cfg, &sd)?;
        store.remove(&content::stream_blobs(store, &sd))?;
        Ok(format!("unpublished {sd}"))
    })
}

/// Sends `req` to the node running on the data dir, or runs `offline` on
/// the store opened here; prints the message either way.
fn on_node_or_store(
    cfg: &Config,
    req: ContentRequest,
    offline: impl FnOnce(&DiskStore) -> anyhow::Result<String>,
) -> anyhow::Result<()> {
    let message = match node_or_store(cfg)? {
        Holder::Node(node) => match ask(node, req)? {
            Reply::Done { message } => message,
            other => bail!("unexpected reply from the node: {other:?}"),
        },
        Holder::Nobody(store) => offline(&store)?,
    };
    println!("{message}");
    Ok(())
}

/// One content request; the node's error becomes this command's error.
pub(super) fn ask(mut node: Client, req: ContentRequest) -> anyhow::Result<Reply> {
    match node.request(&Request::Content(req), |_| {})? {
        Reply::Error { message } => bail!("{message}"),
        reply => Ok(reply),
    }
}
