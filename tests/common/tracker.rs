//! A BEP-15 UDP tracker for tests: real UDP on 127.0.0.1, the real wire
//! format written out byte by byte here (not with the crate's codec, so a
//! mistake there is caught), connection ids checked, peers remembered per
//! info_hash. Stopped on drop.

use std::collections::{HashMap, HashSet};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

const PROTOCOL_ID: u64 = 0x41727101980;

/// What the tracker was told: info_hash -> (peer address, announced as seeder).
#[derive(Default)]
struct State {
    conns: HashSet<u64>,
    swarms: HashMap<[u8; 20], Vec<(SocketAddr, bool)>>,
    announces: usize,
    connects: usize,
}

pub struct Tracker {
    pub addr: SocketAddr,
    state: Arc<(Mutex<State>, Condvar)>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Tracker {
    /// A tracker answering announces with the swarm; with `refuse`, every
    /// announce gets an error answer with that message.
    pub fn start(refuse: Option<&'static str>) -> Tracker {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        let state = Arc::new((Mutex::new(State::default()), Condvar::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s2, stop2) = (state.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !stop2.load(Ordering::SeqCst) {
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                if let Some(answer) = answer(&s2, &buf[..n], from, refuse) {
                    let _ = socket.send_to(&answer, from);
                }
            }
        });
        Tracker {
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }

    pub fn arg(&self) -> String {
        self.addr.to_string()
    }

    /// Waits (hang guard: 30 s) until a seeder announced `info_hash`.
    pub fn wait_seeder(&self, info_hash: [u8; 20]) -> SocketAddr {
        let (lock, cv) = &*self.state;
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut st = lock.lock().unwrap();
        loop {
            let seeder = st
                .swarms
                .get(&info_hash)
                .and_then(|s| s.iter().find(|(_, seed)| *seed));
            if let Some((a, _)) = seeder {
                return *a;
            }
            let left = deadline
                .checked_duration_since(Instant::now())
                .expect("no seeder announced within 30 s");
            st = cv.wait_timeout(st, left).unwrap().0;
        }
    }

    /// Connect requests answered.
    pub fn connects(&self) -> usize {
        self.state.0.lock().unwrap().connects
    }

    /// Announces received (any info_hash), refused ones included.
    pub fn announces(&self) -> usize {
        self.state.0.lock().unwrap().announces
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

fn be64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().unwrap())
}

fn answer(
    state: &(Mutex<State>, Condvar),
    req: &[u8],
    from: SocketAddr,
    refuse: Option<&str>,
) -> Option<Vec<u8>> {
    if req.len() < 16 {
        return None;
    }
    let (cid, action, tid) = (be64(req, 0), be32(req, 8), &req[12..16]);
    let mut st = state.0.lock().unwrap();
    let mut out = Vec::new();
    if action == 0 && cid == PROTOCOL_ID {
        let id: u64 = rand::random();
        st.conns.insert(id);
        st.connects += 1;
        out.extend_from_slice(&0u32.to_be_bytes());
        out.extend_from_slice(tid);
        out.extend_from_slice(&id.to_be_bytes());
        return Some(out);
    }
    if action != 1 || req.len() < 98 {
        return None;
    }
    st.announces += 1;
    if !st.conns.contains(&cid) || refuse.is_some() {
        out.extend_from_slice(&3u32.to_be_bytes());
        out.extend_from_slice(tid);
        out.extend_from_slice(refuse.unwrap_or("unknown connection id").as_bytes());
        return Some(out);
    }
    let info_hash: [u8; 20] = req[16..36].try_into().unwrap();
    let seeding = be64(req, 64) == 0;
    let port = u16::from_be_bytes([req[96], req[97]]);
    let peer = SocketAddr::new(from.ip(), port);
    let swarm = st.swarms.entry(info_hash).or_default();
    swarm.retain(|(a, _)| *a != peer);
    swarm.push((peer, seeding));
    out.extend_from_slice(&1u32.to_be_bytes());
    out.extend_from_slice(tid);
    for v in [1800u32, 0, 0] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    for (a, _) in swarm.iter().filter(|(a, _)| *a != peer) {
        if let SocketAddr::V4(v4) = a {
            out.extend_from_slice(&v4.ip().octets());
            out.extend_from_slice(&v4.port().to_be_bytes());
        }
    }
    state.1.notify_all();
    Some(out)
}
