//! A small HTTP/1.1 blob source on 127.0.0.1, as Odysee's blob storage
//! answers `GET /blob?hash=<hex>`: it serves a node's blob files, or
//! misbehaves in one chosen way. Real sockets, real HTTP bytes; one thread
//! per connection, each bounded in time.

use lbrymount::hash::BlobHash;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How the source answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Http {
    /// The blob, as stored.
    Good,
    /// Bytes of the right length that are not the blob.
    WrongBytes,
    /// A `Content-Length` longer than the body, then the connection closed.
    CutShort,
    /// 404 for every blob.
    NotFound,
    /// A body of 3 MiB, over the 2 MiB blob maximum.
    OverCap,
    /// Reads the request and never answers (the connection is closed after a minute).
    Stalls,
}

/// A running source; its thread ends with the test process.
pub struct HttpSource {
    pub url: String,
    requests: Arc<AtomicUsize>,
}

impl HttpSource {
    pub fn start(blobs: HashMap<BlobHash, Vec<u8>>, mode: Http) -> HttpSource {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the HTTP source");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let (blobs, counted) = (Arc::new(blobs), requests.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming().map_while(Result::ok) {
                let (blobs, counted) = (blobs.clone(), counted.clone());
                std::thread::spawn(move || serve(conn, &blobs, mode, &counted));
            }
        });
        HttpSource { url, requests }
    }

    /// Blob requests answered (or stalled) so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// Serves requests on one connection until the client closes it.
fn serve(mut conn: TcpStream, blobs: &HashMap<BlobHash, Vec<u8>>, mode: Http, n: &AtomicUsize) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    while let Some(target) = read_request(&mut conn) {
        n.fetch_add(1, Ordering::SeqCst);
        let hash = target
            .strip_prefix("/blob?hash=")
            .and_then(|h| h.parse::<BlobHash>().ok());
        let blob = hash.and_then(|h| blobs.get(&h));
        let ok = match (blob, mode) {
            (_, Http::Stalls) => {
                std::thread::sleep(Duration::from_secs(60));
                return;
            }
            (None, _) | (_, Http::NotFound) => {
                answer(&mut conn, "404 Not Found", b"not found", None)
            }
            (Some(b), Http::Good) => answer(&mut conn, "200 OK", b, None),
            (Some(b), Http::WrongBytes) => answer(&mut conn, "200 OK", &vec![0x5a; b.len()], None),
            (Some(b), Http::OverCap) => answer(&mut conn, "200 OK", &vec![b[0]; 3 << 20], None),
            (Some(b), Http::CutShort) => {
                let _ = answer(&mut conn, "200 OK", &b[..b.len() / 2], Some(b.len()));
                return;
            }
        };
        if !ok {
            return;
        }
    }
}

/// The request target of the next request on `conn`, once its head is read.
fn read_request(conn: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 || conn.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let line = String::from_utf8_lossy(&head).lines().next()?.to_owned();
    let mut parts = line.split(' ');
    (parts.next()? == "GET").then_some(())?;
    parts.next().map(str::to_owned)
}

/// Writes one answer with `body` (announcing `length` bytes, if given).
fn answer(conn: &mut TcpStream, status: &str, body: &[u8], length: Option<usize>) -> bool {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        length.unwrap_or(body.len())
    );
    conn.write_all(head.as_bytes()).is_ok() && conn.write_all(body).is_ok()
}
