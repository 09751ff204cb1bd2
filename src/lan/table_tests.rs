use super::*;
use crate::hash::HASH_LEN;
use crate::wire::lan::Kind;

fn id(n: u8) -> NodeId {
    NodeId::from_bytes([n; HASH_LEN])
}

fn hello(n: u8, tcp_port: u16) -> Announcement {
    Announcement {
        kind: Kind::Hello,
        node_id: id(n),
        tcp_port,
        udp_port: tcp_port + 1,
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn a_new_node_is_new_once_then_refreshed() {
    let t0 = Instant::now();
    let mut t = LanTable::new(id(0), Limits::default());
    let from = ip("10.0.0.2");
    let Outcome::New(p) = t.accept(from, &hello(1, 4444), t0) else {
        panic!("not new");
    };
    assert_eq!(p.blob_addr(), "10.0.0.2:4444".parse().unwrap());
    assert_eq!(p.dht_addr(), Some("10.0.0.2:4445".parse().unwrap()));
    let later = t0 + Duration::from_secs(5);
    assert!(matches!(
        t.accept(from, &hello(1, 5000), later),
        Outcome::Refreshed(p) if p.tcp_port == 5000
    ));
    assert_eq!(t.peers(later).len(), 1);
}

#[test]
fn our_own_id_is_never_a_peer_wherever_it_comes_from() {
    let t0 = Instant::now();
    let mut t = LanTable::new(id(7), Limits::default());
    assert_eq!(t.accept(ip("10.0.0.1"), &hello(7, 4444), t0), Outcome::Own);
    assert_eq!(t.accept(ip("10.0.0.99"), &hello(7, 4444), t0), Outcome::Own);
    assert!(t.peers(t0).is_empty());
    assert_eq!(t.ignored().own_id, 2);
}

#[test]
fn the_table_is_bounded_per_address_and_in_all_and_keeps_whom_it_has() {
    let t0 = Instant::now();
    let limits = Limits {
        max_peers: 6,
        max_per_ip: 2,
        ..Limits::default()
    };
    let mut t = LanTable::new(id(0), limits);
    for n in 1..=5 {
        t.accept(ip("10.0.0.66"), &hello(n, 4444), t0);
    }
    assert_eq!(t.peers(t0).len(), 2, "two per address");
    for last in 1..=9u8 {
        t.accept(IpAddr::from([10, 0, 1, last]), &hello(100 + last, 4444), t0);
    }
    assert_eq!(t.peers(t0).len(), 6);
    assert_eq!(t.ignored().table_full, 3 + 5);
    // A known peer is still refreshed when the table is full.
    let first = IpAddr::from([10, 0, 1, 1]);
    assert!(matches!(
        t.accept(first, &hello(101, 4444), t0),
        Outcome::Refreshed(_)
    ));
}

#[test]
fn a_forged_announcement_cannot_move_a_peer_to_another_address() {
    let t0 = Instant::now();
    let mut t = LanTable::new(id(0), Limits::default());
    t.accept(ip("10.0.0.2"), &hello(1, 4444), t0);
    t.accept(ip("10.0.0.66"), &hello(1, 4444), t0);
    let ips: Vec<IpAddr> = t.peers(t0).iter().map(|p| p.ip).collect();
    assert!(ips.contains(&ip("10.0.0.2")), "{ips:?}");
}

#[test]
fn a_silent_peer_expires_and_makes_room() {
    let t0 = Instant::now();
    let limits = Limits {
        max_peers: 1,
        ..Limits::default()
    };
    let after = limits.expire_after;
    let mut t = LanTable::new(id(0), limits);
    t.accept(ip("10.0.0.2"), &hello(1, 4444), t0);
    assert_eq!(t.accept(ip("10.0.0.3"), &hello(2, 4444), t0), Outcome::Full);
    let later = t0 + after;
    assert!(t.peers(later).is_empty());
    assert!(matches!(
        t.accept(ip("10.0.0.3"), &hello(2, 4444), later),
        Outcome::New(_)
    ));
}

#[test]
fn a_flood_from_one_source_is_cut_and_others_still_get_through() {
    let t0 = Instant::now();
    let mut t = LanTable::new(id(0), Limits::default());
    let flood = ip("10.0.0.66");
    let admitted = (0..10_000).filter(|_| t.admit(flood, t0)).count();
    assert_eq!(admitted, 16, "the burst, then nothing");
    assert!(t.admit(ip("10.0.0.2"), t0));
    assert!(t.admit(flood, t0 + Duration::from_secs(1)));
    assert_eq!(t.ignored().rate_limited, 10_000 - 16);
}

#[test]
fn many_sources_together_are_cut_too() {
    let t0 = Instant::now();
    let mut t = LanTable::new(id(0), Limits::default());
    let admitted = (0..2000u32)
        .filter(|n| t.admit(IpAddr::V4(Ipv4Addr::from((10u32 << 24) | n)), t0))
        .count();
    assert_eq!(admitted, 256);
}
