//! The streams a store holds, found and measured without disturbing it:
//! every read here is quiet (not a use), so looking around (`ls`, `status`,
//! the mount's listing at start, the announcer) keeps the cache's order.
//!
//! Synchronous: callers on the runtime use the blocking pool.

use super::load_descriptor_quiet;
use crate::hash::{BlobHash, SdHash};
use crate::layout::{Layout, Size};
use crate::sd::StreamDescriptor;
use crate::store::{ListBlobs, PeekBlob, ReadQuiet};

/// The stream's plaintext size and whether it is exact. Exact once the last
/// blob is in the store (decrypting it reveals its padding) and every earlier
/// blob follows LBRY's layout; otherwise the layout's best estimate. Reading
/// the last blob is not a use of it (this serves `ls`).
pub fn stream_size<S: ReadQuiet + ?Sized>(store: &S, desc: &StreamDescriptor) -> (u64, bool) {
    let mut layout = Layout::for_stream(desc);
    if let Some(last) = desc.blobs().last() {
        if let Ok(Some(blob)) = store.get_quiet(&last.hash) {
            if let Ok(plain) = desc.described(last).decrypt(blob) {
                let _ = layout.learn(desc.blobs().len() - 1, plain.len() as u32);
            }
        }
    }
    match layout.size() {
        // LBRY's writer fills every blob but the last, so its size is known from the last blob.
        Size::Exact(n) | Size::Presumed(n) => (n, true),
        Size::Range { max, .. } => (max, false),
    }
}

/// Every stream whose valid descriptor is in the store, read quietly.
pub fn local_streams<S>(store: &S) -> Vec<(SdHash, StreamDescriptor)>
where
    S: ListBlobs + PeekBlob + ReadQuiet + ?Sized,
{
    let mut out = Vec::new();
    for hash in store.list() {
        if !looks_like_json(store, &hash) {
            continue;
        }
        let sd = SdHash::from(hash);
        // Not every JSON-looking blob is a descriptor; skip the ones that are not.
        if let Ok(desc) = load_descriptor_quiet(store, &sd) {
            out.push((sd, desc));
        }
    }
    out
}

/// Descriptors are JSON objects; encrypted blobs almost never start with `{"`.
/// Peeking two bytes avoids reading every 2 MiB data blob in a big cache.
fn looks_like_json<S: PeekBlob + ?Sized>(store: &S, hash: &BlobHash) -> bool {
    matches!(store.peek(hash, 2), Ok(Some(head)) if head == b"{\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::{VerifiedBlob, PLAIN_CHUNK};
    use crate::publish::{publish_reader, PublishOptions};
    use crate::store::{Keep, MemStore};

    /// A store holding one published stream of `len` bytes.
    fn published(len: usize) -> (MemStore, StreamDescriptor) {
        let store = MemStore::new();
        let data = vec![0x5a; len];
        let opts = PublishOptions::default();
        let p = publish_reader(&store, "f.bin", &data[..], &opts, &|_| {}).unwrap();
        (store, p.descriptor)
    }

    #[test]
    fn finds_descriptors_and_skips_json_that_is_not_one() {
        let (store, desc) = published(1000);
        let not_sd = VerifiedBlob::from_bytes(br#"{"not": "a descriptor"}"#.to_vec());
        store.put(&not_sd, Keep::Cache).unwrap();
        let found = local_streams(&store);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, desc.sd_hash());
        assert_eq!(found[0].1.blobs().len(), desc.blobs().len());
    }

    #[test]
    fn a_stream_is_exactly_sized_from_its_last_blob_or_presumed_without_it() {
        let len = PLAIN_CHUNK + 12_345;
        let (store, desc) = published(len);
        assert_eq!(stream_size(&store, &desc), (len as u64, true));
        // Without its last blob, only a bound: the padding is unknown.
        let last = desc.blobs().last().unwrap().hash;
        store.remove(&[last]).unwrap();
        let (size, exact) = stream_size(&store, &desc);
        assert!(size >= len as u64 && !exact, "{size} {exact}");
    }
}
