//! The reader's fast path: a well-formed descriptor read straight into its
//! fields, without building a JSON value tree first.
//!
//! Opening a stream waits for its descriptor to be parsed, and a 1 GiB
//! stream's has 513 entries: as a `serde_json::Value` tree (a map with four
//! owned keys per entry) that took 1.5-3 ms, a good part of the time to a
//! cold first byte. Here keys are matched where they lie and only the values
//! kept are allocated.
//!
//! This path only ever accepts: anything it does not take (a value of
//! another type, a missing field, an entry that is not an object, an escaped
//! key, too many entries) makes it give up, and the value-tree reader reads
//! the bytes again and says exactly what is wrong, in its own order of
//! checks. Both take any key order, ignore unknown keys, and keep the last
//! of a repeated one, so what one accepts the other reads the same way.

use super::read::{RawEntry, RawTop};
use super::MAX_ENTRIES;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::fmt;

/// The descriptor's fields with their types checked, or `None` to let the
/// value-tree reader look.
pub(super) fn top(bytes: &[u8]) -> Option<RawTop> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let top = de.deserialize_map(TopVisitor).ok()?;
    de.end().ok()?;
    Some(top)
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = RawTop;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a stream descriptor object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawTop, A::Error> {
        let (mut name, mut key, mut suggested, mut hash, mut entries) =
            (None, None, None, None, None);
        while let Some(k) = map.next_key::<&str>()? {
            match k {
                "stream_name" => name = Some(map.next_value()?),
                "key" => key = Some(map.next_value()?),
                "suggested_file_name" => suggested = Some(map.next_value()?),
                "stream_hash" => hash = Some(map.next_value()?),
                "blobs" => entries = Some(map.next_value::<Entries>()?.0),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        match (name, key, suggested, hash, entries) {
            (
                Some(stream_name),
                Some(key_text),
                Some(suggested),
                Some(written_hash),
                Some(entries),
            ) => Ok(RawTop {
                stream_name,
                key_text,
                suggested,
                written_hash,
                entries,
            }),
            _ => Err(de::Error::custom("a field is missing")),
        }
    }
}

/// The `blobs` array: at least one entry, at most [`MAX_ENTRIES`].
struct Entries(Vec<RawEntry>);

impl<'de> de::Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(EntriesVisitor)
    }
}

struct EntriesVisitor;

impl<'de> Visitor<'de> for EntriesVisitor {
    type Value = Entries;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of blob entries")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Entries, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_ENTRIES));
        while let Some(Entry(e)) = seq.next_element()? {
            if out.len() == MAX_ENTRIES {
                return Err(de::Error::custom("too many entries"));
            }
            out.push(e);
        }
        if out.is_empty() {
            return Err(de::Error::custom("no entries"));
        }
        Ok(Entries(out))
    }
}

/// One entry, from an object only (serde would also take an array).
struct Entry(RawEntry);

impl<'de> de::Deserialize<'de> for Entry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(EntryVisitor)
    }
}

struct EntryVisitor;

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = Entry;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a blob entry object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entry, A::Error> {
        let (mut num, mut iv, mut length, mut hash) = (None, None, None, None);
        while let Some(k) = map.next_key::<&str>()? {
            match k {
                "blob_num" => num = Some(map.next_value::<u64>()?),
                "iv" => iv = Some(map.next_value::<String>()?),
                "length" => length = Some(map.next_value::<u64>()?),
                // Kept as a value, `null` included: the rules tell a
                // terminator's null hash from an absent one.
                "blob_hash" => hash = Some(map.next_value::<Value>()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        match (num, iv, length) {
            (Some(blob_num), Some(iv), Some(length)) => Ok(Entry(RawEntry {
                blob_hash: hash,
                blob_num,
                iv,
                length,
            })),
            _ => Err(de::Error::custom("an entry field is missing")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::read::value_tree;
    use super::super::tests::{AES256_SD, HELLO_SD};
    use super::*;

    /// The fields both paths read, as comparable text.
    fn fields(t: &RawTop) -> String {
        let entries: Vec<String> = t
            .entries
            .iter()
            .map(|e| format!("{:?} {} {} {}", e.blob_hash, e.blob_num, e.iv, e.length))
            .collect();
        format!(
            "{} {} {} {} {entries:?}",
            t.stream_name, t.key_text, t.suggested, t.written_hash
        )
    }

    fn same_as_value_tree(json: &str) {
        let typed = top(json.as_bytes()).expect("the typed path takes it");
        let tree = value_tree(json.as_bytes()).expect("the value tree takes it");
        assert_eq!(fields(&typed), fields(&tree), "{json}");
    }

    #[test]
    fn both_paths_read_real_descriptors_alike() {
        same_as_value_tree(HELLO_SD);
        same_as_value_tree(AES256_SD);
        let plain = vec![7u8; 3 * crate::blob::PLAIN_CHUNK + 5];
        let (desc, _) = super::super::tests::create("f.bin", &plain);
        same_as_value_tree(&String::from_utf8(desc.to_bytes()).unwrap());
    }

    #[test]
    fn reordered_unknown_and_repeated_keys_read_alike() {
        // Keys in another order, unknown ones (nested too), and a repeated
        // key, whose last value both keep.
        let json = HELLO_SD
            .replace(
                r#""blob_num": 0,"#,
                r#""x": {"y": [1, 2]}, "blob_num": 5, "blob_num": 0,"#,
            )
            .replace(r#""key": "#, r#""stream_type": "other", "key": "#);
        same_as_value_tree(&json);
        // A terminator's null hash is kept as a value: the rules refuse it.
        let null = HELLO_SD.replace(
            r#"{"blob_num": 1,"#,
            r#"{"blob_hash": null, "blob_num": 1,"#,
        );
        same_as_value_tree(&null);
        let sd = crate::hash::SdHash::digest(null.as_bytes());
        assert!(matches!(
            super::super::read::parse(null.as_bytes(), sd),
            Err(crate::sd::SdError::TerminatorHasHash { .. })
        ));
    }

    #[test]
    fn what_the_typed_path_does_not_take_is_left_to_the_value_tree() {
        let cases = [
            // An entry as an array, which serde would map onto the fields.
            HELLO_SD.replace(
                r#"{"blob_num": 1, "iv": "02020202020202020202020202020202", "length": 0}"#,
                r#"[1, "02020202020202020202020202020202", 0]"#,
            ),
            HELLO_SD.replace(r#""blob_num": 1"#, r#""blob_num": 1.0"#),
            HELLO_SD.replace(r#""blob_num": 1"#, r#""blob_num": -1"#),
            HELLO_SD.replace(r#""length": 0"#, r#""length": "0""#),
            HELLO_SD.replace(r#""key": "#, r#""k\u0065y": "#),
            HELLO_SD.replace(r#""stream_hash": "#, r#""stream_hashh": "#),
            HELLO_SD.replace(r#", "iv": "02020202020202020202020202020202""#, ""),
            HELLO_SD.replace(r#""blobs": [{"#, r#""blobs": [], "b": [{"#),
            format!("{HELLO_SD} x"),
            "[1, 2]".to_owned(),
        ];
        for json in cases {
            assert!(top(json.as_bytes()).is_none(), "typed path took {json}");
        }
    }
}
