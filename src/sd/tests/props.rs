//! Properties: the reader never panics, and what we write reads back.

use super::*;
use proptest::prelude::*;

/// An edit of a valid sd blob: overwrite, insert or delete one byte.
#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Delete),
    ]
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let n = bytes.len().max(1);
        match *e {
            Edit::Set(i, b) => {
                if let Some(x) = bytes.get_mut(i % n) {
                    *x = b;
                }
            }
            Edit::Insert(i, b) => bytes.insert(i % (bytes.len() + 1), b),
            Edit::Delete(i) => {
                if !bytes.is_empty() {
                    bytes.remove(i % n);
                }
            }
        }
    }
    bytes
}

fn blob_info() -> impl Strategy<Value = (BlobHash, [u8; 16], u32)> {
    (any::<[u8; 32]>(), any::<[u8; 16]>(), 1u32..=131_072)
        .prop_map(|(seed, iv, blocks)| (BlobHash::digest(&seed), iv, blocks * 16))
}

fn key() -> impl Strategy<Value = StreamKey> {
    prop_oneof![Just(16usize), Just(24), Just(32)]
        .prop_flat_map(|n| proptest::collection::vec(any::<u8>(), n))
        .prop_map(|k| StreamKey::new(&k).unwrap())
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = StreamDescriptor::parse(&bytes);
    }

    #[test]
    fn arbitrary_json_text_never_panics(text in "[\\[\\]{}\":, 0-9a-z.eE+-]{0,300}") {
        let _ = StreamDescriptor::parse(text.as_bytes());
    }

    #[test]
    fn edited_descriptors_never_panic(
        which in 0..2usize,
        edits in proptest::collection::vec(edit(), 1..8),
    ) {
        let base = [HELLO_SD, AES256_SD][which].as_bytes().to_vec();
        let bytes = apply(base, &edits);
        if let Ok(sd) = StreamDescriptor::parse(&bytes) {
            // Whatever got through is consistent with itself.
            let again = StreamDescriptor::parse(&sd.to_bytes()).unwrap();
            prop_assert_eq!(again.blobs(), sd.blobs());
            prop_assert_eq!(again.stream_hash(), sd.stream_hash());
        }
    }

    #[test]
    fn created_descriptors_round_trip(
        name in any::<String>(),
        key in key(),
        infos in proptest::collection::vec(blob_info(), 0..6),
        terminator_iv in any::<[u8; 16]>(),
    ) {
        let blobs: Vec<BlobInfo> = infos
            .into_iter()
            .enumerate()
            .map(|(n, (hash, iv, length))| BlobInfo { blob_num: n as u32, hash, iv, length })
            .collect();
        let sd = StreamDescriptor::new(&name, key.clone(), blobs.clone(), terminator_iv);
        let parsed = StreamDescriptor::parse(&sd.to_bytes()).unwrap();
        prop_assert_eq!(&parsed, &sd);
        prop_assert_eq!(parsed.stream_name(), name.as_bytes());
        let suggested = sanitize_file_name(&name);
        prop_assert_eq!(parsed.suggested_file_name(), suggested.as_bytes());
        prop_assert_eq!(parsed.blobs(), &blobs[..]);
        prop_assert_eq!(parsed.key(), &key);
        prop_assert_eq!(parsed.terminator_iv(), terminator_iv);

        let legacy = StreamDescriptor::parse(&sd.to_legacy_bytes()).unwrap();
        prop_assert_eq!(legacy.stream_hash(), sd.stream_hash());
        prop_assert_eq!(legacy.blobs(), &blobs[..]);
        prop_assert_eq!(legacy.sd_hash(), SdHash::digest(&sd.to_legacy_bytes()));
        prop_assert_eq!(legacy.to_bytes(), sd.to_bytes());
    }
}
