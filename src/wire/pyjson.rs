//! Writing JSON the way Python's `json.dumps` does with its defaults.
//!
//! lbry-sdk serialises every blob exchange message with plain `json.dumps`:
//! separators `", "` and `": "`, `ensure_ascii=True` (every character outside
//! printable ASCII becomes a lowercase `\uXXXX`, astral characters a surrogate
//! pair), keys in insertion order. Matching that byte for byte keeps our
//! requests at the 295 bytes lbry-sdk peers expect and our answers identical
//! to theirs.
//!
//! Numbers are written by `serde_json`: integers and the protocol's `0.0`
//! come out as Python writes them; exotic floats may differ in exponent
//! spelling (`1e-7` vs `1e-07`), which no LBRY message contains.
//!
//! PURE: values in, bytes out.

use serde_json::Value;

/// Writes an object whose keys are in the given order.
pub fn write_object(out: &mut String, fields: &[(&str, Value)]) {
    out.push('{');
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_str(out, key);
        out.push_str(": ");
        write_value(out, value);
    }
    out.push('}');
}

/// Writes any JSON value; object members keep their map order.
pub fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str(out, k);
                out.push_str(": ");
                write_value(out, v);
            }
            out.push('}');
        }
    }
}

/// Writes a string literal with Python's `ensure_ascii` escaping.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dumps(v: &Value) -> String {
        let mut s = String::new();
        write_value(&mut s, v);
        s
    }

    #[test]
    fn separators_match_python_defaults() {
        let mut s = String::new();
        write_object(
            &mut s,
            &[
                ("a", json!([1, "x"])),
                ("b", json!(0.0)),
                ("c", json!(true)),
            ],
        );
        assert_eq!(s, r#"{"a": [1, "x"], "b": 0.0, "c": true}"#);
        assert_eq!(dumps(&json!({})), "{}");
        assert_eq!(dumps(&json!([])), "[]");
        assert_eq!(dumps(&Value::Null), "null");
    }

    #[test]
    fn strings_are_escaped_like_ensure_ascii() {
        // Python: json.dumps('a"\\\n\x01\x7fé😀') == '"a\\"\\\\\\n\\u0001\\u007f\\u00e9\\ud83d\\ude00"'
        assert_eq!(
            dumps(&json!("a\"\\\n\u{1}\u{7f}é😀")),
            r#""a\"\\\n\u0001\u007f\u00e9\ud83d\ude00""#
        );
        assert_eq!(dumps(&json!("\t\r\u{8}\u{c}/")), r#""\t\r\b\f/""#);
    }

    #[test]
    fn output_is_valid_json_that_reads_back() {
        let v = json!({"k": ["é", {"n": -3}], "z": null});
        let back: Value = serde_json::from_str(&dumps(&v)).unwrap();
        assert_eq!(back, v);
    }
}
