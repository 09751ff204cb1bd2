use super::testing::{pseudo_random, MemSource};
use super::*;
use crate::blob::{StreamKey, BLOCK, MAX_BLOB_SIZE};
use crate::publish::{publish_reader, PublishOptions};
use crate::sd::BlobInfo;
use crate::store::{Keep, MemStore};

fn published(data: &[u8]) -> (Arc<MemSource>, Arc<StreamDescriptor>) {
    let store = MemStore::new();
    let p = publish_reader(&store, "f.bin", data, &PublishOptions::default(), &|_| {}).unwrap();
    let src = Arc::new(MemSource::new(store));
    (src, Arc::new(p.descriptor))
}

fn stream(src: &Arc<MemSource>, desc: &Arc<StreamDescriptor>) -> Stream {
    Stream::new(desc.clone(), src.clone(), Arc::new(PlainCache::new(4)))
}

#[tokio::test]
async fn reads_at_any_offset_match_the_file() {
    let data = pseudo_random(3 * PLAIN_CHUNK + 12_345, 7);
    let (src, desc) = published(&data);
    let s = stream(&src, &desc);
    assert_eq!(s.size().await.unwrap(), data.len() as u64);
    let c = PLAIN_CHUNK;
    let n = data.len();
    // Blob edges, the last byte, past the end, and reads spanning blobs.
    for (off, len) in [
        (0, 1),
        (0, 4096),
        (c - 1, 2),
        (c, 1),
        (c - 100, c + 200),
        (2 * c + 5, 131_072),
        (n - 1, 10),
        (n, 10),
        (n + 5, 10),
        (0, n + 100),
    ] {
        let got = s.read(off as u64, len).await.unwrap();
        let want = &data[off.min(n)..(off + len).min(n)];
        assert_eq!(got.len(), want.len(), "read {len} at {off}");
        assert!(got == want, "read {len} at {off}: bytes differ");
    }
}

#[tokio::test]
async fn concurrent_readers_share_one_fetch_per_blob() {
    let data = pseudo_random(PLAIN_CHUNK + 10, 3);
    let (src, desc) = published(&data);
    let s = Arc::new(stream(&src, &desc));
    let reads = (0..16).map(|i| {
        let s = s.clone();
        tokio::spawn(async move { s.read(i * 65_536, 65_536).await })
    });
    for r in reads {
        r.await.unwrap().unwrap();
    }
    // All 16 reads fall in blob 0.
    assert_eq!(src.calls(), 1);
}

#[tokio::test]
async fn a_missing_blob_fails_the_read_with_its_reason() {
    let data = pseudo_random(2 * PLAIN_CHUNK, 5);
    let (full, desc) = published(&data);
    let second = desc.blobs()[1].hash;
    let src = Arc::new(MemSource::new(MemStore::new()));
    for h in full.store.list().into_iter().filter(|h| *h != second) {
        let b = full.store.get(&h).unwrap().unwrap();
        src.store.put(&b, Keep::Cache).unwrap();
    }
    let s = stream(&src, &desc);
    // The first blob still reads.
    assert_eq!(s.read(0, 100).await.unwrap(), &data[..100]);
    let err = s.read(PLAIN_CHUNK as u64 + 1, 100).await.unwrap_err();
    assert!(err.to_string().contains(&second.to_string()), "{err}");
    // Once the blob is back, the same read succeeds (a failure is not cached).
    let blob = VerifiedBlob::from_bytes(blob_bytes(&data, &desc, 1));
    src.store.put(&blob, Keep::Cache).unwrap();
    let got = s.read(PLAIN_CHUNK as u64 + 1, 100).await.unwrap();
    assert_eq!(got, &data[PLAIN_CHUNK + 1..PLAIN_CHUNK + 101]);
}

/// Re-encrypts blob `i` of `data` as the publish did (same key and IV).
fn blob_bytes(data: &[u8], desc: &StreamDescriptor, i: usize) -> Vec<u8> {
    let info = &desc.blobs()[i];
    let end = ((i + 1) * PLAIN_CHUNK).min(data.len());
    crate::blob::encrypt(desc.key(), &info.iv, &data[i * PLAIN_CHUNK..end])
}

#[tokio::test]
async fn blobs_that_break_the_size_convention_still_read_exactly() {
    // A writer that cuts full-size (2 MiB encrypted) blobs holding fewer
    // plaintext bytes than LBRY's 2 097 151: the presumed size is wrong
    // until the blobs are decrypted.
    let key = StreamKey::random();
    let store = MemStore::new();
    let sizes = [MAX_BLOB_SIZE - BLOCK - 1, MAX_BLOB_SIZE - BLOCK - 5, 1000];
    let mut data = Vec::new();
    let mut infos = Vec::new();
    for (i, n) in sizes.iter().enumerate() {
        let plain = pseudo_random(*n, i as u64 + 11);
        let iv = [i as u8 + 1; BLOCK];
        let enc = crate::blob::encrypt(&key, &iv, &plain);
        let blob = VerifiedBlob::from_bytes(enc);
        store.put(&blob, Keep::Cache).unwrap();
        infos.push(BlobInfo {
            blob_num: i as u32,
            hash: *blob.hash(),
            iv,
            length: blob.len() as u32,
        });
        data.extend_from_slice(&plain);
    }
    let desc = Arc::new(StreamDescriptor::new("odd.bin", key, infos, [9; BLOCK]));
    let src = Arc::new(MemSource::new(store));
    let s = stream(&src, &desc);
    // Read the whole file in 64 KiB pieces, then learn the exact size.
    let mut got = Vec::new();
    loop {
        let piece = s.read(got.len() as u64, 65_536).await.unwrap();
        if piece.is_empty() {
            break;
        }
        got.extend_from_slice(&piece);
    }
    assert!(
        got == data,
        "{} bytes read, {} expected",
        got.len(),
        data.len()
    );
    assert_eq!(s.size().await.unwrap(), data.len() as u64);
}
