//! `dht --mainline crawl`: walk the DHT and keep every node ever seen, for
//! research (in the spirit of LightDHT).
//!
//! Each node heard of is asked `find_node` for a random target; once it
//! answers (and so tells its id), it is asked again for targets that differ
//! from its id in bit 0, 1, … `probes-1`, which makes it list the nodes of
//! its buckets one by one. Every node named in an answer is recorded with
//! when it was first and last heard of, and, once it answers, its id and
//! best round trip. Bounded by `max_nodes`, `concurrency` and `duration`.

use super::node::Node;
use super::random_id;
use crate::wire::krpc::{Id20, Query};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddrV4;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::task::JoinSet;

#[derive(Debug, Clone)]
pub struct CrawlConfig {
    /// Stop recording new nodes after this many.
    pub max_nodes: usize,
    /// Queries in flight at once.
    pub concurrency: usize,
    /// Bucket probes per answering node.
    pub probes: usize,
    /// Give up after this long.
    pub duration: Duration,
}

impl Default for CrawlConfig {
    fn default() -> Self {
        Self {
            max_nodes: 10_000,
            concurrency: 64,
            probes: 16,
            duration: Duration::from_secs(300),
        }
    }
}

/// One node the crawl heard of (a JSON line of the output).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Seen {
    /// Its id as it answered, or as the node that named it said.
    pub id: Option<String>,
    pub addr: String,
    pub first_seen_ms: u64,
    pub last_seen_ms: u64,
    /// Its best round trip, if it ever answered.
    pub rtt_ms: Option<f64>,
    pub answered: bool,
}

/// What a crawl did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub queries: usize,
    pub answers: usize,
    pub timeouts: usize,
    pub elapsed: Duration,
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

struct Walk {
    seen: HashMap<SocketAddrV4, Seen>,
    order: Vec<SocketAddrV4>,
    jobs: VecDeque<(SocketAddrV4, Id20)>,
    max: usize,
}

impl Walk {
    fn heard(&mut self, addr: SocketAddrV4, id: Option<Id20>) {
        let now = unix_ms();
        if let Some(s) = self.seen.get_mut(&addr) {
            s.last_seen_ms = now;
            return;
        }
        if self.seen.len() >= self.max || addr.port() == 0 {
            return;
        }
        let id = id.map(hex::encode);
        let rec = Seen {
            id,
            addr: addr.to_string(),
            first_seen_ms: now,
            last_seen_ms: now,
            rtt_ms: None,
            answered: false,
        };
        self.seen.insert(addr, rec);
        self.order.push(addr);
        self.jobs.push_back((addr, random_id()));
    }

    /// `addr` answered with `id`; the first answer queues its bucket probes.
    fn answered(&mut self, addr: SocketAddrV4, id: Id20, rtt: Duration, probes: usize) {
        let Some(s) = self.seen.get_mut(&addr) else {
            return;
        };
        let ms = rtt.as_secs_f64() * 1000.0;
        s.rtt_ms = Some(s.rtt_ms.map_or(ms, |r| r.min(ms)));
        s.last_seen_ms = unix_ms();
        s.id = Some(hex::encode(id));
        if !std::mem::replace(&mut s.answered, true) {
            for bit in 0..probes.min(160) {
                let mut t = id;
                t[bit / 8] ^= 0x80 >> (bit % 8);
                self.jobs.push_back((addr, t));
            }
        }
    }
}

/// Crawls from `seeds` through `node`; every node heard of, in the order first heard.
pub async fn crawl(
    node: &Arc<Node>,
    seeds: &[SocketAddrV4],
    cfg: &CrawlConfig,
) -> (Vec<Seen>, Report) {
    let started = Instant::now();
    let mut walk = Walk {
        seen: HashMap::new(),
        order: Vec::new(),
        jobs: VecDeque::new(),
        max: cfg.max_nodes,
    };
    for s in seeds {
        walk.heard(*s, None);
    }
    let mut report = Report::default();
    let mut asks = JoinSet::new();
    let deadline = started + cfg.duration;
    loop {
        while asks.len() < cfg.concurrency.max(1) && Instant::now() < deadline {
            let Some((addr, target)) = walk.jobs.pop_front() else {
                break;
            };
            let me = node.clone();
            asks.spawn(async move { (addr, me.call(addr, Query::FindNode { target }).await) });
            report.queries += 1;
        }
        let Some(done) = asks.join_next().await else {
            break;
        };
        let Ok((addr, answer)) = done else { continue };
        match answer {
            Ok((r, rtt)) => {
                report.answers += 1;
                walk.answered(addr, r.id, rtt, cfg.probes);
                for (id, a) in r.nodes {
                    if id != node.id() {
                        walk.heard(a, Some(id));
                    }
                }
            }
            Err(_) => report.timeouts += 1,
        }
    }
    report.elapsed = started.elapsed();
    let mut seen = walk.seen;
    let out = walk.order.iter().filter_map(|a| seen.remove(a)).collect();
    (out, report)
}
