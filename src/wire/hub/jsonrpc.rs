//! The hub's JSON-RPC 2.0 framing: one JSON object per `\n`-terminated line
//! (docs/protocol.md).
//!
//! Requests are written as lbry-sdk writes them (Python `json.dumps`: `", "`
//! and `": "` separators, keys `jsonrpc, method, id, params`, `params`
//! omitted when empty), so a hub sees the client it knows. Replies are read
//! with a real JSON decoder: lbryio/hub writes ujson (`\/` escapes, no
//! spaces), the older in-sdk hub wrote `json.dumps` style; both are plain
//! JSON. Lines without an `id` are notifications (new block headers) that
//! may arrive between a request and its reply; they are told apart here and
//! skipped by the connection.
//!
//! PURE: lines in, values out. The connection bounds a line at [`MAX_LINE`]
//! before it gets here.

use crate::wire::pyjson;
use serde_json::Value;

/// The longest reply line accepted. A resolve of 100 URLs or a search page
/// is well under 1 MiB of base64; a `get_batch` of 100 transactions with
/// large claims stays under a few MiB.
pub const MAX_LINE: usize = 16 << 20;

/// What lbry-sdk 0.113.0 sends as `server.version` parameters.
pub const CLIENT_NAME: &str = "LBRY SDK 0.113.0";
/// The protocol version we ask for (and lbry-sdk asks for).
pub const PROTOCOL_VERSION: &str = "0.113.0";

/// An error reply of the hub: `{"code": C, "message": T}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("hub error {code}: {message}")]
pub struct RpcError {
    pub code: i64,
    pub message: String,
}

/// One line from the hub.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// The answer to request `id`.
    Reply {
        id: u64,
        result: Result<Value, RpcError>,
    },
    /// A line with no `id`: a subscription's news, to be skipped.
    Notification { method: String },
}

/// Why a line from the hub is not JSON-RPC.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("reply line of {len} bytes is over the {max}-byte limit")]
    TooLong { len: usize, max: usize },
    #[error("reply is not JSON: {0}")]
    NotJson(String),
    #[error("reply is not a JSON-RPC message: {0}")]
    NotRpc(&'static str),
}

/// The request line (with its `\n`) for `method` with `params` (a JSON
/// array, an object, or `Null`/empty for none).
pub fn encode_request(id: u64, method: &str, params: &Value) -> String {
    let mut fields = vec![
        ("jsonrpc", Value::from("2.0")),
        ("method", Value::from(method)),
        ("id", Value::from(id)),
    ];
    let empty = match params {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    };
    if !empty {
        fields.push(("params", params.clone()));
    }
    let mut line = String::new();
    pyjson::write_object(&mut line, &fields);
    line.push('\n');
    line
}

/// Decodes one line (without or with its `\n`).
pub fn decode_line(line: &[u8]) -> Result<Incoming, FrameError> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    if line.len() > MAX_LINE {
        return Err(FrameError::TooLong {
            len: line.len(),
            max: MAX_LINE,
        });
    }
    let v: Value = serde_json::from_slice(line).map_err(|e| FrameError::NotJson(e.to_string()))?;
    let Value::Object(mut obj) = v else {
        return Err(FrameError::NotRpc("not an object"));
    };
    let id = match obj.remove("id") {
        None | Some(Value::Null) => {
            return match obj.remove("method") {
                Some(Value::String(method)) => Ok(Incoming::Notification { method }),
                _ => Err(FrameError::NotRpc("no id and no method")),
            };
        }
        Some(Value::Number(n)) => n.as_u64().ok_or(FrameError::NotRpc("id is not a count"))?,
        Some(_) => return Err(FrameError::NotRpc("id is not a number")),
    };
    if let Some(err) = obj.remove("error") {
        return Ok(Incoming::Reply {
            id,
            result: Err(rpc_error(err)),
        });
    }
    match obj.remove("result") {
        Some(result) => Ok(Incoming::Reply {
            id,
            result: Ok(result),
        }),
        None => Err(FrameError::NotRpc("reply without result or error")),
    }
}

fn rpc_error(err: Value) -> RpcError {
    let code = err.get("code").and_then(Value::as_i64).unwrap_or(0);
    let message = match err.get("message") {
        Some(Value::String(s)) => s.clone(),
        _ => err.to_string(),
    };
    RpcError { code, message }
}

/// `"0.113.0"` as `(0, 113, 0)`; anything unparsable is `None`.
pub fn parse_version(s: &str) -> Option<(u32, u32, u32)> {
    let mut it = s.split('.').map(|p| p.parse::<u32>().ok());
    let v = (
        it.next()??,
        it.next().flatten().unwrap_or(0),
        it.next().flatten().unwrap_or(0),
    );
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_are_written_as_lbry_sdk_writes_them() {
        // As lbry-sdk 0.113.0 wrote them on the wire, byte for byte.
        assert_eq!(
            encode_request(0, "server.version", &json!([CLIENT_NAME, PROTOCOL_VERSION])),
            "{\"jsonrpc\": \"2.0\", \"method\": \"server.version\", \"id\": 0, \"params\": [\"LBRY SDK 0.113.0\", \"0.113.0\"]}\n"
        );
        assert_eq!(
            encode_request(1, "server.features", &json!([])),
            "{\"jsonrpc\": \"2.0\", \"method\": \"server.features\", \"id\": 1}\n"
        );
        assert_eq!(
            encode_request(4, "blockchain.claimtrie.resolve", &json!(["lbry://@bar/one"])),
            "{\"jsonrpc\": \"2.0\", \"method\": \"blockchain.claimtrie.resolve\", \"id\": 4, \"params\": [\"lbry://@bar/one\"]}\n"
        );
    }

    #[test]
    fn ujson_replies_with_escaped_slashes_decode() {
        let line = br#"{"jsonrpc":"2.0","result":"Cn0K\/+ab==","id":4}"#;
        assert_eq!(
            decode_line(line).unwrap(),
            Incoming::Reply {
                id: 4,
                result: Ok(json!("Cn0K/+ab=="))
            }
        );
        let spaced = b"{\"jsonrpc\": \"2.0\", \"result\": null, \"id\": 7}\n";
        assert_eq!(
            decode_line(spaced).unwrap(),
            Incoming::Reply {
                id: 7,
                result: Ok(Value::Null)
            }
        );
    }

    #[test]
    fn errors_and_notifications_are_told_apart() {
        let err =
            br#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"unknown method \"x\""},"id":2}"#;
        assert_eq!(
            decode_line(err).unwrap(),
            Incoming::Reply {
                id: 2,
                result: Err(RpcError {
                    code: -32601,
                    message: "unknown method \"x\"".into()
                })
            }
        );
        let note = br#"{"jsonrpc":"2.0","method":"blockchain.headers.subscribe","params":[{"hex":"00","height":5}]}"#;
        assert_eq!(
            decode_line(note).unwrap(),
            Incoming::Notification {
                method: "blockchain.headers.subscribe".into()
            }
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            &b""[..],
            b"not json",
            b"[1,2]",
            b"{\"id\":1}",
            b"{\"id\":-1,\"result\":1}",
            b"{\"id\":\"x\",\"result\":1}",
            b"{}",
        ] {
            assert!(
                decode_line(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let long = vec![b' '; MAX_LINE + 1];
        assert!(matches!(
            decode_line(&long),
            Err(FrameError::TooLong { .. })
        ));
    }

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(parse_version("0.113.0"), Some((0, 113, 0)));
        assert!(parse_version("0.65.0") < parse_version("0.107"));
        assert_eq!(parse_version("x"), None);
    }
}
