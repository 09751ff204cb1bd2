//! publish → get round trips arbitrary contents and sizes, including 0 bytes
//! and every blob-boundary size, through the library with an in-memory store.

use lbrymount::assemble::get_offline;
use lbrymount::publish::{publish_reader, PublishOptions};
use lbrymount::store::MemStore;
use proptest::prelude::*;

const CHUNK: usize = 2_097_151;

/// Sizes that matter: around 0, the AES block, and each blob boundary.
fn interesting_size() -> impl Strategy<Value = usize> {
    prop_oneof![
        0usize..64,
        (1usize..=3, -17i64..=17)
            .prop_map(|(k, d)| (k * CHUNK) as i64 + d)
            .prop_map(|n| n.max(0) as usize),
        0usize..(3 * CHUNK),
    ]
}

fn round_trip(data: &[u8], workers: usize) -> Vec<u8> {
    let store = MemStore::new();
    let opts = PublishOptions {
        workers,
        ..PublishOptions::default()
    };
    let published = publish_reader(&store, "f.bin", data, &opts, &|_| {}).unwrap();
    assert_eq!(published.size, data.len() as u64);
    assert_eq!(
        published.descriptor.blobs().len(),
        data.len().div_ceil(CHUNK)
    );
    // Every data blob but the last is exactly 2 MiB, as LBRY's writer makes them.
    let blobs = published.descriptor.blobs();
    for b in blobs.iter().take(blobs.len().saturating_sub(1)) {
        assert_eq!(b.length, 2_097_152);
    }
    assert!(store.contains(&published.sd_hash.as_blob()));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let n = get_offline(&store, &published.descriptor, &out, true, workers, &|_| {}).unwrap();
    assert_eq!(n, data.len() as u64);
    std::fs::read(&out).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn publish_then_get_returns_the_same_bytes(size in interesting_size(), seed in any::<u8>(), workers in 1usize..4) {
        let data: Vec<u8> = (0..size).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect();
        prop_assert_eq!(round_trip(&data, workers), data);
    }
}

#[test]
fn exact_boundaries() {
    for size in [
        0,
        1,
        15,
        16,
        17,
        CHUNK - 1,
        CHUNK,
        CHUNK + 1,
        2 * CHUNK,
        2 * CHUNK + 1,
    ] {
        let data: Vec<u8> = (0..size).map(|i| (i * 7 + 3) as u8).collect();
        assert_eq!(round_trip(&data, 2), data, "size {size}");
    }
}
