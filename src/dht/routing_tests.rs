use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;

/// An id whose leading bytes are `prefix`, the rest zero. With our own id all
/// zeros, that is also its distance from us.
fn id(prefix: &[u8]) -> NodeId {
    let mut b = [0u8; HASH_LENGTH];
    b[..prefix.len()].copy_from_slice(prefix);
    NodeId::from_bytes(b)
}

fn addr(n: u32) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::from(0x0500_0000 + n), 4444))
}

fn contact(prefix: &[u8], n: u32) -> Contact {
    Contact::new(id(prefix), addr(n))
}

fn table(now: Instant) -> RoutingTable {
    RoutingTable::new(id(&[]), RoutingConfig::default(), now)
}

/// Our own id is zero; eight contacts in the upper half of the distance space.
fn with_upper_half(now: Instant) -> RoutingTable {
    let mut t = table(now);
    for i in 0..K as u8 {
        assert_eq!(
            t.observe(contact(&[0x80 + i], i.into()), now),
            Ok(Observed::Added)
        );
    }
    t
}

#[test]
fn own_id_is_refused() {
    let now = Instant::now();
    let mut t = table(now);
    assert_eq!(t.observe(contact(&[], 1), now), Err(RoutingError::OwnId));
    assert!(t.is_empty());
}

#[test]
fn observing_again_updates_and_moves_to_the_back() {
    let now = Instant::now();
    let mut t = table(now);
    t.observe(contact(&[1], 1), now).unwrap();
    t.observe(contact(&[2], 2), now).unwrap();
    t.failed(&id(&[1])).unwrap();
    let later = now + Duration::from_secs(5);
    assert_eq!(t.observe(contact(&[1], 1), later), Ok(Observed::Updated));
    let entries = t.buckets()[0].entries();
    assert_eq!(entries.last().map(|e| e.contact().id), Some(id(&[1])));
    assert_eq!(entries[1].failures(), 0);
    assert_eq!(entries[1].last_seen(), later);
    assert_eq!(t.len(), 2);
}

#[test]
fn bucket_zero_splits_when_full() {
    let now = Instant::now();
    let mut t = with_upper_half(now);
    assert_eq!(t.buckets().len(), 1);
    assert_eq!(t.observe(contact(&[0x01], 100), now), Ok(Observed::Added));
    let b = t.buckets();
    assert_eq!(b.len(), 2);
    assert_eq!((b[0].depth(), b[0].len()), (1, 1));
    assert_eq!((b[1].depth(), b[1].len()), (1, K));
    assert_eq!(b[1].range_min()[0], 0x80);
}

#[test]
fn far_full_bucket_names_the_least_recently_seen() {
    let now = Instant::now();
    let mut t = with_upper_half(now);
    t.observe(contact(&[0x01], 100), now).unwrap();
    // Bucket 1 is full, not below split_buckets_under_index, and 0x90 is
    // farther than our 8th closest (0x86): no split.
    let later = now + Duration::from_secs(1);
    t.observe(contact(&[0x80], 0), later).unwrap();
    let out = t.observe(contact(&[0x90], 200), later).unwrap();
    assert_eq!(
        out,
        Observed::BucketFull {
            stale: contact(&[0x81], 1)
        }
    );
    assert_eq!(t.buckets().len(), 2);
    assert!(!t.contains(&id(&[0x90])));
}

#[test]
fn full_bucket_prefers_a_silent_failing_contact() {
    let now = Instant::now();
    let mut t = with_upper_half(now);
    t.observe(contact(&[0x01], 100), now).unwrap();
    t.failed(&id(&[0x84])).unwrap();
    // Within 60 s the failing contact is not yet stale: least recently seen wins.
    let soon = now + Duration::from_secs(30);
    t.observe(contact(&[0x80], 0), soon).unwrap();
    let out = t.observe(contact(&[0x90], 200), soon).unwrap();
    assert_eq!(
        out,
        Observed::BucketFull {
            stale: contact(&[0x81], 1)
        }
    );
    let late = now + Duration::from_secs(61);
    let out = t.observe(contact(&[0x90], 200), late).unwrap();
    assert_eq!(
        out,
        Observed::BucketFull {
            stale: contact(&[0x84], 4)
        }
    );
}

#[test]
fn replace_evicts_the_stale_contact() {
    let now = Instant::now();
    let mut t = with_upper_half(now);
    t.observe(contact(&[0x01], 100), now).unwrap();
    let new = contact(&[0x90], 200);
    let Observed::BucketFull { stale } = t.observe(new, now).unwrap() else {
        panic!("bucket should be full");
    };
    assert_eq!(t.replace(&stale.id, new, now), Ok(Observed::Added));
    assert!(t.contains(&new.id));
    assert!(!t.contains(&stale.id));
    assert_eq!(t.len(), K + 1);
}

#[test]
fn closer_than_kth_closest_splits_a_far_bucket() {
    let now = Instant::now();
    let mut t = with_upper_half(now);
    t.observe(contact(&[0x01], 100), now).unwrap();
    // 0x80 0x01.. is closer than our 8th closest (0x86): bucket 1 splits.
    let out = t.observe(contact(&[0x80, 0x01], 300), now).unwrap();
    assert_eq!(out, Observed::Added);
    assert!(t.buckets().len() > 2);
    assert_eq!(t.len(), K + 2);
}

#[test]
fn split_under_index_two_splits_bucket_one() {
    let now = Instant::now();
    let config = RoutingConfig {
        split_buckets_under_index: 2,
        ..RoutingConfig::default()
    };
    let mut t = RoutingTable::new(id(&[]), config, now);
    for i in 0..K as u8 {
        t.observe(contact(&[0x80 + i], i.into()), now).unwrap();
    }
    t.observe(contact(&[0x01], 100), now).unwrap();
    assert_eq!(t.observe(contact(&[0xF0], 200), now), Ok(Observed::Added));
    assert_eq!(t.buckets().len(), 3);
}

#[test]
fn same_address_with_a_new_id_replaces_the_old_entry() {
    let now = Instant::now();
    let mut t = table(now);
    t.observe(contact(&[1], 7), now).unwrap();
    let out = t.observe(contact(&[2], 7), now).unwrap();
    assert_eq!(
        out,
        Observed::ReplacedAddress {
            old: contact(&[1], 7)
        }
    );
    assert!(!t.contains(&id(&[1])));
    assert!(t.contains(&id(&[2])));
    assert_eq!(t.len(), 1);
}

#[test]
fn one_ip_holds_at_most_two_contacts() {
    let now = Instant::now();
    let mut t = table(now);
    let ip = Ipv4Addr::new(5, 6, 7, 8);
    let at = |port: u16, p: u8| Contact::new(id(&[p]), SocketAddr::from((ip, port)));
    assert_eq!(t.observe(at(4444, 1), now), Ok(Observed::Added));
    assert_eq!(t.observe(at(4445, 2), now), Ok(Observed::Added));
    assert_eq!(
        t.observe(at(4446, 3), now),
        Err(RoutingError::IpLimit {
            ip: ip.into(),
            limit: 2
        })
    );
    // Known contacts at that IP still update.
    assert_eq!(t.observe(at(4444, 1), now), Ok(Observed::Updated));
    assert_eq!(t.len(), 2);
}

#[test]
fn remove_and_failed() {
    let now = Instant::now();
    let mut t = table(now);
    t.observe(contact(&[1], 1), now).unwrap();
    assert_eq!(t.failed(&id(&[1])), Ok(Failure::Bad { failures: 1 }));
    assert_eq!(t.get(&id(&[1])).map(|e| e.health(now)), Some(Health::Bad));
    assert!(
        t.closest(&id(&[1]), 8, None).is_empty(),
        "bad contacts are not handed out"
    );
    assert_eq!(
        t.failed(&id(&[9])),
        Err(RoutingError::UnknownContact(id(&[9])))
    );
    assert_eq!(t.remove(&id(&[1])), Some(contact(&[1], 1)));
    assert_eq!(t.remove(&id(&[1])), None);
    assert!(t.is_empty());
}

#[test]
fn health_follows_last_seen_and_failures() {
    let now = Instant::now();
    let mut t = table(now);
    t.observe(contact(&[1], 1), now).unwrap();
    let e = t.get(&id(&[1])).unwrap().clone();
    assert_eq!(e.health(now), Health::Good);
    assert_eq!(e.health(now + Duration::from_secs(721)), Health::Unknown);
    t.failed(&id(&[1])).unwrap();
    assert_eq!(t.get(&id(&[1])).unwrap().health(now), Health::Bad);
}

#[test]
fn repeated_failures_evict_and_an_answer_in_between_forgives() {
    let now = Instant::now();
    let mut t = table(now);
    t.observe(contact(&[1], 1), now).unwrap();
    t.observe(contact(&[2], 2), now).unwrap();
    t.failed(&id(&[1])).unwrap();
    t.observe(contact(&[1], 1), now).unwrap();
    assert_eq!(t.failed(&id(&[1])), Ok(Failure::Bad { failures: 1 }));
    assert_eq!(t.failed(&id(&[1])), Ok(Failure::Bad { failures: 2 }));
    assert_eq!(t.failed(&id(&[1])), Ok(Failure::Evicted(contact(&[1], 1))));
    assert!(!t.contains(&id(&[1])));
    assert_eq!(t.len(), 1);
    // The freed slot takes a newcomer without a ping.
    assert_eq!(t.observe(contact(&[3], 3), now), Ok(Observed::Added));
}

#[test]
fn questionable_and_snapshot_follow_health() {
    let now = Instant::now();
    let mut t = table(now);
    t.observe(contact(&[1], 1), now).unwrap();
    let later = now + Duration::from_secs(800);
    t.observe(contact(&[2], 2), later).unwrap();
    t.observe(contact(&[3], 3), later).unwrap();
    t.failed(&id(&[3])).unwrap();
    let q: Vec<NodeId> = t.questionable(later).iter().map(|c| c.id).collect();
    assert_eq!(q.len(), 2);
    assert!(
        q.contains(&id(&[1])) && q.contains(&id(&[3])),
        "silent and bad"
    );
    let snap: Vec<NodeId> = t.snapshot(10).iter().map(|c| c.id).collect();
    assert_eq!(snap, vec![id(&[2]), id(&[1])], "no bad ones, newest first");
    assert_eq!(t.snapshot(1).len(), 1);
}

#[test]
fn closest_orders_by_distance_to_the_key_and_excludes() {
    let now = Instant::now();
    let mut t = table(now);
    for (i, p) in [0x10u8, 0x20, 0x30, 0x40, 0x50].iter().enumerate() {
        t.observe(contact(&[*p], i as u32), now).unwrap();
    }
    let key = id(&[0x31]);
    let ids: Vec<NodeId> = t.closest(&key, 3, None).iter().map(|c| c.id).collect();
    assert_eq!(ids, vec![id(&[0x30]), id(&[0x20]), id(&[0x10])]);
    let ids: Vec<NodeId> = t
        .closest(&key, 2, Some(&id(&[0x30])))
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, vec![id(&[0x20]), id(&[0x10])]);
    assert_eq!(t.closest(&key, 10, None).len(), 5);
    assert!(t.closest(&key, 0, None).is_empty());
}

#[test]
fn refresh_targets_fall_inside_stale_buckets() {
    let now = Instant::now();
    let mut t = with_upper_half(now);
    t.observe(contact(&[0x01], 100), now).unwrap();
    for i in 0..4u8 {
        t.observe(contact(&[0x02, i], 101 + u32::from(i)), now)
            .unwrap();
    }
    let mut rng = StdRng::seed_from_u64(7);
    // Fresh buckets, but few of them populated: one random id.
    let n_populated = t.buckets().iter().filter(|b| !b.is_empty()).count();
    let fresh = t.refresh_targets(now, &mut rng);
    assert_eq!(fresh.len(), usize::from(n_populated <= 3));

    let later = now + REFRESH_INTERVAL;
    t.refreshed(&id(&[0x01]), later);
    let targets = t.refresh_targets(later, &mut rng);
    let stale: Vec<&Bucket> = t
        .buckets()
        .iter()
        .filter(|b| b.last_accessed() == now)
        .collect();
    assert!(targets.len() >= stale.len());
    for (target, bucket) in targets.iter().zip(&stale) {
        assert!(
            bucket.covers(&t.own_id().distance(target)),
            "{target:?} outside its bucket"
        );
    }
}

#[test]
fn buckets_cover_every_distance_once() {
    let now = Instant::now();
    let mut rng = StdRng::seed_from_u64(1);
    let mut t = RoutingTable::new(id(&[0x55]), RoutingConfig::default(), now);
    for n in 0..500u32 {
        let mut b = [0u8; HASH_LENGTH];
        rand::Rng::fill(&mut rng, &mut b[..]);
        let c = Contact::new(NodeId::from_bytes(b), addr(n));
        if let Ok(Observed::BucketFull { stale }) = t.observe(c, now) {
            t.replace(&stale.id, c, now).unwrap();
        }
    }
    let b = t.buckets();
    assert_eq!(b[0].range_min(), &[0u8; HASH_LENGTH]);
    for pair in b.windows(2) {
        assert!(pair[0].range_min() < pair[1].range_min());
    }
    for bucket in b {
        assert!(bucket.len() <= K);
        for e in bucket.entries() {
            assert!(bucket.covers(&t.own_id().distance(&e.contact().id)));
        }
    }
}

#[test]
fn one_timeout_does_not_leave_lookups_with_nobody_to_ask() {
    let now = Instant::now();
    let mut t = table(now);
    t.observe(contact(&[1], 1), now).unwrap();
    t.failed(&id(&[1])).unwrap();
    assert_eq!(t.live_len(), 0);
    assert_eq!(t.bad(), vec![contact(&[1], 1)]);
    assert_eq!(
        t.closest_or_bad(&id(&[7]), 8),
        vec![contact(&[1], 1)],
        "the only contact is still asked"
    );
    t.observe(contact(&[2], 2), now).unwrap();
    assert_eq!(
        t.closest_or_bad(&id(&[7]), 8),
        vec![contact(&[2], 2)],
        "a live contact is preferred"
    );
}
