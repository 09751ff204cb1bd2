//! Finding where a JSON object ends in a byte stream, without parsing it.
//!
//! The blob exchange protocol has no length prefix: a message is one JSON
//! object, and on the server's answer the raw blob bytes follow right after
//! its closing `}`. The end must therefore be found by a real matcher that
//! knows strings and escapes (a `}` inside a string is not the end), never by
//! looking for the first `}`. This is the *check* phase of a two-phase decode
//! (mini-redis `Frame::check`): it says "complete, ends here", "need more
//! bytes", or "this can never become a JSON object"; `serde_json` then parses
//! exactly the bytes it delimited.
//!
//! PURE: bytes in, a position out.

/// Why bytes cannot be a message of the blob exchange protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("message reached {limit} bytes without being complete")]
    TooLarge { limit: usize },
    #[error("message does not start with a JSON object (byte {0:#04x})")]
    NotAnObject(u8),
    #[error("malformed JSON: {0}")]
    Json(String),
    #[error("data follows the JSON object (a second request sent before the answer?)")]
    TrailingData,
    #[error("no recognised key in the message")]
    NoKnownKey,
    #[error("unexpected key {0:?} in a response")]
    UnknownKey(String),
    #[error("`requested_blobs` is an empty list")]
    EmptyRequestedBlobs,
    #[error("`{key}` holds an invalid blob hash: {source}")]
    BadHash {
        key: &'static str,
        source: crate::hash::HashError,
    },
    #[error("`{key}` must be {expected}")]
    BadValue {
        key: &'static str,
        expected: &'static str,
    },
}

/// Outcome of a decode attempt: more bytes may help (`Incomplete`) or never will (`Invalid`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("message incomplete, more bytes needed")]
    Incomplete,
    #[error(transparent)]
    Invalid(#[from] Invalid),
}

/// JSON's insignificant whitespace (RFC 8259; Python's `json` uses the same four).
pub fn is_json_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Index of the first byte that is not JSON whitespace, or `buf.len()`.
pub fn skip_space(buf: &[u8]) -> usize {
    buf.iter()
        .position(|&b| !is_json_space(b))
        .unwrap_or(buf.len())
}

/// Where the JSON object that starts `buf` (after optional whitespace) ends.
///
/// Returns `Ok(Some(end))` with `buf[..end]` holding the whole object (`end`
/// is just past its closing `}`), `Ok(None)` if the object is not complete
/// yet, or `Err` if the first significant byte is not `{`. Only the nesting is
/// checked here; whether the delimited bytes are valid JSON is left to the
/// parser.
pub fn object_end(buf: &[u8]) -> Result<Option<usize>, Invalid> {
    let start = skip_space(buf);
    match buf.get(start) {
        None => return Ok(None),
        Some(b'{') => {}
        Some(&b) => return Err(Invalid::NotAnObject(b)),
    }
    let mut depth: usize = 0;
    let mut in_string = false;
    let mut escaped = false;
    for (i, &b) in buf.iter().enumerate().skip(start) {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                // `depth >= 1` here: the scan starts at a `{` and stops when it closes.
                depth -= 1;
                if depth == 0 {
                    return Ok(Some(i + 1));
                }
            }
            _ => {}
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_end_of_a_flat_object() {
        assert_eq!(object_end(b"{}"), Ok(Some(2)));
        assert_eq!(object_end(b"{\"a\": 1}rest"), Ok(Some(8)));
        assert_eq!(object_end(b" \r\n\t{}"), Ok(Some(6)));
    }

    #[test]
    fn braces_inside_strings_and_escapes_do_not_count() {
        let s = br#"{"a": "}", "b": "\"}", "c": "\\"}xx"#;
        let end = object_end(s).unwrap().unwrap();
        assert_eq!(&s[..end], br#"{"a": "}", "b": "\"}", "c": "\\"}"#);
    }

    #[test]
    fn nesting_is_followed() {
        let s = br#"{"incoming_blob": {"blob_hash": "x", "length": 16}, "l": [1, [2]]}BLOB"#;
        assert_eq!(object_end(s), Ok(Some(s.len() - 4)));
    }

    #[test]
    fn prefixes_are_incomplete() {
        let s = br#"{"a": {"b": "}"}}"#;
        for k in 0..s.len() {
            assert_eq!(object_end(&s[..k]), Ok(None), "prefix {k}");
        }
        assert_eq!(object_end(s), Ok(Some(s.len())));
    }

    #[test]
    fn non_objects_are_refused_at_once() {
        assert_eq!(
            object_end(b"GET / HTTP/1.1"),
            Err(Invalid::NotAnObject(b'G'))
        );
        assert_eq!(object_end(b"  [1]"), Err(Invalid::NotAnObject(b'[')));
        assert_eq!(object_end(b"}"), Err(Invalid::NotAnObject(b'}')));
    }
}
