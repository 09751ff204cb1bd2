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
        /// A node id or key (96 lowercase hex characters)
        #[arg(value_name = "ID", value_parser = parse_id)]
        id: NodeId,
    },
    /// Look up the peers announced for a blob; print who answered (with
    /// round-trip times), then the peers' TCP addresses
    FindPeers {
        /// A blob or sd hash (96 lowercase hex characters)
        #[arg(value_name = "HASH", value_parser = parse_id)]
        hash: NodeId,
    },
    /// Announce that a blob is served on a TCP port; print how many nodes stored it
    Announce {
        /// A blob or sd hash (96 lowercase hex characters)
        #[arg(value_name = "HASH", value_parser = parse_id)]
        hash: NodeId,
        /// The TCP port the blob is served on
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..65535))]
        tcp_port: u16,
    },
    /// Join, then print the routing table
    Table,
}

fn parse_id(s: &str) -> Result<NodeId, String> {
    s.parse::<NodeId>().map_err(|e| e.to_string())
}

pub fn run(cmd: DhtCommand, bootstrap: &[String]) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
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
            let (found, report) = node.find_node_with_report(id).await;
            print_report(&report, found.len(), "nodes", t);
            for c in found {
                println!("{}  {}", c.id, c.addr);
            }
            Ok(())
        }
        DhtCommand::FindPeers { hash } => {
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
