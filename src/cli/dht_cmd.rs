//! `lbrymount dht …`: every DHT operation from the command line, for people
//! who study or debug the network. Each runs a short-lived node, joins through
//! the bootstrap nodes, does one thing and prints what came back with timings.
//!
//! The output is for people and for grep alike: one record per line, fields
//! separated by two spaces, summaries on lines starting with `#`, and in the
//! lookups one `answered` line per node that answered, with its round-trip
//! time, before the results.

use crate::dht::{LookupReport, Node};
use crate::hash::{BlobHash, NodeId};
use crate::node::oneshot::dht_node;
use crate::node::{bootstrap_addrs, resolve, Bootstrap};
use anyhow::Context;
use clap::Subcommand;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Subcommand)]
pub enum DhtCommand {
    /// Ping a DHT node; print its node id and the round-trip time
    Ping {
        /// The node's UDP address
        #[arg(value_name = "HOST:PORT")]
        addr: String,
    },
    /// Look up the nodes closest to an id; print who answered (with round-trip
    /// times), then each result with its address
    FindNode {
        /// A node id or key (96 hex characters; 40 with --mainline)
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Look up the peers announced for a blob (an infohash with --mainline);
    /// print who answered (with round-trip times), then the peers' TCP addresses
    #[command(alias = "get-peers")]
    FindPeers {
        /// A blob or sd hash (96 hex characters), or an infohash (40, with --mainline)
        #[arg(value_name = "HASH")]
        hash: String,
    },
    /// Announce that a blob (or, with --mainline, a torrent) is served on a
    /// TCP port; print how many nodes stored it
    Announce {
        /// A blob or sd hash (96 hex characters), or an infohash (40, with --mainline)
        #[arg(value_name = "HASH")]
        hash: String,
        /// The TCP port it is served on (with --mainline, 0 means the port our queries come from)
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(0..65535))]
        tcp_port: u16,
    },
    /// Join, then print the routing table
    Table,
    /// (--mainline) Ask nodes for a sample of the infohashes they hold (BEP 51):
    /// the node given, or the nodes closest to a random id
    SampleInfohashes {
        /// Ask only this node
        #[arg(value_name = "HOST:PORT")]
        addr: Option<String>,
    },
    /// (--mainline) Walk the DHT and write every node ever seen as JSON lines
    /// (id, addr, first/last seen, best RTT, answered)
    Crawl {
        /// Stop recording new nodes after this many
        #[arg(long, value_name = "N", default_value_t = 10_000)]
        max_nodes: usize,
        /// Queries in flight at once
        #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=1024))]
        concurrency: u16,
        /// Give up after this many seconds
        #[arg(long, value_name = "SECS", default_value_t = 300)]
        duration: u64,
        /// Write the JSON lines here instead of standard output
        #[arg(long, short = 'o', value_name = "FILE")]
        out: Option<std::path::PathBuf>,
    },
    /// (--mainline) Run a node that answers and keeps its table fresh, until
    /// interrupted; prints its address and id
    Serve {
        /// The UDP address to listen on
        #[arg(long, value_name = "ADDR:PORT", default_value = "0.0.0.0:6881")]
        listen: SocketAddr,
    },
}

const MAINLINE_ONLY: &str = "this command is for BitTorrent's mainline DHT: add --mainline";

/// Refuses a malformed id before anything is sent.
fn check_ids(cmd: &DhtCommand, mainline: bool) -> anyhow::Result<()> {
    let id = match cmd {
        DhtCommand::FindNode { id } => id,
        DhtCommand::FindPeers { hash } | DhtCommand::Announce { hash, .. } => hash,
        _ => return Ok(()),
    };
    if mainline {
        crate::mainline::parse_id(id).map_err(|e| anyhow::anyhow!(e))?;
    } else {
        parse_id(id)?;
    }
    if let DhtCommand::Announce { tcp_port: 0, .. } = cmd {
        anyhow::ensure!(mainline, "--tcp-port must be 1 to 65534");
    }
    Ok(())
}

fn parse_id(s: &str) -> anyhow::Result<NodeId> {
    s.parse::<NodeId>()
        .map_err(|e| anyhow::anyhow!("{s:?}: {e}"))
}

pub fn run(cmd: DhtCommand, bootstrap: &[String], mainline: bool) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    check_ids(&cmd, mainline)?;
    if mainline {
        return rt.block_on(super::dht_mainline::run(cmd, bootstrap));
    }
    if let DhtCommand::SampleInfohashes { .. }
    | DhtCommand::Crawl { .. }
    | DhtCommand::Serve { .. } = cmd
    {
        anyhow::bail!("{}", MAINLINE_ONLY);
    }
    rt.block_on(async move {
        // `ping` talks to the one node it names: no bootstrap list is
        // consulted, so nothing else is resolved or contacted.
        let (seeds, joined) = match &cmd {
            DhtCommand::Ping { addr } => (resolve(std::slice::from_ref(addr)).await?, false),
            _ => {
                let chosen = match bootstrap {
                    [] => Bootstrap::Default,
                    specs => Bootstrap::Nodes(specs.to_vec()),
                };
                (bootstrap_addrs(&chosen).await?, true)
            }
        };
        let node = dht_node(&seeds, joined).await?;
        if joined && node.routing_len() == 0 {
            anyhow::bail!("no DHT node answered (give a reachable --bootstrap HOST:PORT)");
        }
        act(&node, cmd, &seeds).await
    })
}

/// Does what `cmd` asks with `node` and prints the answer.
async fn act(node: &Arc<Node>, cmd: DhtCommand, seeds: &[SocketAddr]) -> anyhow::Result<()> {
    let t = Instant::now();
    match cmd {
        DhtCommand::Ping { .. } => ping(node, seeds[0], t).await,
        DhtCommand::FindNode { id } => {
            let id = parse_id(&id)?;
            let (found, report) = node.find_node_with_report(id).await;
            print_report(&report, found.len(), "nodes", t);
            for c in found {
                println!("{}  {}", c.id, c.addr);
            }
            Ok(())
        }
        DhtCommand::FindPeers { hash } => {
            let hash = parse_id(&hash)?;
            let (peers, report) = node
                .find_peers_with_report(BlobHash::from_bytes(*hash.as_bytes()))
                .await;
            print_report(&report, peers.len(), "peers", t);
            for p in peers {
                println!("{p}");
            }
            Ok(())
        }
        DhtCommand::Announce { hash, tcp_port } => {
            let hash = parse_id(&hash)?;
            let n = node
                .announce(BlobHash::from_bytes(*hash.as_bytes()), tcp_port)
                .await?;
            println!("stored on {n} nodes in {} ms", t.elapsed().as_millis());
            Ok(())
        }
        DhtCommand::Table => {
            let contacts = node.contacts();
            println!("# own id {}, {} contacts", node.id(), contacts.len());
            for c in contacts {
                println!("{}  {}", c.id, c.addr);
            }
            Ok(())
        }
        DhtCommand::SampleInfohashes { .. }
        | DhtCommand::Crawl { .. }
        | DhtCommand::Serve { .. } => {
            anyhow::bail!("{}", MAINLINE_ONLY)
        }
    }
}

/// `answered  ID8  ADDR  RTT ms` per responder, in the order they answered,
/// then `# N WHAT in MS ms (counters)`.
fn print_report(report: &LookupReport, n: usize, what: &str, t: Instant) {
    for r in &report.responders {
        println!(
            "answered  {}  {}  {} ms",
            r.contact.id.short(),
            r.contact.addr,
            r.rtt.as_millis()
        );
    }
    let s = &report.stats;
    println!(
        "# {n} {what} in {} ms ({} queries, {} answers, {} timeouts, {} rounds)",
        t.elapsed().as_millis(),
        s.queries,
        s.responses,
        s.timeouts,
        s.rounds
    );
}

async fn ping(node: &Arc<Node>, addr: SocketAddr, t: Instant) -> anyhow::Result<()> {
    let id = node
        .ping(addr)
        .await
        .with_context(|| format!("{addr} did not answer"))?;
    println!("{id}  {addr}  {} ms", t.elapsed().as_millis());
    Ok(())
}
