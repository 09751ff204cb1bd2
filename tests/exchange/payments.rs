//! Payment rates and availability queries against a real `lbrymount serve`
//! process on 127.0.0.1: each request is the bytes an LBRY client writes
//! (lbry-sdk's `make_request_for_blob_hash`; the lbrynet clients before it,
//! which asked availability and offered a price of 0.0001 separately), and
//! each answer must be the bytes lbry-sdk's server writes (docs/protocol.md §3).

use crate::common::cli::{publisher, ServeNode};
use lbrymount::exchange::server::PLACEHOLDER_ADDRESS;
use lbrymount::hash::BlobHash;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Hang guard for every read: an answer that does not come fails the test.
const READ_DEADLINE: Duration = Duration::from_secs(10);

fn connect(server: &ServeNode) -> TcpStream {
    let s = TcpStream::connect(server.addr).expect("connect to serve");
    s.set_read_timeout(Some(READ_DEADLINE)).unwrap();
    s
}

fn read_n(s: &mut TcpStream, n: usize, request: &str) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    if let Err(e) = s.read_exact(&mut buf) {
        panic!("no full answer to {request}: {e}");
    }
    buf
}

/// Everything until the server closes the connection (a reset counts as closed).
fn read_until_closed(s: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    match s.read_to_end(&mut got) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            panic!("the server neither answered nor closed the connection")
        }
        _ => got,
    }
}

fn standard(x: &str, rate: &str) -> String {
    format!(
        r#"{{"requested_blobs": ["{x}"], "lbrycrd_address": true, "blob_data_payment_rate": {rate}, "requested_blob": "{x}"}}"#
    )
}

#[test]
fn rates_and_availability_get_lbry_sdks_answer_bytes() {
    let (node, sd, _) = publisher(1000, 31, "paid.bin");
    let blob = std::fs::read(node.blob_dir().join(&sd)).unwrap();
    let n = blob.len();
    let u = BlobHash::digest(b"not held").to_hex();
    let a = PLACEHOLDER_ADDRESS;
    let server = ServeNode::start(&node);
    let full = format!(
        r#"{{"incoming_blob": {{"blob_hash": "{sd}", "length": {n}}}, "blob_data_payment_rate": "RATE_ACCEPTED", "available_blobs": ["{sd}"], "lbrycrd_address": "{a}"}}"#
    );
    let accepted = r#"{"blob_data_payment_rate": "RATE_ACCEPTED"}"#.to_owned();
    let held = format!(r#"{{"available_blobs": ["{sd}"], "lbrycrd_address": true}}"#);
    // (request, answer header, blob bytes after it), all on one connection.
    let exchanges: Vec<(String, String, &[u8])> = vec![
        // lbry-sdk's client, byte for byte (295 bytes).
        (standard(&sd, "0.0"), full.clone(), &blob),
        (
            standard(&u, "0.0"),
            format!(
                r#"{{"blob_data_payment_rate": "RATE_ACCEPTED", "available_blobs": [], "lbrycrd_address": "{a}"}}"#
            ),
            b"",
        ),
        // A price, a negative price: accepted all the same.
        (standard(&sd, "0.0001"), full.clone(), &blob),
        (standard(&sd, "-1.0"), full, &blob),
        // lbrynet's availability query, then its price offer.
        (
            format!(r#"{{"requested_blobs": ["{u}", "{sd}"]}}"#),
            held.clone(),
            b"",
        ),
        (
            format!(r#"{{"requested_blobs": ["{sd}"], "blob_data_payment_rate": 0.0001}}"#),
            format!(
                r#"{{"blob_data_payment_rate": "RATE_ACCEPTED", "available_blobs": ["{sd}"], "lbrycrd_address": true}}"#
            ),
            b"",
        ),
        (
            r#"{"blob_data_payment_rate": 0.0001}"#.into(),
            accepted.clone(),
            b"",
        ),
        (
            format!(r#"{{"blob_data_payment_rate": 0.0, "requested_blob": "{sd}"}}"#),
            format!(
                r#"{{"incoming_blob": {{"blob_hash": "{sd}", "length": {n}}}, "blob_data_payment_rate": "RATE_ACCEPTED"}}"#
            ),
            &blob,
        ),
    ];
    exchange_all(&server, exchanges);
}

#[test]
fn odd_offers_and_names_that_are_not_hashes_are_answered_like_lbry_sdk() {
    let (node, sd, _) = publisher(700, 33, "odd.bin");
    let server = ServeNode::start(&node);
    let upper = sd.to_uppercase();
    let accepted = r#"{"blob_data_payment_rate": "RATE_ACCEPTED"}"#.to_owned();
    let held = format!(r#"{{"available_blobs": ["{sd}"], "lbrycrd_address": true}}"#);
    let exchanges: Vec<(String, String, &[u8])> = vec![
        (
            r#"{"blob_data_payment_rate": "free"}"#.into(),
            accepted.clone(),
            b"",
        ),
        (r#"{"blob_data_payment_rate": null}"#.into(), accepted, b""),
        (
            format!(r#"{{"requested_blobs": ["{upper}", "abc", 7, null, "{sd}"]}}"#),
            held,
            b"",
        ),
    ];
    exchange_all(&server, exchanges);
}

/// Sends each request on one connection and checks the answer is exactly
/// the header and blob bytes given, and that nothing else follows.
fn exchange_all(server: &ServeNode, exchanges: Vec<(String, String, &[u8])>) {
    let mut s = connect(server);
    for (request, header, body) in exchanges {
        s.write_all(request.as_bytes()).unwrap();
        let got = read_n(&mut s, header.len() + body.len(), &request);
        assert_eq!(
            String::from_utf8_lossy(&got[..header.len()]),
            header,
            "answer to {request}"
        );
        assert!(&got[header.len()..] == body, "blob bytes after {request}");
    }
    s.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(read_until_closed(&mut s), b"", "no stray bytes");
}

#[test]
fn malformed_availability_requests_close_the_connection_and_nothing_else() {
    let (node, sd, _) = publisher(500, 32, "odd.bin");
    let server = ServeNode::start(&node);
    let twelve = vec![format!("\"{sd}\""); 12].join(", ");
    let bad = [
        r#"{"requested_blobs": []}"#.to_owned(),
        r#"{"requested_blobs": 7}"#.to_owned(),
        r#"{"requested_blobs": [["nested"]], "blob_data_payment_rate": 0.0}"#.to_owned(),
        // 12 hashes do not fit in lbry-sdk's 1200-byte request limit.
        format!(r#"{{"requested_blobs": [{twelve}]}}"#),
    ];
    let want = format!(r#"{{"available_blobs": ["{sd}"], "lbrycrd_address": true}}"#);
    for request in bad {
        let mut s = connect(&server);
        // A closed connection may refuse the rest of a long write: also a refusal.
        let _ = s.write_all(request.as_bytes());
        assert_eq!(
            read_until_closed(&mut s),
            b"",
            "closed unanswered: {request}"
        );
        // The server goes on answering everyone else.
        let mut good = connect(&server);
        let query = format!(r#"{{"requested_blobs": ["{sd}"]}}"#);
        good.write_all(query.as_bytes()).unwrap();
        assert_eq!(read_n(&mut good, want.len(), &query), want.as_bytes());
    }
}
