use super::*;
use crate::wire::bencode::encode_standard;

fn dict(pairs: Vec<(&str, Value)>) -> Value {
    Value::Dict(pairs.into_iter().map(|(k, v)| (Key::from(k), v)).collect())
}

fn file(path: &[&str], length: i64) -> Value {
    let path = path.iter().map(|c| Value::bytes(c.as_bytes())).collect();
    dict(vec![
        ("length", Value::Int(length)),
        ("path", Value::List(path)),
    ])
}

fn torrent(files: Vec<Value>, piece_length: i64, pieces: usize) -> Vec<u8> {
    let info = dict(vec![
        ("name", Value::bytes(b"album")),
        ("piece length", Value::Int(piece_length)),
        ("pieces", Value::Bytes(vec![7u8; 20 * pieces])),
        ("files", Value::List(files)),
    ]);
    let top = dict(vec![
        ("announce", Value::bytes(b"udp://127.0.0.1:1/announce")),
        ("info", info),
    ]);
    encode_standard(&top)
}

#[test]
fn a_multi_file_torrent_lays_its_files_end_to_end_and_hashes_its_info_dict() {
    let bytes = torrent(
        vec![file(&["a.txt"], 5), file(&["sub", "b.bin"], 40000)],
        16384,
        3,
    );
    let m = parse(&bytes).unwrap();
    assert_eq!(m.name, "album");
    assert_eq!(m.total, 40005);
    assert_eq!(
        m.files[1],
        FileEntry {
            path: "sub/b.bin".into(),
            length: 40000,
            offset: 5,
            pad: false
        }
    );
    assert_eq!(m.piece_len(2), 40005 - 2 * 16384);
    assert_eq!(m.trackers, vec!["udp://127.0.0.1:1/announce".to_string()]);
    let start = bytes.windows(6).position(|w| w == b"4:info").unwrap() + 6;
    assert_eq!(
        m.info_hash,
        crate::torrent::sha1(&bytes[start..bytes.len() - 1])
    );
}

#[test]
fn paths_that_escape_or_clash_are_refused() {
    for (files, why) in [
        (vec![file(&["..", "etc"], 1)], "`..`"),
        (vec![file(&["a/b"], 1)], "slash"),
        (vec![file(&[""], 1)], "empty"),
        (vec![file(&["x"], 1), file(&["x"], 1)], "x"),
        (vec![file(&["x"], 1), file(&["x", "y"], 1)], "x"),
    ] {
        let err = parse(&torrent(files, 16384, 1)).unwrap_err().to_string();
        assert!(err.contains(why), "{err} should name {why}");
    }
}

#[test]
fn a_piece_list_that_does_not_cover_the_size_is_refused() {
    let err = parse(&torrent(vec![file(&["a"], 40000)], 16384, 2)).unwrap_err();
    assert!(
        err.to_string().contains("2 pieces do not cover 40000"),
        "{err}"
    );
    let err = parse(&torrent(vec![file(&["a"], 1)], 0, 1)).unwrap_err();
    assert!(err.to_string().contains("piece length 0"), "{err}");
    let err = parse(&torrent(vec![file(&["a"], -1)], 16384, 1)).unwrap_err();
    assert_eq!(err, MetainfoError::Field("length"));
}

#[test]
fn padding_files_keep_their_bytes_but_are_flagged() {
    let mut pad = file(&[".pad", "16379"], 16379);
    if let Value::Dict(d) = &mut pad {
        d.insert(Key::from("attr"), Value::bytes(b"p"));
    }
    let m = parse(&torrent(
        vec![file(&["a"], 5), pad, file(&["b"], 10)],
        16384,
        2,
    ))
    .unwrap();
    assert!(m.files[1].pad);
    assert_eq!(m.files[2].offset, 16384);
}

proptest::proptest! {
    #[test]
    fn any_bytes_parse_or_fail_without_panic(b in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
        let _ = parse(&b);
    }
}
