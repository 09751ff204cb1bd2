use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use super::*;
use crate::dht::HASH_LENGTH;

/// With the target all zeros, `c(n)` is at distance n (in the first byte).
fn c(n: u8) -> Contact {
    let mut b = [0u8; HASH_LENGTH];
    b[0] = n;
    Contact::new(
        NodeId::from_bytes(b),
        SocketAddr::from((Ipv4Addr::new(5, 0, 0, n), 4444)),
    )
}

fn target() -> NodeId {
    NodeId::from_bytes([0; HASH_LENGTH])
}

fn ids(cs: &[Contact]) -> Vec<u8> {
    cs.iter().map(|c| c.id.as_bytes()[0]).collect()
}

fn find_node(seeds: &[u8], k: usize, alpha: usize) -> Lookup<u32> {
    let seeds = seeds.iter().map(|&n| c(n)).collect();
    Lookup::new(target(), LookupKind::FindNode, seeds, k, alpha)
}

#[test]
fn asks_the_closest_first_and_keeps_alpha_in_flight() {
    let now = Instant::now();
    let mut l = find_node(&[50, 10, 40, 20, 30, 60], 8, 3);
    assert_eq!(ids(&l.next_queries(now)), vec![10, 20, 30]);
    assert!(l.next_queries(now).is_empty(), "alpha already in flight");
    l.on_response(&c(10).id, vec![c(5)]).unwrap();
    assert_eq!(ids(&l.next_queries(now)), vec![5]);
    assert_eq!(l.stats().queries, 4);
    assert_eq!(l.stats().rounds, 2);
}

#[test]
fn done_when_the_k_closest_have_answered_and_only_responders_count() {
    let now = Instant::now();
    let mut l = find_node(&[1, 2, 3, 4], 2, 5);
    let asked = l.next_queries(now);
    assert_eq!(ids(&asked), vec![1, 2], "the window is the k closest");
    l.on_timeout(&c(1).id).unwrap();
    assert!(!l.is_done());
    l.on_response(&c(2).id, vec![]).unwrap();
    assert_eq!(ids(&l.next_queries(now)), vec![3]);
    assert!(!l.is_done());
    l.on_response(&c(3).id, vec![c(1), c(9)]).unwrap();
    assert!(l.is_done());
    assert!(l.next_queries(now).is_empty());
    assert_eq!(ids(&l.result()), vec![2, 3]);
    let s = l.stats();
    assert_eq!((s.queries, s.responses, s.timeouts), (3, 2, 1));
}

#[test]
fn overdue_requests_expire_on_next_queries() {
    let now = Instant::now();
    let mut l = find_node(&[1, 2], 8, 1).with_rpc_timeout(Duration::from_secs(5));
    assert_eq!(ids(&l.next_queries(now)), vec![1]);
    assert!(l.next_queries(now + Duration::from_secs(4)).is_empty());
    assert_eq!(ids(&l.next_queries(now + Duration::from_secs(5))), vec![2]);
    assert_eq!(l.stats().timeouts, 1);
    // A late answer still counts.
    l.on_response(&c(1).id, vec![]).unwrap();
    l.on_response(&c(2).id, vec![]).unwrap();
    assert!(l.is_done());
    assert_eq!(ids(&l.result()), vec![1, 2]);
}

#[test]
fn no_seeds_or_all_failed_is_done_and_empty() {
    let now = Instant::now();
    let l = find_node(&[], 8, 5);
    assert!(l.is_done());
    let mut l = find_node(&[1], 8, 5);
    l.next_queries(now);
    l.on_timeout(&c(1).id).unwrap();
    assert!(l.is_done());
    assert!(l.result().is_empty());
}

#[test]
fn replies_from_strangers_are_refused() {
    let now = Instant::now();
    let mut l = find_node(&[1, 2], 8, 1);
    l.next_queries(now);
    assert_eq!(
        l.on_response(&c(2).id, vec![]),
        Err(LookupError::NotAsked(c(2).id))
    );
    assert_eq!(
        l.on_response(&c(7).id, vec![]),
        Err(LookupError::NotAsked(c(7).id))
    );
    assert_eq!(l.on_timeout(&c(7).id), Err(LookupError::NotAsked(c(7).id)));
}

#[test]
fn excluded_id_is_never_asked() {
    let now = Instant::now();
    let mut l = find_node(&[1, 2], 8, 5).excluding(c(1).id);
    assert_eq!(ids(&l.next_queries(now)), vec![2]);
    l.on_response(&c(2).id, vec![c(1), c(3)]).unwrap();
    assert_eq!(ids(&l.next_queries(now)), vec![3]);
}

#[test]
fn find_value_pages_while_pages_are_full() {
    let now = Instant::now();
    let mut l: Lookup<u32> = Lookup::new(target(), LookupKind::FindValue, vec![c(1)], 2, 5);
    l.next_queries(now);
    l.on_response(&c(1).id, vec![]).unwrap();
    assert_eq!(l.on_value(&c(1).id, 0, 3, vec![10, 11]), Ok(Some(1)));
    assert_eq!(l.on_value(&c(1).id, 1, 3, vec![12, 10]), Ok(Some(2)));
    assert_eq!(
        l.on_value(&c(1).id, 2, 3, vec![13, 14]),
        Ok(None),
        "all pages fetched"
    );
    assert_eq!(l.values(), &[10, 11, 12, 13, 14]);
    assert_eq!(l.stats().pages, 3);
    assert_eq!(l.stats().responses, 1);
}

#[test]
fn find_value_stops_paging_on_a_short_page() {
    let now = Instant::now();
    let mut l: Lookup<u32> = Lookup::new(target(), LookupKind::FindValue, vec![c(1)], 2, 5);
    l.next_queries(now);
    assert_eq!(l.on_value(&c(1).id, 0, 4, vec![10]), Ok(None));
    assert_eq!(l.on_value(&c(1).id, 0, 0, vec![]), Ok(None));
    assert!(l.is_done());
    assert_eq!(l.kind(), LookupKind::FindValue);
    assert_eq!(l.into_values(), vec![10]);
}

#[test]
fn a_page_timeout_keeps_the_responder() {
    let now = Instant::now();
    let mut l: Lookup<u32> = Lookup::new(target(), LookupKind::FindValue, vec![c(1)], 1, 5);
    l.next_queries(now);
    l.on_response(&c(1).id, vec![]).unwrap();
    assert_eq!(l.on_value(&c(1).id, 0, 2, vec![10]), Ok(Some(1)));
    l.on_timeout(&c(1).id).unwrap();
    assert_eq!(ids(&l.result()), vec![1]);
    assert_eq!(l.stats().timeouts, 0);
}

#[test]
fn endless_pages_stop_at_the_page_cap() {
    let now = Instant::now();
    let seeds = vec![c(1)];
    let mut l: Lookup<u32> =
        Lookup::new(target(), LookupKind::FindValue, seeds, 2, 1).with_limits(3, 1000, 100);
    l.next_queries(now);
    let mut page = 0;
    let mut next = Some(0);
    let mut v = 0;
    while let Some(p) = next {
        assert_eq!(p, page);
        // Two fresh values per page and a claim of endless pages.
        next = l.on_value(&c(1).id, p, u32::MAX, vec![v, v + 1]).unwrap();
        v += 2;
        page += 1;
        assert!(page <= 3, "paged past the cap");
    }
    assert_eq!(l.values().len(), 6);
}

#[test]
fn values_stop_at_the_value_cap() {
    let now = Instant::now();
    let mut l: Lookup<u32> =
        Lookup::new(target(), LookupKind::FindValue, vec![c(1)], 2, 1).with_limits(100, 3, 100);
    l.next_queries(now);
    assert_eq!(l.on_value(&c(1).id, 0, 9, vec![1, 2]).unwrap(), Some(1));
    assert_eq!(l.on_value(&c(1).id, 1, 9, vec![3, 4]).unwrap(), None);
    assert_eq!(l.values(), &[1, 2, 3]);
}

#[test]
fn ever_closer_contacts_stop_at_the_query_cap() {
    let now = Instant::now();
    let mut l = find_node(&[250], 8, 1).with_limits(1, 1, 5);
    let mut asked = 0;
    let mut next = 249u8;
    loop {
        let q = l.next_queries(now);
        let Some(first) = q.first() else { break };
        asked += q.len();
        // Every answer names a closer contact nobody has asked yet.
        l.on_response(&first.id, vec![c(next)]).unwrap();
        next -= 1;
    }
    assert_eq!(asked, 5);
    assert!(l.is_done());
}
