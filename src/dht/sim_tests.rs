//! A whole network in memory: every node has its own `RoutingTable`, and
//! lookups are driven synchronously by calling other nodes' `closest`. This is
//! the test that says routing and lookup together find the K closest nodes.
//!
//! What is simulated: join through one already-joined node followed by a
//! lookup of our own id (lbry-sdk's `join_network`), a responder learning the
//! requester (lbry-sdk pings unknown requesters back and adds them when they
//! answer; here they always answer while alive), hourly refresh passes over
//! every node (lookups in stale buckets, then a ping to every contact that is
//! not good, as the node's refresh loop does), and full buckets that ping
//! their stale contact (alive: it stays; dead: the newcomer replaces it). Dead
//! nodes never answer and never send (a node that still runs its refresh
//! loop is not dead), so their queries and pings time out and record
//! failures: a failed contact is no longer handed out, and a third failure
//! evicts it. Each batch of `next_queries` is answered before the next one is
//! asked, so every lookup runs in rounds.
//!
//! Measured per phase, over random keys from random live nodes: the share of
//! lookups whose result is exactly the true K closest live nodes in order
//! (brute force), the share with at least K-1 of them, the worst hit count,
//! and the median rounds and queries. Results must all be live responders.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::lookup::{Lookup, LookupKind, LookupStats};
use super::routing::{Observed, RoutingConfig, RoutingTable};
use super::{Contact, ALPHA, HASH_LENGTH, K, REFRESH_INTERVAL};
use crate::hash::NodeId;

const NODES: usize = 1000;
const PROBES: usize = 300;

struct Net {
    contacts: Vec<Contact>,
    tables: Vec<RoutingTable>,
    alive: Vec<bool>,
    index: HashMap<NodeId, usize>,
    now: Instant,
}

fn random_id(rng: &mut StdRng) -> NodeId {
    let mut b = [0u8; HASH_LENGTH];
    rng.fill(&mut b[..]);
    NodeId::from_bytes(b)
}

impl Net {
    fn new(rng: &mut StdRng, n: usize) -> Self {
        let now = Instant::now();
        let contacts: Vec<Contact> = (0..n)
            .map(|i| {
                let ip = Ipv4Addr::from(0x0b00_0000 + i as u32);
                Contact::new(random_id(rng), SocketAddr::from((ip, 4444)))
            })
            .collect();
        let tables = contacts
            .iter()
            .map(|c| RoutingTable::new(c.id, RoutingConfig::default(), now))
            .collect();
        let index = contacts
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id, i))
            .collect();
        Self {
            contacts,
            tables,
            alive: vec![true; n],
            index,
            now,
        }
    }

    /// Node `at` heard from `contact`; a full bucket pings its stale contact.
    fn observe(&mut self, at: usize, contact: Contact) {
        let now = self.now;
        if let Ok(Observed::BucketFull { stale }) = self.tables[at].observe(contact, now) {
            if self.alive[self.index[&stale.id]] {
                let _ = self.tables[at].observe(stale, now);
            } else {
                let _ = self.tables[at].replace(&stale.id, contact, now);
            }
        }
    }

    fn lookup(&mut self, from: usize, target: NodeId) -> (Vec<Contact>, LookupStats) {
        let me = self.contacts[from];
        let seeds = self.tables[from].closest(&target, K, None);
        let mut l: Lookup<()> =
            Lookup::new(target, LookupKind::FindNode, seeds, K, ALPHA).excluding(me.id);
        loop {
            let asked = l.next_queries(self.now);
            if asked.is_empty() {
                break;
            }
            for q in asked {
                let j = self.index[&q.id];
                if !self.alive[j] {
                    l.on_timeout(&q.id).expect("asked");
                    let _ = self.tables[from].failed(&q.id);
                    continue;
                }
                let reply = self.tables[j].closest(&target, K, Some(&me.id));
                self.observe(j, me);
                self.observe(from, q);
                l.on_response(&q.id, reply).expect("asked");
            }
            self.now += Duration::from_millis(200);
        }
        assert!(l.is_done(), "a synchronous driver ends only when done");
        self.tables[from].refreshed(&target, self.now);
        (l.result(), l.stats())
    }

    fn join_all(&mut self, rng: &mut StdRng) {
        for i in 1..self.contacts.len() {
            let via = rng.gen_range(0..i);
            let (me, boot) = (self.contacts[i], self.contacts[via]);
            self.observe(i, boot);
            self.observe(via, me);
            self.lookup(i, me.id);
        }
    }

    /// One pass of every node's refresh loop: lookups in stale buckets, then
    /// a ping to every contact that is not good. A pinged node learns the
    /// pinger (its ping-back is answered); a dead one collects a failure.
    fn refresh_all(&mut self, rng: &mut StdRng) {
        self.now += REFRESH_INTERVAL;
        for i in 0..self.contacts.len() {
            if !self.alive[i] {
                continue;
            }
            for target in self.tables[i].refresh_targets(self.now, rng) {
                self.lookup(i, target);
            }
            let me = self.contacts[i];
            for c in self.tables[i].questionable(self.now) {
                let j = self.index[&c.id];
                if self.alive[j] {
                    self.observe(i, c);
                    self.observe(j, me);
                } else {
                    let _ = self.tables[i].failed(&c.id);
                }
            }
        }
    }

    /// Contacts of dead nodes still held by live nodes' tables.
    fn dead_in_tables(&self) -> usize {
        (0..self.contacts.len())
            .filter(|&i| self.alive[i])
            .flat_map(|i| self.tables[i].buckets())
            .flat_map(|b| b.entries())
            .filter(|e| !self.alive[self.index[&e.contact().id]])
            .count()
    }

    fn true_closest(&self, key: &NodeId, exclude: usize) -> Vec<NodeId> {
        let mut live: Vec<NodeId> = (0..self.contacts.len())
            .filter(|&i| self.alive[i] && i != exclude)
            .map(|i| self.contacts[i].id)
            .collect();
        live.sort_by_key(|id| key.distance(id));
        live.truncate(K);
        live
    }
}

struct Figures {
    exact: usize,
    near: usize,
    worst: usize,
    median_rounds: u32,
    median_queries: u32,
    /// Requests that timed out, over all probes.
    timeouts: u32,
}

/// Random keys looked up from random live nodes, compared with brute force.
fn probe(net: &mut Net, rng: &mut StdRng) -> Figures {
    let (mut exact, mut near, mut worst) = (0, 0, K);
    let (mut rounds, mut queries, mut timeouts) = (Vec::new(), Vec::new(), 0);
    for _ in 0..PROBES {
        let from = loop {
            let i = rng.gen_range(0..net.contacts.len());
            if net.alive[i] {
                break i;
            }
        };
        let key = random_id(rng);
        let (found, stats) = net.lookup(from, key);
        let truth = net.true_closest(&key, from);
        assert!(
            found.iter().all(|c| net.alive[net.index[&c.id]]),
            "only responders are results"
        );
        let hits = found.iter().filter(|c| truth.contains(&c.id)).count();
        let in_order = found.iter().map(|c| c.id).eq(truth.iter().copied());
        exact += usize::from(in_order);
        near += usize::from(hits >= K - 1);
        worst = worst.min(hits);
        rounds.push(stats.rounds);
        queries.push(stats.queries);
        timeouts += stats.timeouts;
    }
    rounds.sort_unstable();
    queries.sort_unstable();
    Figures {
        exact,
        near,
        worst,
        median_rounds: rounds[PROBES / 2],
        median_queries: queries[PROBES / 2],
        timeouts,
    }
}

fn report(label: &str, f: &Figures) {
    println!(
        "{label}: exact K closest {}/{PROBES}, >= K-1 of K {}/{PROBES}, worst {}/{K}, \
         median rounds {}, median queries {}, timeouts {:.1} per lookup",
        f.exact,
        f.near,
        f.worst,
        f.median_rounds,
        f.median_queries,
        f64::from(f.timeouts) / PROBES as f64
    );
}

#[test]
fn a_thousand_nodes_find_the_k_closest_even_with_30_percent_dead() {
    let mut rng = StdRng::seed_from_u64(0x1b27);
    let mut net = Net::new(&mut rng, NODES);
    net.join_all(&mut rng);
    net.refresh_all(&mut rng);
    let sizes: Vec<usize> = net.tables.iter().map(RoutingTable::len).collect();
    println!(
        "tables: min {} max {} mean {}",
        sizes.iter().min().unwrap_or(&0),
        sizes.iter().max().unwrap_or(&0),
        sizes.iter().sum::<usize>() / NODES
    );
    all_alive(&mut net, &mut rng);
    for i in 0..NODES {
        net.alive[i] = rng.gen_bool(0.7);
    }
    right_after_the_deaths(&mut net, &mut rng);
    net.refresh_all(&mut rng);
    after_one_refresh(&mut net, &mut rng);
    net.refresh_all(&mut rng);
    let twice = probe(&mut net, &mut rng);
    report("30% dead, after two refreshes", &twice);
    net.refresh_all(&mut rng);
    let left = net.dead_in_tables();
    println!("dead contacts still in tables after three refreshes: {left}");
    // A third failed ping evicts: nothing dead is left to take a slot.
    assert_eq!(left, 0, "a dead contact survived three failed pings");
    assert!(
        twice.exact * 100 >= PROBES * 97,
        "exact below 97% after two"
    );
}

fn all_alive(net: &mut Net, rng: &mut StdRng) {
    let all = probe(net, rng);
    report("all alive", &all);
    assert!(all.exact * 100 >= PROBES * 99, "exact below 99%");
    assert_eq!(
        all.near, PROBES,
        "a lookup missed two or more of the K closest"
    );
}

fn right_after_the_deaths(net: &mut Net, rng: &mut StdRng) {
    let dead = probe(net, rng);
    report("30% dead, before any refresh", &dead);
    // Measured with this seed: 80% exact, 96% with >= K-1, never fewer than 6.
    // What is lost is knowledge, not lookup: tables whose near buckets held the
    // dead have not yet learned the live nodes just beyond them.
    assert!(
        dead.exact * 100 >= PROBES * 75,
        "exact below 75% right after the deaths"
    );
    assert!(
        dead.near * 100 >= PROBES * 90,
        ">= K-1 below 90% right after the deaths"
    );
    assert!(
        dead.worst >= K / 2,
        "a lookup found fewer than half of the K closest"
    );
}

fn after_one_refresh(net: &mut Net, rng: &mut StdRng) {
    let refreshed = probe(net, rng);
    report("30% dead, after one refresh", &refreshed);
    // Measured: 100% exact, no timeouts (3.9 per lookup without the pings:
    // tables then still hand out the dead they never asked). Every dead
    // contact has failed a ping and is no longer handed out.
    assert!(
        refreshed.exact * 100 >= PROBES * 97,
        "exact below 97% after a refresh"
    );
    assert_eq!(refreshed.near, PROBES, "a refreshed lookup missed two");
    assert!(
        refreshed.timeouts * 2 <= PROBES as u32,
        "tables still hand out the dead after a refresh"
    );
}
