//! The name search request lbrymount peers add to the blob exchange
//! (docs/protocol.md §11.3): `{"lbrymount_search": "<text>"}` on the blob
//! port, answered by `{"lbrymount_found": [{"sd_hash", "name", "size"}…]}`.
//!
//! lbry-sdk's server closes a connection whose request has no key it knows,
//! without a reply (docs/protocol.md §3.4), so asking an LBRY peer costs one
//! closed connection and confuses nobody; an LBRY client never sends the key,
//! so it never sees the answer.
//!
//! Bounded both ways: the text is at most [`MAX_QUERY`] bytes (the request
//! stays far under the 1200-byte request cap), an answer lists at most
//! [`MAX_HITS`] streams and a reader gives up on an answer that has not ended
//! within its byte limit. Items that are not a stream (a bad hash, a name
//! that cannot be a file name) are skipped and counted, not fatal.
//!
//! PURE: no sockets, no clock.

use super::frame::{object_end, skip_space, Invalid, WireError};
use crate::hash::SdHash;
use serde_json::{json, Map, Value};

/// The request key.
pub const REQUEST_KEY: &str = "lbrymount_search";
/// The answer key.
pub const ANSWER_KEY: &str = "lbrymount_found";
/// Longest query text, in bytes.
pub const MAX_QUERY: usize = 256;
/// Most streams in one answer; a longer answer is cut by its reader.
pub const MAX_HITS: usize = 100;
/// Longest name kept, in bytes (a file name's limit).
pub const MAX_NAME: usize = 255;

/// One stream a peer holds whose name matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub sd_hash: SdHash,
    /// The descriptor's file name.
    pub name: String,
    /// Plaintext size (an upper bound when the peer lacks the last blob).
    pub size: u64,
}

/// The request for `text`, cut to [`MAX_QUERY`] bytes on a character boundary.
pub fn encode_request(text: &str) -> Vec<u8> {
    let mut end = text.len().min(MAX_QUERY);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    serde_json::to_vec(&json!({ REQUEST_KEY: &text[..end] })).unwrap_or_default()
}

/// The query text of a buffered request that is a search; `Ok(None)` when it
/// is a JSON object without the search key (not ours to answer).
pub fn decode_request(buf: &[u8]) -> Result<Option<String>, WireError> {
    let end = object_end(buf)?.ok_or(WireError::Incomplete)?;
    if end + skip_space(&buf[end..]) != buf.len() {
        return Err(Invalid::TrailingData.into());
    }
    let map = parse_object(&buf[..end])?;
    let Some(v) = map.get(REQUEST_KEY) else {
        return Ok(None);
    };
    match v.as_str() {
        Some(s) if s.len() <= MAX_QUERY => Ok(Some(s.to_owned())),
        _ => Err(Invalid::BadValue {
            key: REQUEST_KEY,
            expected: "a string of at most 256 bytes",
        }
        .into()),
    }
}

/// The answer listing `hits`, at most [`MAX_HITS`] of them.
pub fn encode_answer(hits: &[Hit]) -> Vec<u8> {
    let items: Vec<Value> = hits
        .iter()
        .take(MAX_HITS)
        .map(|h| json!({"sd_hash": h.sd_hash.to_string(), "name": h.name, "size": h.size}))
        .collect();
    serde_json::to_vec(&json!({ ANSWER_KEY: items })).unwrap_or_default()
}

/// An answer as read: the first [`MAX_HITS`] valid streams, and how many
/// items were skipped as invalid or beyond the cap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answer {
    pub hits: Vec<Hit>,
    pub skipped: usize,
}

/// Decodes an answer from the start of what was received. It must end
/// within `limit` bytes; more is `Invalid::TooLarge`.
pub fn decode_answer(buf: &[u8], limit: usize) -> Result<Answer, WireError> {
    let window = &buf[..buf.len().min(limit)];
    let end = match object_end(window)? {
        Some(end) => end,
        None if buf.len() >= limit => return Err(Invalid::TooLarge { limit }.into()),
        None => return Err(WireError::Incomplete),
    };
    let map = parse_object(&buf[..end])?;
    let items = map
        .get(ANSWER_KEY)
        .ok_or(Invalid::NoKnownKey)?
        .as_array()
        .ok_or(Invalid::BadValue {
            key: ANSWER_KEY,
            expected: "a list of streams",
        })?;
    let mut answer = Answer::default();
    for item in items {
        match hit(item) {
            Some(h) if answer.hits.len() < MAX_HITS => answer.hits.push(h),
            _ => answer.skipped += 1,
        }
    }
    Ok(answer)
}

/// One listed stream, if it is one: a valid sd hash, a usable file name.
fn hit(v: &Value) -> Option<Hit> {
    let sd_hash = v.get("sd_hash")?.as_str()?.parse().ok()?;
    let name = v.get("name")?.as_str()?;
    let usable = !name.is_empty()
        && name.len() <= MAX_NAME
        && name != "."
        && name != ".."
        && !name.contains(['/', '\0']);
    let size = v.get("size").and_then(Value::as_u64).unwrap_or(0);
    usable.then(|| Hit {
        sd_hash,
        name: name.to_owned(),
        size,
    })
}

fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, Invalid> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Invalid::Json("not an object".into())),
        Err(e) => Err(Invalid::Json(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(n: u8) -> Hit {
        Hit {
            sd_hash: SdHash::from_bytes([n; 48]),
            name: format!("file {n}.txt"),
            size: u64::from(n),
        }
    }

    #[test]
    fn request_round_trips_and_long_text_is_cut_on_a_character() {
        let req = encode_request("crème brûlée");
        assert_eq!(
            decode_request(&req).unwrap().as_deref(),
            Some("crème brûlée")
        );
        let long = "é".repeat(200);
        let req = encode_request(&long);
        assert!(req.len() < crate::wire::exchange::MAX_REQUEST_SIZE);
        assert_eq!(decode_request(&req).unwrap().unwrap().len(), MAX_QUERY);
        assert_eq!(decode_request(br#"{"foo": 1}"#).unwrap(), None);
        assert_eq!(
            decode_request(br#"{"lbrymount_s"#),
            Err(WireError::Incomplete)
        );
        assert!(decode_request(br#"{"lbrymount_search": 5}"#).is_err());
    }

    #[test]
    fn answer_round_trips_and_is_cut_at_the_cap() {
        let hits: Vec<Hit> = (0..=(MAX_HITS as u8 + 5)).map(hit).collect();
        let bytes = encode_answer(&hits);
        let got = decode_answer(&bytes, 1 << 20).unwrap();
        assert_eq!(got.hits, hits[..MAX_HITS]);
        assert_eq!(got.skipped, 0);
    }

    #[test]
    fn bad_items_are_skipped_and_bad_answers_refused() {
        let sd = SdHash::from_bytes([1; 48]).to_string();
        let text = format!(
            r#"{{"lbrymount_found": [{{"sd_hash": "{sd}", "name": "a/b"}}, {{"sd_hash": "zz", "name": "x"}}, 7, {{"sd_hash": "{sd}", "name": "ok"}}]}}"#
        );
        let got = decode_answer(text.as_bytes(), 1 << 20).unwrap();
        assert_eq!(got.hits.len(), 1);
        assert_eq!((got.hits[0].name.as_str(), got.skipped), ("ok", 3));
        let refused = |b: &[u8]| decode_answer(b, 64).unwrap_err();
        assert_eq!(refused(br#"{"other": []}"#), Invalid::NoKnownKey.into());
        assert!(matches!(
            refused(br#"{"lbrymount_found": 3}"#),
            WireError::Invalid(_)
        ));
        let big = format!(r#"{{"lbrymount_found": ["{}"]}}"#, "x".repeat(100));
        assert_eq!(
            refused(big.as_bytes()),
            Invalid::TooLarge { limit: 64 }.into()
        );
        assert_eq!(decode_answer(b"{\"lbry", 64), Err(WireError::Incomplete));
    }
}
