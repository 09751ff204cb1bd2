//! Layout arithmetic at the edges, and a model test against brute force.

use super::*;
use proptest::prelude::*;

const FULL: u32 = MAX_BLOB_SIZE as u32; // 2 097 152 encrypted
const CHUNK: u64 = PLAIN_CHUNK as u64; // 2 097 151 plaintext

fn at(blob: usize, offset: u32, exact: bool) -> Locate {
    Locate::At {
        blob,
        offset,
        exact,
    }
}

/// lbry-sdk's `multi.bin`: two full blobs and 98 bytes in a 112-byte blob.
fn multi() -> Layout {
    Layout::new(&[FULL, FULL, 112])
}

#[test]
fn no_blobs_is_an_empty_file() {
    let mut l = Layout::new(&[]);
    assert_eq!(l.blob_count(), 0);
    assert_eq!(l.size(), Size::Exact(0));
    assert_eq!(l.locate(0), Locate::End { exact: true });
    assert_eq!(l.locate(u64::MAX), Locate::End { exact: true });
    assert_eq!(l.blob_start(0), None);
    assert_eq!(l.plain_len(0), None);
    assert_eq!(
        l.learn(0, 0),
        Err(LayoutError::NoSuchBlob { blob: 0, count: 0 })
    );
}

#[test]
fn lbry_stream_before_anything_is_learned() {
    let l = multi();
    assert!(l.is_presuming());
    assert_eq!(l.plain_len(0), Some(PlainLen::Presumed(2_097_151)));
    assert_eq!(
        l.plain_len(2),
        Some(PlainLen::Unknown { min: 96, max: 111 })
    );
    assert_eq!(l.locate(0), at(0, 0, true));
    assert_eq!(l.locate(1), at(0, 1, true));
    // Blob 0 holds at least 2 097 136 bytes whatever its padding.
    assert_eq!(l.locate(2_097_135), at(0, 2_097_135, true));
    assert_eq!(l.locate(2_097_136), at(0, 2_097_136, false));
    assert_eq!(l.locate(2_097_150), at(0, 2_097_150, false));
    assert_eq!(l.locate(2_097_151), at(1, 0, false));
    assert_eq!(l.locate(2_097_152), at(1, 1, false));
    assert_eq!(l.locate(2 * CHUNK - 1), at(1, 2_097_150, false));
    assert_eq!(l.locate(2 * CHUNK), at(2, 0, false));
    assert_eq!(l.locate(2 * CHUNK + 95), at(2, 95, false));
    assert_eq!(l.locate(2 * CHUNK + 96), Locate::NeedBlob(2));
    assert_eq!(l.locate(2 * CHUNK + 110), Locate::NeedBlob(2));
    assert_eq!(l.locate(2 * CHUNK + 111), Locate::End { exact: false });
    assert_eq!(
        l.size(),
        Size::Range {
            min: 2 * 2_097_136 + 96,
            max: 2 * CHUNK + 111,
            need: 2
        }
    );
    assert_eq!(l.blob_start(0), Some(0));
    assert_eq!(l.blob_start(1), None);
}

#[test]
fn learning_the_last_blob_gives_a_presumed_size_then_an_exact_one() {
    let mut l = multi();
    l.learn(2, 98).unwrap();
    assert_eq!(l.size(), Size::Presumed(2 * CHUNK + 98));
    assert_eq!(l.locate(2 * CHUNK + 97), at(2, 97, false));
    assert_eq!(l.locate(2 * CHUNK + 98), Locate::End { exact: false });
    l.learn(0, 2_097_151).unwrap();
    assert_eq!(l.blob_start(1), Some(CHUNK));
    assert_eq!(l.blob_start(2), None);
    assert_eq!(l.locate(CHUNK + 5), at(1, 5, true));
    assert_eq!(l.locate(2 * CHUNK), at(2, 0, false));
    l.learn(1, 2_097_151).unwrap();
    assert!(l.is_presuming());
    assert_eq!(l.size(), Size::Exact(4_194_400));
    assert_eq!(l.blob_start(2), Some(2 * CHUNK));
    assert_eq!(l.locate(4_194_399), at(2, 97, true));
    assert_eq!(l.locate(4_194_400), Locate::End { exact: true });
}

#[test]
fn offsets_around_every_blob_boundary() {
    let mut l = Layout::new(&[FULL, FULL, FULL, FULL, FULL, 16]);
    for k in 1..5u64 {
        let b = k as usize;
        assert_eq!(
            l.locate(k * CHUNK - 1),
            at(b - 1, 2_097_150, false),
            "k={k}"
        );
        assert_eq!(l.locate(k * CHUNK), at(b, 0, false), "k={k}");
        assert_eq!(l.locate(k * CHUNK + 1), at(b, 1, false), "k={k}");
    }
    for b in 0..5 {
        l.learn(b, 2_097_151).unwrap();
    }
    for k in 1..5u64 {
        let b = k as usize;
        assert_eq!(l.locate(k * CHUNK - 1), at(b - 1, 2_097_150, true), "k={k}");
        assert_eq!(l.locate(k * CHUNK), at(b, 0, true), "k={k}");
        assert_eq!(l.locate(k * CHUNK + 1), at(b, 1, true), "k={k}");
    }
    assert_eq!(l.locate(5 * CHUNK), Locate::NeedBlob(5));
}

#[test]
fn a_16_byte_last_blob_holds_0_to_15_bytes() {
    let l = Layout::new(&[16]);
    assert_eq!(
        l.size(),
        Size::Range {
            min: 0,
            max: 15,
            need: 0
        }
    );
    assert_eq!(l.locate(0), Locate::NeedBlob(0));
    assert_eq!(l.locate(14), Locate::NeedBlob(0));
    assert_eq!(l.locate(15), Locate::End { exact: true });
    for n in 0..=15u32 {
        let mut l = Layout::new(&[16]);
        l.learn(0, n).unwrap();
        assert_eq!(l.size(), Size::Exact(u64::from(n)));
        if n > 0 {
            assert_eq!(l.locate(u64::from(n) - 1), at(0, n - 1, true));
        }
        assert_eq!(l.locate(u64::from(n)), Locate::End { exact: true });
    }
}

#[test]
fn a_single_full_blob_is_not_presumed() {
    // lbry-sdk's `exact.bin`: the last blob's padding is always unknown.
    let mut l = Layout::new(&[FULL]);
    assert_eq!(
        l.plain_len(0),
        Some(PlainLen::Unknown {
            min: 2_097_136,
            max: 2_097_151
        })
    );
    assert_eq!(l.locate(2_097_135), at(0, 2_097_135, true));
    assert_eq!(l.locate(2_097_136), Locate::NeedBlob(0));
    assert_eq!(l.locate(2_097_151), Locate::End { exact: true });
    l.learn(0, 2_097_151).unwrap();
    assert_eq!(l.size(), Size::Exact(CHUNK));
    assert_eq!(l.locate(2_097_150), at(0, 2_097_150, true));
}

#[test]
fn a_writer_that_breaks_the_convention_ends_all_presumptions() {
    // Every blob holds 2 097 136 bytes: still 2 097 152 encrypted.
    let mut l = Layout::new(&[FULL, FULL, FULL, 32]);
    assert_eq!(l.locate(2_097_136), at(0, 2_097_136, false)); // wrong, and says so
    l.learn(0, 2_097_136).unwrap();
    assert!(!l.is_presuming());
    assert_eq!(
        l.plain_len(1),
        Some(PlainLen::Unknown {
            min: 2_097_136,
            max: 2_097_151
        })
    );
    assert_eq!(l.locate(2_097_136), at(1, 0, true));
    assert_eq!(l.locate(2 * 2_097_136 - 1), at(1, 2_097_135, true));
    assert_eq!(l.locate(2 * 2_097_136), Locate::NeedBlob(1));
    assert_eq!(l.locate(u64::MAX), Locate::NeedBlob(1));
    l.learn(1, 2_097_136).unwrap();
    l.learn(2, 2_097_136).unwrap();
    l.learn(3, 20).unwrap();
    assert_eq!(l.size(), Size::Exact(3 * 2_097_136 + 20));
    assert_eq!(l.locate(3 * 2_097_136 + 19), at(3, 19, true));
}

#[test]
fn other_blob_sizes_are_never_presumed() {
    let mut l = Layout::new(&[1024, FULL, 32]);
    assert!(!l.is_presuming());
    assert_eq!(
        l.plain_len(1),
        Some(PlainLen::Unknown {
            min: 2_097_136,
            max: 2_097_151
        })
    );
    assert_eq!(l.locate(1007), at(0, 1007, true));
    assert_eq!(l.locate(1008), Locate::NeedBlob(0));
    assert_eq!(
        l.size(),
        Size::Range {
            min: 1008 + 2_097_136 + 16,
            max: 1023 + 2_097_151 + 31,
            need: 2
        }
    );
    l.learn(2, 16).unwrap();
    assert!(matches!(l.size(), Size::Range { need: 0, .. }));
    l.learn(0, 1010).unwrap();
    assert_eq!(l.locate(1010), at(1, 0, true));
    assert_eq!(l.locate(1010 + 2_097_136), Locate::NeedBlob(1));
}

#[test]
fn an_empty_blob_in_the_middle_is_skipped() {
    let mut l = Layout::new(&[16, 32]);
    l.learn(0, 0).unwrap();
    l.learn(1, 20).unwrap();
    assert_eq!(l.locate(0), at(1, 0, true));
    assert_eq!(l.blob_start(1), Some(0));
    assert_eq!(l.size(), Size::Exact(20));
}

#[test]
fn learn_refuses_impossible_and_conflicting_lengths() {
    let mut l = multi();
    let e = l.learn(0, 2_097_152).unwrap_err();
    assert_eq!(
        e,
        LayoutError::OutOfRange {
            blob: 0,
            encrypted: FULL,
            min: 2_097_136,
            max: 2_097_151,
            got: 2_097_152
        }
    );
    assert_eq!(e.to_string(), "blob 0 is 2097152 bytes encrypted, so it holds 2097136..=2097151 plaintext bytes, not 2097152");
    assert!(matches!(
        l.learn(2, 95),
        Err(LayoutError::OutOfRange { .. })
    ));
    assert_eq!(
        l.learn(3, 1),
        Err(LayoutError::NoSuchBlob { blob: 3, count: 3 })
    );
    l.learn(2, 100).unwrap();
    l.learn(2, 100).unwrap();
    assert_eq!(
        l.learn(2, 101),
        Err(LayoutError::Conflict {
            blob: 2,
            had: 100,
            got: 101
        })
    );
    // Refused facts change nothing.
    assert!(l.is_presuming());
    assert_eq!(l.size(), Size::Presumed(2 * CHUNK + 100));
}

#[test]
fn for_stream_uses_the_descriptor_lengths() {
    use crate::sd::{BlobInfo, StreamDescriptor};
    let info = |blob_num, length| BlobInfo {
        blob_num,
        hash: crate::hash::BlobHash::digest(&[blob_num as u8]),
        iv: [0; 16],
        length,
    };
    let key = crate::blob::StreamKey::new(&[7; 16]).unwrap();
    let sd = StreamDescriptor::new("f", key, vec![info(0, FULL), info(1, FULL)], [0; 16]);
    let l = Layout::for_stream(&sd);
    assert_eq!(l.blob_count(), 2);
    assert_eq!(l.plain_len(0), Some(PlainLen::Presumed(2_097_151)));
    assert_eq!(
        l.plain_len(1),
        Some(PlainLen::Unknown {
            min: 2_097_136,
            max: 2_097_151
        })
    );
}

/// How the stream's true plaintext lengths were written.
#[derive(Debug, Clone, Copy)]
enum Writer {
    /// lbry-sdk: every blob but the last holds exactly 2 097 151 bytes.
    Lbry,
    /// Full-size blobs whose padding varies: the presumption may be wrong.
    Liar,
    /// Any valid length anywhere.
    Any,
}

/// A plaintext length, biased towards the edges of its blob size.
fn plain_len() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0u32),
        Just(15),
        Just(16),
        1u32..64,
        2_097_130u32..=2_097_151,
        0u32..=2_097_151,
    ]
}

/// True plaintext lengths for a stream of `n` blobs written by `writer`.
fn stream(writer: Writer) -> impl Strategy<Value = Vec<u32>> {
    (0usize..7, plain_len()).prop_flat_map(move |(n, last)| {
        let body = match writer {
            Writer::Lbry => Just(2_097_151u32).boxed(),
            Writer::Liar => (2_097_136u32..=2_097_151).boxed(),
            Writer::Any => plain_len().boxed(),
        };
        proptest::collection::vec(body, n).prop_map(move |mut v| {
            v.push(last);
            v
        })
    })
}

/// Brute force: blob and offset holding byte `offset`, or `None` past the end.
fn reference(plain: &[u32], offset: u64) -> Option<(usize, u32)> {
    let mut start = 0u64;
    for (i, &len) in plain.iter().enumerate() {
        if offset < start + u64::from(len) {
            return Some((i, (offset - start) as u32));
        }
        start += u64::from(len);
    }
    None
}

/// Checks every answer `layout` gives against the truth; answers marked as
/// presumed must be right too when the writer was lbry-sdk's.
fn check(
    layout: &Layout,
    plain: &[u32],
    offsets: &[u64],
    trust: bool,
) -> Result<(), TestCaseError> {
    let total: u64 = plain.iter().map(|&p| u64::from(p)).sum();
    for &offset in offsets {
        let want = reference(plain, offset);
        match layout.locate(offset) {
            Locate::At {
                blob,
                offset: o,
                exact,
            } if exact || trust => {
                prop_assert_eq!(Some((blob, o)), want, "offset {}", offset)
            }
            Locate::End { exact } if exact || trust => {
                prop_assert_eq!(want, None, "offset {}", offset)
            }
            Locate::NeedBlob(i) => prop_assert!(
                unknown(layout, i),
                "NeedBlob({}) for a blob that is not unknown",
                i
            ),
            _ => {}
        }
    }
    match layout.size() {
        Size::Exact(s) => prop_assert_eq!(s, total),
        Size::Presumed(s) if trust => prop_assert_eq!(s, total),
        Size::Presumed(_) => {}
        Size::Range { min, max, need } => {
            prop_assert!(min <= total && total <= max);
            prop_assert!(unknown(layout, need), "need {} is not unknown", need);
        }
    }
    for i in 0..plain.len() {
        if let Some(start) = layout.blob_start(i) {
            prop_assert_eq!(start, plain[..i].iter().map(|&p| u64::from(p)).sum::<u64>());
        }
    }
    Ok(())
}

fn unknown(layout: &Layout, blob: usize) -> bool {
    matches!(layout.plain_len(blob), Some(PlainLen::Unknown { .. }))
}

fn writer() -> impl Strategy<Value = Writer> {
    prop_oneof![Just(Writer::Lbry), Just(Writer::Liar), Just(Writer::Any)]
}

proptest! {
    #[test]
    fn locate_agrees_with_brute_force(
        (writer, plain) in writer().prop_flat_map(|w| (Just(w), stream(w))),
        learned in proptest::collection::vec(any::<bool>(), 8),
        random in proptest::collection::vec(any::<u64>(), 8),
    ) {
        let encrypted: Vec<u32> = plain.iter().map(|&p| crate::blob::encrypted_len(p as usize) as u32).collect();
        let total: u64 = plain.iter().map(|&p| u64::from(p)).sum();
        // Every blob boundary, one byte either side, and some random offsets.
        let mut offsets = vec![0, total, total + 1, u64::MAX];
        let mut start = 0u64;
        for &p in &plain {
            offsets.extend([start.saturating_sub(1), start, start + 1, start + 2_097_136]);
            start += u64::from(p);
        }
        offsets.extend(random.iter().map(|r| r % (total + 20)));

        let trust = matches!(writer, Writer::Lbry);
        let mut layout = Layout::new(&encrypted);
        check(&layout, &plain, &offsets, trust)?;
        for (i, &p) in plain.iter().enumerate() {
            if learned[i % learned.len()] {
                layout.learn(i, p).unwrap();
                check(&layout, &plain, &offsets, trust)?;
            }
        }
        // Following NeedBlob always reaches an answer, which is then right if exact.
        for &offset in &offsets {
            let mut l = layout.clone();
            for _ in 0..=plain.len() {
                match l.locate(offset) {
                    Locate::NeedBlob(i) => l.learn(i, plain[i]).unwrap(),
                    _ => break,
                }
            }
            let answered = !matches!(l.locate(offset), Locate::NeedBlob(_));
            prop_assert!(answered, "offset {}", offset);
            check(&l, &plain, &[offset], trust)?;
        }
        // With everything learned, every answer is exact.
        for (i, &p) in plain.iter().enumerate() {
            layout.learn(i, p).unwrap();
        }
        prop_assert_eq!(layout.size(), Size::Exact(total));
        for &offset in &offsets {
            let exact = match layout.locate(offset) {
                Locate::At { exact, .. } | Locate::End { exact } => exact,
                Locate::NeedBlob(_) => false,
            };
            prop_assert!(exact, "offset {}", offset);
        }
        check(&layout, &plain, &offsets, false)?;
    }
}
