//! A hub (wallet server) written in the tests: real TCP on 127.0.0.1:0,
//! newline-delimited JSON-RPC written as lbryio/hub writes it (ujson: no
//! spaces, every `/` as `\/`), a block-header notification before replies,
//! and the claims of a [`World`] built from real transactions.
//!
//! Knobs make it misbehave the ways a client must survive: lie (a wrong raw
//! transaction for a txid, a claim pointer at an output that holds none),
//! send an oversized or garbage line, or go away ([`TestHub::stop`]).

use super::hub_world::{encode_outputs, error_output, Row};
#[allow(unused_imports)] // re-exported for the tests that use the hub
pub use super::hub_world::{stream, StreamSpec, World};
use lbrymount::wire::hub::parse_txid;
use lbrymount::wire::hub::proto::Outputs;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Ways to misbehave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lie {
    /// `get_batch` sends another transaction's bytes for a stream's txid.
    WrongTx,
    /// `resolve` points at output 1 (plain change) instead of the claim.
    NotAtNout,
    /// `resolve` is answered with a line that never ends.
    Oversized,
    /// `resolve` is answered with a line that is not JSON.
    Garbage,
    /// `resolve` is answered with base64 that is no protobuf.
    BadProtobuf,
    /// `resolve` is never answered.
    Silent,
    /// `resolve` of a stream answers with another stream's claim.
    OtherClaim,
}

#[derive(Debug, Default)]
pub struct Knobs {
    pub lie: Option<Lie>,
    /// Send a `blockchain.headers.subscribe` notification before each reply.
    pub notify: bool,
}

struct Shared {
    world: World,
    knobs: Mutex<Knobs>,
    /// Methods called, in order, per connection.
    calls: Mutex<Vec<Vec<String>>>,
    conns: Mutex<Vec<TcpStream>>,
    stopped: AtomicBool,
}

/// A running test hub; stopped (port closed, connections cut) on drop.
pub struct TestHub {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<std::thread::JoinHandle<()>>,
}

/// An address where nothing listens (connections are refused).
pub fn refusing_addr() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap();
    drop(l);
    a.to_string()
}

impl TestHub {
    /// A hub serving channel `channel` and `streams`.
    pub fn start(channel: &str, streams: Vec<StreamSpec>) -> TestHub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            world: World::new(channel, streams),
            knobs: Mutex::new(Knobs {
                lie: None,
                notify: true,
            }),
            calls: Mutex::new(Vec::new()),
            conns: Mutex::new(Vec::new()),
            stopped: AtomicBool::new(false),
        });
        let s = shared.clone();
        let accept = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                if let Ok(c) = stream.try_clone() {
                    s.conns.lock().unwrap().push(c);
                }
                let s = s.clone();
                std::thread::spawn(move || serve(&s, stream));
            }
        });
        TestHub {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    /// `127.0.0.1:PORT`, for `--hub`.
    pub fn arg(&self) -> String {
        self.addr.to_string()
    }

    pub fn world(&self) -> &World {
        &self.shared.world
    }

    pub fn set(&self, f: impl FnOnce(&mut Knobs)) {
        f(&mut self.shared.knobs.lock().unwrap());
    }

    /// The methods each connection called, in order.
    pub fn calls(&self) -> Vec<Vec<String>> {
        self.shared.calls.lock().unwrap().clone()
    }

    /// Closes the port and cuts every connection.
    pub fn stop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr); // wakes the accept loop
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        for c in self.shared.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    }
}

impl Drop for TestHub {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(s: &Shared, stream: TcpStream) {
    let conn_no = {
        let mut calls = s.calls.lock().unwrap();
        calls.push(Vec::new());
        calls.len() - 1
    };
    let mut out = stream.try_clone().unwrap();
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { return };
        let Ok(req) = serde_json::from_str::<Value>(&line) else {
            return; // lbryio/hub closes at once on a parse error
        };
        let method = req["method"].as_str().unwrap_or_default().to_string();
        s.calls.lock().unwrap()[conn_no].push(method.clone());
        let (lie, notify) = {
            let k = s.knobs.lock().unwrap();
            (k.lie, k.notify)
        };
        let mut text = String::new();
        if notify {
            text.push_str(&ujson(
                &json!({"jsonrpc": "2.0", "method": "blockchain.headers.subscribe",
                "params": [{"hex": "00".repeat(112), "height": 1_700_000}]}),
            ));
        }
        match (method.as_str(), lie) {
            ("blockchain.claimtrie.resolve", Some(Lie::Oversized)) => {
                text.push_str("{\"jsonrpc\":\"2.0\",\"result\":\"");
                endless(&mut out, &text);
                return;
            }
            ("blockchain.claimtrie.resolve", Some(Lie::Garbage)) => text.push_str("}{ not json\n"),
            ("blockchain.claimtrie.resolve", Some(Lie::Silent)) => continue,
            _ => {
                let reply = match answer(s, &method, &req["params"], lie) {
                    Ok(r) => json!({"jsonrpc": "2.0", "result": r, "id": req["id"]}),
                    Err((code, msg)) => {
                        json!({"jsonrpc": "2.0", "error": {"code": code, "message": msg}, "id": req["id"]})
                    }
                };
                text.push_str(&ujson(&reply));
            }
        }
        if out.write_all(text.as_bytes()).is_err() {
            return;
        }
    }
}

/// Writes `start`, then base64 characters and never a newline, until the
/// client goes away.
fn endless(out: &mut TcpStream, start: &str) {
    let chunk = "A".repeat(1 << 20);
    if out.write_all(start.as_bytes()).is_err() {
        return;
    }
    while out.write_all(chunk.as_bytes()).is_ok() {}
}

/// ujson's style: compact, with every `/` escaped (only strings hold `/`).
fn ujson(v: &Value) -> String {
    let mut s = serde_json::to_string(v).unwrap().replace('/', "\\/");
    s.push('\n');
    s
}

fn answer(
    s: &Shared,
    method: &str,
    params: &Value,
    lie: Option<Lie>,
) -> Result<Value, (i64, String)> {
    let w = &s.world;
    match method {
        "server.version" => Ok(json!(["0.107.0", "0.113.0"])),
        "server.features" => Ok(
            json!({"hosts": {}, "pruning": null, "server_version": "0.107.0",
            "protocol_min": "0.54.0", "protocol_max": "0.199.0"}),
        ),
        "server.peers.subscribe" => Ok(json!([])),
        "server.ping" => Ok(Value::Null),
        "blockchain.headers.subscribe" => Ok(json!({"hex": "00".repeat(112), "height": 1_700_000})),
        "blockchain.claimtrie.resolve" => {
            let urls = params
                .as_array()
                .ok_or((-32603, "internal server error".to_string()))?;
            Ok(resolve(w, urls, lie))
        }
        "blockchain.claimtrie.search" => Ok(search(w, params)),
        "blockchain.transaction.get_batch" => Ok(get_batch(w, params, lie)),
        _ => Err((-32601, format!("unknown method \"{method}\""))),
    }
}

fn resolve(w: &World, urls: &[Value], lie: Option<Lie>) -> Value {
    if lie == Some(Lie::BadProtobuf) {
        return json!("AAAA//8=");
    }
    let nout = if lie == Some(Lie::NotAtNout) { 1 } else { 0 };
    let mut o = Outputs::default();
    for u in urls {
        let url = u.as_str().unwrap_or_default();
        match w.resolve_row(url) {
            Row::Error(code, text) => o.txos.push(error_output(code, text)),
            Row::Channel => o.txos.push(w.channel_output()),
            Row::Stream(p) => {
                let p = match lie {
                    Some(Lie::OtherClaim) => w
                        .streams
                        .iter()
                        .find(|o| o.tx_hash != p.tx_hash)
                        .unwrap_or(p),
                    _ => p,
                };
                o.txos.push(w.stream_output(p, nout));
                if p.spec.in_channel {
                    o.extra_txos.push(w.channel_output());
                }
            }
        }
    }
    json!(encode_outputs(&o))
}

/// `claim_search` over the channel's streams: `channel`, `text`, newest first, `limit` ≤ 50.
fn search(w: &World, p: &Value) -> Value {
    if let Some(c) = p["channel"].as_str() {
        if !matches!(w.resolve_row(c), Row::Channel) {
            return json!("");
        }
    }
    let text = p["text"].as_str().unwrap_or_default().to_lowercase();
    let mut hits: Vec<_> = w
        .streams
        .iter()
        .filter(|s| p["channel"].is_null() || s.spec.in_channel)
        .filter(|s| {
            s.spec.name.to_lowercase().contains(&text)
                || s.spec.title.to_lowercase().contains(&text)
        })
        .collect();
    hits.sort_by_key(|s| std::cmp::Reverse(s.release_time));
    let limit = p["limit"].as_u64().unwrap_or(10).min(50) as usize;
    let offset = p["offset"].as_u64().unwrap_or(0) as usize;
    let mut o = Outputs {
        total: hits.len().min(1000) as u32,
        ..Default::default()
    };
    for h in hits.iter().skip(offset).take(limit) {
        o.txos.push(w.stream_output(h, 0));
    }
    if o.txos
        .iter()
        .any(|t| t.claim_meta().is_some_and(|m| m.channel.is_some()))
    {
        o.extra_txos.push(w.channel_output());
    }
    json!(encode_outputs(&o))
}

fn get_batch(w: &World, params: &Value, lie: Option<Lie>) -> Value {
    let mut out = serde_json::Map::new();
    for id in params.as_array().into_iter().flatten() {
        let id = id.as_str().unwrap_or_default();
        let hash = parse_txid(id).ok();
        let mut raw = hash.and_then(|h| w.txs.get(&h));
        if lie == Some(Lie::WrongTx) && hash != Some(w.channel_tx) && raw.is_some() {
            raw = w.txs.get(&w.channel_tx);
        }
        let entry = match raw {
            Some(r) => json!([hex::encode(r), {"block_height": 1_699_998, "merkle": [], "pos": 0}]),
            None => json!([null, {"block_height": -1}]),
        };
        out.insert(id.to_string(), entry);
    }
    Value::Object(out)
}
