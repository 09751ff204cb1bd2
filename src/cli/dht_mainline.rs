//! `lbrymount dht --mainline …`: BitTorrent's mainline DHT from the command
//! line, with the same output shape as the LBRY `dht` commands (one record
//! per line, two spaces between fields, `#` summaries, one `answered` line
//! per node with its round trip), plus `sample-infohashes`, `crawl` (JSON
//! lines) and `serve` (a long-running node, for experiments).

use super::dht_cmd::DhtCommand;
use crate::mainline::{self, crawl, CrawlConfig, Lookup, Node, NodeConfig};
use crate::node::resolve;
use crate::wire::krpc::Query;
use anyhow::Context;
use std::io::Write;
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub async fn run(cmd: DhtCommand, bootstrap: &[String]) -> anyhow::Result<()> {
    // Every command but `serve` is a short-lived client: read-only (BEP 43),
    // so it does not leave a dead entry in the tables it passed through.
    let (listen, read_only) = match &cmd {
        DhtCommand::Serve { listen } => (*listen, false),
        _ => (SocketAddr::from(([0, 0, 0, 0], 0)), true),
    };
    let node = Node::start(NodeConfig {
        listen,
        read_only,
        ..NodeConfig::default()
    })
    .await?;
    let t = Instant::now();
    match cmd {
        DhtCommand::Ping { addr } => ping(&node, &addr, t).await,
        DhtCommand::SampleInfohashes { addr: Some(addr) } => {
            let to = v4(&addr).await?;
            sample(&node, &[to]).await
        }
        DhtCommand::Serve { .. } => serve(&node, bootstrap).await,
        cmd => {
            let seeds = seeds(bootstrap).await?;
            if node.join(&seeds).await == 0 {
                anyhow::bail!(
                    "no mainline DHT node answered (give a reachable --bootstrap HOST:PORT)"
                );
            }
            act(&node, cmd, &seeds, t).await
        }
    }
}

async fn act(
    node: &Arc<Node>,
    cmd: DhtCommand,
    seeds: &[SocketAddrV4],
    t: Instant,
) -> anyhow::Result<()> {
    match cmd {
        DhtCommand::FindNode { id } => {
            let found = node.find_node(id20(&id)?).await;
            print_lookup(&found, found.closest.len(), "nodes", t);
            for r in &found.closest {
                println!("{}  {}", hex::encode(r.id), r.addr);
            }
        }
        DhtCommand::FindPeers { hash } => {
            let found = node.get_peers(id20(&hash)?).await;
            print_lookup(&found, found.peers.len(), "peers", t);
            for p in &found.peers {
                println!("{p}");
            }
        }
        DhtCommand::Announce { hash, tcp_port } => {
            let (n, _) = node.announce(id20(&hash)?, tcp_port).await?;
            println!("stored on {n} nodes in {} ms", t.elapsed().as_millis());
        }
        DhtCommand::Table => {
            let contacts = node.contacts();
            println!(
                "# own id {}, {} contacts",
                hex::encode(node.id()),
                contacts.len()
            );
            for (id, addr) in contacts {
                println!("{}  {addr}", hex::encode(id));
            }
        }
        DhtCommand::SampleInfohashes { .. } => {
            let found = node.find_node(mainline::random_id()).await;
            let near: Vec<_> = found.closest.iter().map(|r| r.addr).collect();
            sample(node, &near).await?;
        }
        DhtCommand::Crawl {
            max_nodes,
            concurrency,
            duration,
            out,
        } => {
            let cfg = CrawlConfig {
                max_nodes,
                concurrency: usize::from(concurrency),
                duration: Duration::from_secs(duration),
                ..CrawlConfig::default()
            };
            run_crawl(node, seeds, &cfg, out.as_deref()).await?;
        }
        DhtCommand::Ping { .. } | DhtCommand::Serve { .. } => {}
    }
    Ok(())
}

fn id20(s: &str) -> anyhow::Result<crate::wire::krpc::Id20> {
    mainline::parse_id(s).map_err(|e| anyhow::anyhow!(e))
}

async fn v4(spec: &str) -> anyhow::Result<SocketAddrV4> {
    match resolve(&[spec.to_string()]).await?.first() {
        Some(SocketAddr::V4(a)) => Ok(*a),
        _ => anyhow::bail!("{spec} has no IPv4 address (the mainline DHT is IPv4 only)"),
    }
}

async fn seeds(bootstrap: &[String]) -> anyhow::Result<Vec<SocketAddrV4>> {
    let mut out = Vec::new();
    if bootstrap.is_empty() {
        for spec in mainline::DEFAULT_BOOTSTRAP {
            match v4(spec).await {
                Ok(a) => out.push(a),
                Err(e) => tracing::warn!("skipping bootstrap node {spec}: {e:#}"),
            }
        }
    } else {
        for spec in bootstrap {
            out.push(v4(spec).await?);
        }
    }
    Ok(out)
}

async fn ping(node: &Arc<Node>, addr: &str, t: Instant) -> anyhow::Result<()> {
    let to = v4(addr).await?;
    let (r, rtt) = node
        .call(to, Query::Ping)
        .await
        .with_context(|| format!("{to} did not answer"))?;
    let _ = t;
    println!("{}  {to}  {} ms", hex::encode(r.id), rtt.as_millis());
    Ok(())
}

/// `answered  ID8  ADDR  RTT ms` per responder, then `# N WHAT in MS ms (…)`.
fn print_lookup(l: &Lookup, n: usize, what: &str, t: Instant) {
    for r in &l.responders {
        println!(
            "answered  {}  {}  {} ms",
            hex::encode(&r.id[..4]),
            r.addr,
            r.rtt.as_millis()
        );
    }
    println!(
        "# {n} {what} in {} ms ({} queries, {} answers, {} timeouts)",
        t.elapsed().as_millis(),
        l.queries,
        l.responders.len(),
        l.timeouts
    );
}

/// `INFOHASH` per sample, then `# N samples from M nodes (… held in all)`.
async fn sample(node: &Arc<Node>, nodes: &[SocketAddrV4]) -> anyhow::Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    let (mut asked, mut held) = (0, 0i64);
    for to in nodes {
        let target = mainline::random_id();
        match node.call(*to, Query::SampleInfohashes { target }).await {
            Ok((r, rtt)) => {
                asked += 1;
                held += r.num.unwrap_or(0);
                println!(
                    "answered  {}  {to}  {} ms  num={}",
                    hex::encode(&r.id[..4]),
                    rtt.as_millis(),
                    r.num.unwrap_or(0)
                );
                seen.extend(r.samples);
            }
            Err(e) => println!("failed  {to}  {e}"),
        }
    }
    for ih in &seen {
        println!("{}", hex::encode(ih));
    }
    println!(
        "# {} samples from {asked} nodes ({held} held in all)",
        seen.len()
    );
    anyhow::ensure!(asked > 0, "no node answered sample_infohashes");
    Ok(())
}

async fn run_crawl(
    node: &Arc<Node>,
    seeds: &[SocketAddrV4],
    cfg: &CrawlConfig,
    out: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let (seen, report) = crawl(node, seeds, cfg).await;
    let mut sink: Box<dyn Write> = match out {
        Some(p) => Box::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    for s in &seen {
        serde_json::to_writer(&mut sink, s)?;
        sink.write_all(b"\n")?;
    }
    sink.flush()?;
    let answered = seen.iter().filter(|s| s.answered).count();
    eprintln!(
        "# {} nodes seen, {answered} answered, in {} ms ({} queries, {} answers, {} timeouts)",
        seen.len(),
        report.elapsed.as_millis(),
        report.queries,
        report.answers,
        report.timeouts
    );
    Ok(())
}

/// Runs until SIGINT or SIGTERM, refreshing the table every few minutes.
async fn serve(node: &Arc<Node>, bootstrap: &[String]) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let seeds = seeds(bootstrap).await?;
    let addr = node.local_addr().context("the socket has no address")?;
    println!("# listening {addr} id {}", hex::encode(node.id()));
    let joined = node.join(&seeds).await;
    println!("# joined with {joined} contacts");
    let (mut int, mut term) = (
        signal(SignalKind::interrupt())?,
        signal(SignalKind::terminate())?,
    );
    let mut refresh = tokio::time::interval(Duration::from_secs(120));
    refresh.tick().await;
    loop {
        tokio::select! {
            _ = int.recv() => return Ok(()),
            _ = term.recv() => return Ok(()),
            _ = refresh.tick() => {
                if node.contacts().is_empty() {
                    node.join(&seeds).await;
                } else {
                    node.find_node(mainline::random_id()).await;
                }
            }
        }
    }
}
