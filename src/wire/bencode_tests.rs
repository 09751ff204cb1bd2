use super::*;
use proptest::prelude::*;

fn b(s: &str) -> Value {
    Value::bytes(s)
}

fn dict<const N: usize>(entries: [(Key, Value); N]) -> Value {
    Value::Dict(entries.into_iter().collect())
}

fn round_trip(wire: &[u8], expected: Value) {
    assert_eq!(
        decode(wire),
        Ok(expected.clone()),
        "{}",
        String::from_utf8_lossy(wire)
    );
    assert_eq!(encode(&expected).as_deref(), Ok(wire));
}

#[test]
fn protocol_vectors_decode_and_encode_byte_exact() {
    round_trip(b"i42e", Value::Int(42));
    round_trip(b"0:", b(""));
    round_trip(b"4:spam", b("spam"));
    round_trip(b"6:4:spam", b("4:spam"));
    round_trip(
        b"l4:spami42ee",
        Value::List(vec![b("spam"), Value::Int(42)]),
    );
    round_trip(
        b"d3:bar4:spam3:fooi42ee",
        dict([("bar".into(), b("spam")), ("foo".into(), Value::Int(42))]),
    );
    let triple = |ip: &str, port| Value::List(vec![b(ip), b("127.0.0.1"), Value::Int(port)]);
    round_trip(
        b"ll3:abc9:127.0.0.1i1919eel3:def9:127.0.0.1i1921eee",
        Value::List(vec![triple("abc", 1919), triple("def", 1921)]),
    );
}

#[test]
fn integer_keys_sort_numerically_before_byte_keys() {
    let v = dict([
        (Key::Int(10), Value::Int(0)),
        (Key::Int(2), Value::Int(0)),
        ("a".into(), Value::Int(0)),
        (Key::Int(-1), Value::Int(0)),
    ]);
    assert_eq!(encode(&v).unwrap(), b"di-1ei0ei2ei0ei10ei0e1:ai0ee");
}

#[test]
fn dict_not_last_is_decoded_but_never_encoded() {
    // Python raises DecodeError here; we read it as standard bencode.
    let wire = b"d1:ald1:bi1ee1:xe1:zi5ee";
    let inner = dict([("b".into(), Value::Int(1))]);
    let v = dict([
        ("a".into(), Value::List(vec![inner, b("x")])),
        ("z".into(), Value::Int(5)),
    ]);
    assert_eq!(decode(wire), Ok(v.clone()));
    assert_eq!(encode(&v), Err(EncodeError::DictNotLast));
}

#[test]
fn encoder_refuses_every_value_that_ends_in_a_dict_unless_last() {
    let d = dict([]);
    let ends = Value::List(vec![Value::Int(1), d.clone()]);
    for bad in [
        Value::List(vec![d.clone(), Value::Int(1)]),
        Value::List(vec![ends.clone(), Value::Int(1)]),
        dict([("a".into(), d.clone()), ("b".into(), Value::Int(1))]),
        dict([("a".into(), ends.clone()), ("b".into(), Value::Int(1))]),
        Value::List(vec![Value::List(vec![d.clone(), b("x")])]),
        Value::List(vec![Value::List(vec![d.clone()]), d.clone()]),
    ] {
        assert_eq!(encode(&bad), Err(EncodeError::DictNotLast), "{bad:?}");
    }
    for good in [
        Value::List(vec![Value::Int(1), ends.clone()]),
        dict([("a".into(), Value::Int(1)), ("b".into(), ends)]),
        Value::List(vec![b("x"), Value::List(vec![d.clone()])]),
        d,
    ] {
        let wire = encode(&good).unwrap();
        assert_eq!(decode(&wire), Ok(good));
    }
}

#[test]
fn trailing_bytes_after_the_first_value_are_ignored() {
    assert_eq!(decode_prefix(b"de garbage"), Ok((dict([]), 2)));
    assert_eq!(decode(b"i1eXYZ"), Ok(Value::Int(1)));
}

#[test]
fn numbers_are_strict() {
    for bad in [
        &b"i03e"[..],
        b"i-0e",
        b"ie",
        b"i-e",
        b"i+1e",
        b"i 1e",
        b"i1.0e",
        b"03:abc",
        b"i9223372036854775808e",
        b"99999999999999999999:x",
    ] {
        assert!(decode(bad).is_err(), "{}", String::from_utf8_lossy(bad));
    }
    assert_eq!(decode(b"i-9223372036854775808e"), Ok(Value::Int(i64::MIN)));
    assert_eq!(decode(b"i9223372036854775807e"), Ok(Value::Int(i64::MAX)));
    assert_eq!(decode(b"i0e"), Ok(Value::Int(0)));
}

#[test]
fn malformed_input_has_a_reason() {
    assert_eq!(decode(b""), Err(Invalid::Empty));
    assert_eq!(decode(b"5:abc"), Err(Invalid::Truncated));
    assert_eq!(decode(b"l"), Err(Invalid::Truncated));
    assert_eq!(decode(b"i12"), Err(Invalid::Truncated));
    assert_eq!(
        decode(b"x"),
        Err(Invalid::UnexpectedByte { at: 0, byte: b'x' })
    );
    assert_eq!(decode(b"dlei1ee"), Err(Invalid::BadKey { at: 1 }));
    assert_eq!(
        decode(b"di1ei1ei1ei2ee"),
        Err(Invalid::DuplicateKey { at: 7 })
    );
    let deep = "l".repeat(MAX_DEPTH + 1) + &"e".repeat(MAX_DEPTH + 1);
    assert_eq!(
        decode(deep.as_bytes()),
        Err(Invalid::TooDeep { at: MAX_DEPTH })
    );
    let ok = "l".repeat(MAX_DEPTH) + &"e".repeat(MAX_DEPTH);
    assert!(decode(ok.as_bytes()).is_ok());
}

/// lbry-sdk's `_bdecode`, quirk included: a dict does not consume its own
/// closing `e`. Returns the value and the index after it, or None where
/// Python raises.
pub(crate) fn python_decode(data: &[u8], at: usize) -> Option<(Value, usize)> {
    let find = |c: u8| data[at..].iter().position(|&b| b == c).map(|p| p + at);
    match *data.get(at)? {
        b'i' => {
            let end = find(b'e')?;
            let n = std::str::from_utf8(&data[at + 1..end]).ok()?.parse().ok()?;
            Some((Value::Int(n), end + 1))
        }
        b'l' => {
            let (mut items, mut i) = (Vec::new(), at + 1);
            while *data.get(i)? != b'e' {
                let (v, next) = python_decode(data, i)?;
                items.push(v);
                i = next;
            }
            Some((Value::List(items), i + 1))
        }
        b'd' => {
            let (mut map, mut i) = (BTreeMap::new(), at + 1);
            while *data.get(i)? != b'e' {
                let (k, next) = python_decode(data, i)?;
                let (v, next) = python_decode(data, next)?;
                let k = match k {
                    Value::Int(k) => Key::Int(k),
                    Value::Bytes(k) => Key::Bytes(k),
                    _ => return None,
                };
                map.insert(k, v);
                i = next;
            }
            Some((Value::Dict(map), i))
        }
        _ => {
            let colon = find(b':')?;
            let len: usize = std::str::from_utf8(&data[at..colon]).ok()?.parse().ok()?;
            let end = colon + 1 + len;
            Some((Value::Bytes(data.get(colon + 1..end)?.to_vec()), end))
        }
    }
}

#[test]
fn the_python_model_shows_the_quirk() {
    assert_eq!(python_decode(b"d1:ald1:bi1ee1:xe1:zi5ee", 0), None);
    let ping_args = b"ld15:protocolVersioni1eee";
    assert!(python_decode(ping_args, 0).is_some());
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Value::Int),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(Value::Bytes),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        let key = prop_oneof![
            any::<i64>().prop_map(Key::Int),
            proptest::collection::vec(any::<u8>(), 0..4).prop_map(Key::Bytes),
        ];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
            proptest::collection::btree_map(key, inner, 0..4).prop_map(Value::Dict),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn bencode_shaped_bytes_never_panic(
        parts in proptest::collection::vec(
            prop_oneof![Just("d"), Just("l"), Just("e"), Just("i"), Just("-"), Just("0"),
                        Just("1"), Just("9"), Just(":"), Just("x")],
            0..64,
        )
    ) {
        let _ = decode(parts.concat().as_bytes());
    }

    #[test]
    fn what_encodes_decodes_back(v in arb_value()) {
        match encode(&v) {
            Ok(wire) => {
                prop_assert_eq!(decode_prefix(&wire), Ok((v.clone(), wire.len())));
                // What we emit, Python reads as we meant it.
                prop_assert_eq!(python_decode(&wire, 0).map(|(v, _)| v), Some(v));
            }
            Err(EncodeError::DictNotLast) => {}
        }
    }
}
