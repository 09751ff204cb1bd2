//! A hundred real DHT nodes on 127.0.0.1 in one process: join, announce,
//! find from everywhere, then lose 30% of the nodes and find again.

use lbrymount::dht::{Node, NodeConfig, RpcConfig};
use lbrymount::hash::{BlobHash, NodeId};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

const NODES: usize = 100;
const KEYS: usize = 10;
const DROP: usize = 30;
/// Lookups run at once, so the two cores are busy but not swamped.
const CONCURRENCY: usize = 50;

fn config(seed: u64) -> NodeConfig {
    NodeConfig {
        rpc: RpcConfig {
            // Short, so the dead-node phase is quick; lookups tolerate the
            // occasional late answer on a loaded machine.
            timeout: Duration::from_millis(400),
            ..RpcConfig::default()
        },
        ping_back_delay: Duration::ZERO,
        node_id: Some(lbrymount::hash::NodeId::digest(&seed.to_be_bytes())),
        ..NodeConfig::default()
    }
}

struct Round {
    found: usize,
    total: usize,
    rounds: Vec<u32>,
    millis: Vec<u128>,
}

/// Every node in `nodes` looks up every key announced by another node (a
/// responder leaves out the requester's own announcement, as lbry-sdk does);
/// counts the lookups that return the announced address.
async fn find_all(nodes: &[Arc<Node>], keys: &[(BlobHash, SocketAddr, NodeId)]) -> Round {
    let mut jobs: Vec<(Arc<Node>, BlobHash, SocketAddr)> = Vec::new();
    for n in nodes {
        for &(k, addr, announcer) in keys {
            if n.id() != announcer {
                jobs.push((n.clone(), k, addr));
            }
        }
    }
    let total = jobs.len();
    let mut r = Round {
        found: 0,
        total,
        rounds: Vec::new(),
        millis: Vec::new(),
    };
    let mut set = JoinSet::new();
    let mut jobs = jobs.into_iter();
    loop {
        while set.len() < CONCURRENCY {
            let Some((n, k, addr)) = jobs.next() else {
                break;
            };
            set.spawn(async move {
                let t = Instant::now();
                let (peers, stats) = n.find_peers_with_stats(k).await;
                (peers.contains(&addr), stats.rounds, t.elapsed().as_millis())
            });
        }
        let Some(res) = set.join_next().await else {
            break;
        };
        let (ok, rounds, ms) = res.expect("lookup task");
        r.found += usize::from(ok);
        r.rounds.push(rounds);
        r.millis.push(ms);
    }
    r
}

fn median<T: Ord + Copy + Default>(v: &mut [T]) -> T {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn report(label: &str, r: &mut Round) -> f64 {
    let frac = r.found as f64 / r.total as f64;
    eprintln!(
        "{label}: {}/{} lookups found the peer ({:.1}%), median {} rounds, median {} ms",
        r.found,
        r.total,
        frac * 100.0,
        median(&mut r.rounds),
        median(&mut r.millis)
    );
    frac
}

async fn scenario() {
    let mut rng = StdRng::seed_from_u64(0x1b7);
    let local: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut nodes: Vec<Arc<Node>> = Vec::new();
    for i in 0..NODES {
        let node = Arc::new(Node::bind(local, config(i as u64)).await.expect("bind"));
        if i > 0 {
            let via = nodes[rng.gen_range(0..i)].local_addr();
            node.join(&[via]).await.expect("join");
        }
        nodes.push(node);
    }
    let sizes: Vec<usize> = nodes.iter().map(|n| n.routing_len()).collect();
    eprintln!(
        "routing tables: min {} max {}",
        sizes.iter().min().unwrap(),
        sizes.iter().max().unwrap()
    );

    let mut keys = Vec::new();
    for k in 0..KEYS {
        let blob = BlobHash::digest(format!("key {k}").as_bytes());
        let port = 3000 + k as u16;
        let from = &nodes[rng.gen_range(0..NODES)];
        let stored = from.announce(blob, port).await.expect("announce");
        assert!(stored >= 5, "only {stored} stores for key {k}");
        keys.push((blob, SocketAddr::from(([127, 0, 0, 1], port)), from.id()));
    }

    let mut all = find_all(&nodes, &keys).await;
    let frac = report("all nodes up", &mut all);
    assert!(frac >= 0.95, "found {:.3}", frac);

    nodes.shuffle(&mut rng);
    let dead: Vec<Arc<Node>> = nodes.drain(..DROP).collect();
    for n in &dead {
        n.shutdown();
    }
    drop(dead);
    let mut after = find_all(&nodes, &keys).await;
    let frac = report("after dropping 30%", &mut after);
    assert!(frac >= 0.95, "found {:.3}", frac);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_nodes_announce_and_find() {
    tokio::time::timeout(Duration::from_secs(120), scenario())
        .await
        .expect("the scenario hung");
}
