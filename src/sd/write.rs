//! The two byte layouts lbry-sdk writes (docs/protocol.md §2.2).
//!
//! Written by hand rather than through serde_json: every value is either
//! validated hex or an integer, so nothing ever needs escaping, and the exact
//! separators (`", "` and `": "`, no trailing newline) are plain to see.

use super::StreamDescriptor;

impl StreamDescriptor {
    /// The current layout, `json.dumps(obj, sort_keys=True)`: the bytes whose
    /// SHA-384 is the sd hash of every stream lbry-sdk creates today.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::with_capacity(self.json_capacity());
        out.push_str("{\"blobs\": [");
        for (i, iv) in self.iv_texts.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            match self.blobs.get(i) {
                Some(b) => {
                    push_str_field(&mut out, "{", "blob_hash", &b.hash.to_hex());
                    push_int_field(&mut out, ", ", "blob_num", u64::from(b.blob_num));
                    push_str_field(&mut out, ", ", "iv", iv);
                    push_int_field(&mut out, ", ", "length", u64::from(b.length));
                }
                None => {
                    push_int_field(&mut out, "{", "blob_num", i as u64);
                    push_str_field(&mut out, ", ", "iv", iv);
                    push_int_field(&mut out, ", ", "length", 0);
                }
            }
            out.push('}');
        }
        out.push(']');
        push_str_field(&mut out, ", ", "key", &self.key_text);
        push_str_field(&mut out, ", ", "stream_hash", &self.stream_hash);
        push_str_field(
            &mut out,
            ", ",
            "stream_name",
            &hex::encode(&self.stream_name),
        );
        push_str_field(&mut out, ", ", "stream_type", "lbryfile");
        let suggested = hex::encode(&self.suggested_file_name);
        push_str_field(&mut out, ", ", "suggested_file_name", &suggested);
        out.push('}');
        out.into_bytes()
    }

    /// The legacy layout, lbry-sdk's `old_sort_json`: what older streams on
    /// the network were named by.
    pub fn to_legacy_bytes(&self) -> Vec<u8> {
        let mut out = String::with_capacity(self.json_capacity());
        push_str_field(
            &mut out,
            "{",
            "stream_name",
            &hex::encode(&self.stream_name),
        );
        out.push_str(", \"blobs\": [");
        for (i, iv) in self.iv_texts.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            match self.blobs.get(i) {
                Some(b) => {
                    push_int_field(&mut out, "{", "length", u64::from(b.length));
                    push_int_field(&mut out, ", ", "blob_num", u64::from(b.blob_num));
                    push_str_field(&mut out, ", ", "blob_hash", &b.hash.to_hex());
                }
                None => {
                    push_int_field(&mut out, "{", "length", 0);
                    push_int_field(&mut out, ", ", "blob_num", i as u64);
                }
            }
            push_str_field(&mut out, ", ", "iv", iv);
            out.push('}');
        }
        out.push(']');
        push_str_field(&mut out, ", ", "stream_type", "lbryfile");
        push_str_field(&mut out, ", ", "key", &self.key_text);
        let suggested = hex::encode(&self.suggested_file_name);
        push_str_field(&mut out, ", ", "suggested_file_name", &suggested);
        push_str_field(&mut out, ", ", "stream_hash", &self.stream_hash);
        out.push('}');
        out.into_bytes()
    }

    /// Enough for either layout, so the buffer grows at most once.
    fn json_capacity(&self) -> usize {
        300 + 2 * (self.stream_name.len() + self.suggested_file_name.len())
            + 200 * self.iv_texts.len()
    }
}

/// `<sep>"<key>": "<value>"`; `value` is hex, so it needs no escaping.
fn push_str_field(out: &mut String, sep: &str, key: &str, value: &str) {
    out.push_str(sep);
    out.push('"');
    out.push_str(key);
    out.push_str("\": \"");
    out.push_str(value);
    out.push('"');
}

/// `<sep>"<key>": <value>` with Python's `str(int)`.
fn push_int_field(out: &mut String, sep: &str, key: &str, value: u64) {
    out.push_str(sep);
    out.push('"');
    out.push_str(key);
    out.push_str("\": ");
    out.push_str(&value.to_string());
}
