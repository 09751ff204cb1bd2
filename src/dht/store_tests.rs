use super::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

fn id(n: u8) -> NodeId {
    NodeId::from_bytes([n; 48])
}

fn peer(ip: [u8; 4], port: u16, n: u8) -> CompactPeer {
    CompactPeer {
        ip: Ipv4Addr::from(ip),
        tcp_port: port,
        node_id: id(n),
    }
}

#[test]
fn records_expire_after_the_expiry() {
    let t0 = Instant::now();
    let mut s = PeerStore::new(StoreConfig::default());
    s.add(id(1), peer([1, 2, 3, 4], 3333, 9), t0).unwrap();
    assert_eq!(
        s.peers(&id(1), t0 + DATA_EXPIRATION - Duration::from_secs(1))
            .len(),
        1
    );
    assert!(s.peers(&id(1), t0 + DATA_EXPIRATION).is_empty());
    s.expire(t0 + DATA_EXPIRATION);
    assert!(s.is_empty());
}

#[test]
fn reannounce_replaces_the_senders_record() {
    let t0 = Instant::now();
    let mut s = PeerStore::new(StoreConfig::default());
    s.add(id(1), peer([1, 2, 3, 4], 3333, 9), t0).unwrap();
    s.add(id(1), peer([1, 2, 3, 4], 4444, 9), t0).unwrap();
    assert_eq!(s.peers(&id(1), t0), vec![peer([1, 2, 3, 4], 4444, 9)]);
    assert_eq!(s.len(), 1);
}

#[test]
fn caps_per_key_and_per_source() {
    let t0 = Instant::now();
    let mut s = PeerStore::new(StoreConfig {
        max_per_key: 2,
        max_per_source: 3,
        ..StoreConfig::default()
    });
    s.add(id(1), peer([1, 1, 1, 1], 3333, 1), t0).unwrap();
    s.add(id(1), peer([1, 1, 1, 2], 3333, 2), t0).unwrap();
    assert_eq!(
        s.add(id(1), peer([1, 1, 1, 3], 3333, 3), t0),
        Err(StoreError::KeyFull(2))
    );
    s.add(id(2), peer([1, 1, 1, 1], 3333, 1), t0).unwrap();
    s.add(id(3), peer([1, 1, 1, 1], 3333, 1), t0).unwrap();
    assert!(matches!(
        s.add(id(4), peer([1, 1, 1, 1], 3333, 1), t0),
        Err(StoreError::SourceFull { .. })
    ));
    // Expiry frees the source's quota.
    s.add(id(4), peer([1, 1, 1, 1], 3333, 1), t0 + DATA_EXPIRATION)
        .unwrap();
}

#[test]
fn token_is_sha384_of_secret_and_ip() {
    let mut rng = StdRng::seed_from_u64(1);
    let t0 = Instant::now();
    let mut t = Tokens::new(t0, &mut rng);
    let ip = Ipv4Addr::new(1, 2, 3, 4);
    let tok = t.issue(ip, t0, &mut rng);
    let mut h = Sha384::new();
    h.update(t.secret);
    h.update([1, 2, 3, 4]);
    assert_eq!(tok, <Token>::from(h.finalize()));
    assert!(t.verify(&tok, ip, t0, &mut rng));
    assert!(!t.verify(&tok, Ipv4Addr::new(1, 2, 3, 5), t0, &mut rng));
}

#[test]
fn previous_secret_is_accepted_for_one_interval() {
    let mut rng = StdRng::seed_from_u64(2);
    let t0 = Instant::now();
    let i = TOKEN_SECRET_REFRESH_INTERVAL;
    let ip = Ipv4Addr::new(5, 6, 7, 8);
    let mut t = Tokens::new(t0, &mut rng);
    let tok = t.issue(ip, t0, &mut rng);
    assert!(t.verify(&tok, ip, t0 + i, &mut rng));
    assert!(!t.verify(&tok, ip, t0 + i * 2, &mut rng));
    // A long idle time invalidates everything issued before it.
    let mut t = Tokens::new(t0, &mut rng);
    let tok = t.issue(ip, t0, &mut rng);
    assert!(!t.verify(&tok, ip, t0 + i * 7, &mut rng));
}

#[test]
fn the_store_holds_at_most_max_records_whatever_the_sources() {
    let t0 = Instant::now();
    let config = StoreConfig {
        max_records: 3,
        ..StoreConfig::default()
    };
    let mut s = PeerStore::new(config);
    for n in 0..3u8 {
        s.add(id(n), peer([10, 0, 0, n], 3333, n), t0).unwrap();
    }
    assert_eq!(
        s.add(id(9), peer([10, 0, 0, 9], 3333, 9), t0),
        Err(StoreError::Full(3))
    );
    // A re-announce replaces its record and still fits.
    s.add(id(1), peer([10, 0, 0, 1], 4444, 1), t0).unwrap();
    assert_eq!(s.len(), 3);
    s.expire(t0 + DATA_EXPIRATION);
    assert_eq!(s.len(), 0);
    s.add(id(9), peer([10, 0, 0, 9], 3333, 9), t0 + DATA_EXPIRATION)
        .unwrap();
}

#[test]
fn served_keys_are_capped_and_expire() {
    let t0 = Instant::now();
    let mut k = ServedKeys::new(2);
    k.insert(id(1), 1001, t0);
    k.insert(id(2), 1002, t0 + Duration::from_secs(1));
    k.insert(id(3), 1003, t0 + Duration::from_secs(2));
    assert_eq!(k.len(), 2);
    assert_eq!(k.port(&id(1), t0), None, "the oldest went first");
    assert_eq!(k.port(&id(3), t0 + Duration::from_secs(2)), Some(1003));
    assert_eq!(
        k.port(&id(3), t0 + DATA_EXPIRATION + Duration::from_secs(2)),
        None
    );
    k.expire(t0 + DATA_EXPIRATION + Duration::from_secs(2));
    assert!(k.is_empty());
}
