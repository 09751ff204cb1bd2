//! `lbrymount dht …`: every DHT operation from the command line, for people
//! who study or debug the network. Each runs a short-lived node, joins through
//! the bootstrap nodes, does one thing and prints what came back with timings.

use super::dht::{client_bind, resolve, start};
use crate::dht::Node;
use crate::hash::{BlobHash, NodeId};
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
    /// Look up the nodes closest to an id; print each with its address
    FindNode {
        /// A node id or key (96 lowercase hex characters)
        #[arg(value_name = "ID", value_parser = parse_id)]
        id: NodeId,
    },
    /// Look up the peers announced for a blob; print their TCP addresses
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
        let mut seeds = resolve(bootstrap).await?;
        if let DhtCommand::Ping { addr } = &cmd {
            seeds = resolve(std::slice::from_ref(addr)).await?;
        }
        let joined = !matches!(cmd, DhtCommand::Ping { .. });
        let node = start(client_bind(&seeds), if joined { &seeds } else { &[] }, None).await?;
        if joined && node.routing_len() == 0 {
            anyhow::bail!("no DHT node answered (give a reachable --bootstrap HOST:PORT)");
        }
        let t = Instant::now();
        match cmd {
            DhtCommand::Ping { .. } => ping(&node, seeds[0], t).await,
            DhtCommand::FindNode { id } => {
                let found = node.find_node(id).await;
                println!("# {} nodes in {} ms", found.len(), t.elapsed().as_millis());
                for c in found {
                    println!("{}  {}", c.id, c.addr);
                }
                Ok(())
            }
            DhtCommand::FindPeers { hash } => {
                let (peers, stats) = node
                    .find_peers_with_stats(BlobHash::from_bytes(*hash.as_bytes()))
                    .await;
                println!(
                    "# {} peers in {} ms ({} queries, {} answers, {} timeouts, {} rounds)",
                    peers.len(),
                    t.elapsed().as_millis(),
                    stats.queries,
                    stats.responses,
                    stats.timeouts,
                    stats.rounds
                );
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
    })
}

async fn ping(node: &Arc<Node>, addr: SocketAddr, t: Instant) -> anyhow::Result<()> {
    let id = node
        .ping(addr)
        .await
        .with_context(|| format!("{addr} did not answer"))?;
    println!("{id}  {addr}  {} ms", t.elapsed().as_millis());
    Ok(())
}
