//! Running the `lbrymount` binary in tests, each node with its own temp data dir.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary cargo built for this test run.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_lbrymount"))
}

/// A data directory (and scratch space) that disappears with the test.
pub struct Node {
    pub dir: tempfile::TempDir,
}

impl Node {
    /// Every blob file of this node's store (hash -> bytes), e.g. as a fake peer's content.
    pub fn blobs(&self) -> std::collections::HashMap<lbrymount::hash::BlobHash, Vec<u8>> {
        std::fs::read_dir(self.blob_dir())
            .unwrap()
            .filter_map(Result::ok)
            .filter_map(|e| {
                let hash = e.file_name().into_string().ok()?.parse().ok()?;
                Some((hash, std::fs::read(e.path()).ok()?))
            })
            .collect()
    }

    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }
    pub fn blob_dir(&self) -> PathBuf {
        self.data_dir().join("blobfiles")
    }
    /// A path in this node's scratch space.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    /// `lbrymount --data-dir <this node> ARGS...`, with no inherited data-dir settings.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.env_remove("LBRYMOUNT_DATA_DIR").env_remove("RUST_LOG");
        c.arg("--data-dir").arg(self.data_dir()).args(args);
        // Names would go to the public hubs: a test that wants names
        // passes its own `--hub 127.0.0.1:PORT`.
        if !args.contains(&"--hub") {
            c.arg("--no-hub");
        }
        // Likewise a one-shot search's DHT node (LBRY's public bootstrap list).
        if args.first() == Some(&"search") && !args.contains(&"--bootstrap") {
            c.arg("--no-bootstrap");
        }
        // Likewise LBRY's public trackers.
        if !args.contains(&"--tracker") {
            c.arg("--no-trackers");
        }
        // And multicast on whatever network the test runs in: LAN tests
        // pass `--lan` (in network namespaces of their own).
        if !args.contains(&"--lan") {
            c.arg("--no-lan");
        }
        // And UPnP's multicast search on the real LAN: a test of UPnP
        // builds its own LAN and names its gateway.
        if !args.contains(&"--upnp-gateway") {
            c.arg("--no-upnp");
        }
        // And LBRY's fixed peer, lbry-sdk's fallback.
        if !args.contains(&"--fixed-peer") {
            c.arg("--no-fixed-peers");
        }
        c
    }
    /// Runs and requires success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().expect("run lbrymount");
        assert_success(&out, args);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    /// Runs and requires failure with `code`; returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.cmd(args).output().expect("run lbrymount");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(code),
            "lbrymount {args:?} should exit {code}; stderr: {stderr}"
        );
        stderr
    }
    /// Publishes one file and returns its sd hash.
    pub fn publish(&self, file: &Path) -> String {
        let f = file.to_str().expect("utf-8 path");
        let out = self.ok(&["publish", f]);
        let line = out.lines().next().unwrap_or_default();
        let (sd, name) = line.split_once("  ").expect("`<sd_hash>  <file>` line");
        assert_eq!(name, f);
        assert_eq!(sd.len(), 96);
        sd.to_string()
    }
}

pub fn assert_success(out: &Output, what: &[&str]) {
    assert!(
        out.status.success(),
        "lbrymount {what:?} failed ({:?})\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A running `lbrymount serve` on 127.0.0.1 (a port the OS picks).
/// Killed (by its PID) on drop if the test did not stop it.
pub struct ServeNode {
    child: Option<std::process::Child>,
    pub addr: std::net::SocketAddr,
    log: std::sync::Arc<std::sync::Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl ServeNode {
    /// Starts `serve` on `node`'s data dir and waits for its `listening on` line.
    pub fn start(node: &Node) -> ServeNode {
        Self::start_with(node, &[])
    }

    /// Like [`ServeNode::start`], with more `serve` flags.
    pub fn start_with(node: &Node, extra: &[&str]) -> ServeNode {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        args.extend_from_slice(loopback_only(extra));
        Self::spawn(node, &args)
    }

    /// Runs `lbrymount ARGS` (a long-running node: `serve` or a mount) and
    /// waits for its blob server's `listening on` line.
    pub fn spawn(node: &Node, args: &[&str]) -> ServeNode {
        Self::spawn_command(node.cmd(args))
    }

    /// Like [`ServeNode::spawn`], for a command the caller prepared (another
    /// user, another environment).
    pub fn spawn_command(mut cmd: Command) -> ServeNode {
        use std::io::BufRead;
        let mut child = cmd
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start serve");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let log2 = log.clone();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if let Some(i) = line.find("listening on ") {
                    let _ = tx.send(line[i + 13..].trim().to_string());
                }
                log2.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        // The readiness signal is the log line; the timeout only guards against a hang.
        let addr = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .unwrap_or_else(|_| {
                panic!(
                    "serve did not report `listening on`; log:\n{}",
                    log.lock().unwrap()
                )
            });
        let addr = addr
            .parse()
            .unwrap_or_else(|_| panic!("bad address in log: {addr}"));
        ServeNode {
            child: Some(child),
            addr,
            log,
            reader: Some(reader),
        }
    }

    /// Waits (30 s at most, a hang guard) for a log line containing `needle`
    /// and returns what follows `needle` on it.
    pub fn wait_log(&self, needle: &str) -> String {
        self.wait_log_nth(needle, 1)
    }

    /// Like [`wait_log`](Self::wait_log), for the `n`-th such line (from 1).
    pub fn wait_log_nth(&self, needle: &str, n: usize) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let found = self
                .log
                .lock()
                .unwrap()
                .lines()
                .filter_map(|l| {
                    l.find(needle)
                        .map(|i| l[i + needle.len()..].trim().to_string())
                })
                .nth(n - 1);
            if let Some(rest) = found {
                return rest;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no log line with {needle:?}:\n{}",
                self.log.lock().unwrap()
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// The log so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The process id (to kill it the way a crash would).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn peer_arg(&self) -> String {
        self.addr.to_string()
    }

    /// Sends `signal`, waits for the exit, returns (exit status, full log).
    pub fn stop(mut self, signal: i32) -> (std::process::ExitStatus, String) {
        let mut child = self.child.take().expect("running");
        // SAFETY: kill(2) on the PID of a child we started and have not reaped.
        unsafe { libc::kill(child.id() as i32, signal) };
        let status = child.wait().expect("wait for serve");
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner()).clone();
        (status, log)
    }

    /// Waits (30 s at most) for the process to exit on its own; returns
    /// (exit status, full log), or `None` if it is still running (then it
    /// is killed by its PID).
    pub fn wait_exit(mut self) -> Option<(std::process::ExitStatus, String)> {
        let mut child = self.child.take().expect("running");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let status = loop {
            match child.try_wait().expect("wait for the node") {
                Some(status) => break Some(status),
                None if std::time::Instant::now() > deadline => break None,
                None => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        };
        let Some(status) = status else {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        };
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Some((status, log))
    }

    /// The `blobs=N` figure of the `serve finished` line a clean shutdown logs.
    pub fn served_blobs(log: &str) -> u64 {
        let line = log
            .lines()
            .find(|l| l.contains("serve finished"))
            .unwrap_or_else(|| panic!("no `serve finished` line:\n{log}"));
        let n = line
            .split("blobs=")
            .nth(1)
            .and_then(|s| s.split_whitespace().next());
        n.and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no blobs=N in {line:?}"))
    }
}

impl Drop for ServeNode {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Copies every blob file of `from` into `to`'s blob folder (a seeded peer).
pub fn copy_blobs(from: &Node, to: &Node) {
    std::fs::create_dir_all(to.blob_dir()).unwrap();
    for e in std::fs::read_dir(from.blob_dir()).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.blob_dir().join(e.file_name())).unwrap();
    }
}

impl Node {
    /// `get SD --offline -o OUT`, required to succeed.
    pub fn get_offline(&self, sd: &str, out: &Path) -> String {
        self.ok(&[
            "get",
            sd,
            "--offline",
            "-o",
            out.to_str().expect("utf-8 path"),
        ])
    }
    /// `get SD --offline -o OUT`, required to fail with exit 1; returns stderr.
    pub fn get_offline_fails(&self, sd: &str, out: &Path) -> String {
        self.fails(
            &[
                "get",
                sd,
                "--offline",
                "-o",
                out.to_str().expect("utf-8 path"),
            ],
            1,
        )
    }
}

/// The flags that keep a node on loopback: no DHT unless the test asks for
/// one, and never LBRY's public bootstrap list.
pub fn loopback_only(extra: &[&str]) -> &'static [&'static str] {
    if !extra.contains(&"--dht-listen") {
        &["--no-dht"]
    } else if !extra.contains(&"--bootstrap") {
        &["--no-bootstrap"]
    } else {
        &[]
    }
}

/// The most plaintext one blob holds.
pub const CHUNK: usize = 2_097_151;

/// A node that published `len` bytes as `name`; returns (node, sd, data).
pub fn publisher(len: usize, seed: u64, name: &str) -> (Node, String, Vec<u8>) {
    let node = Node::new();
    let data = pseudo_random(len, seed);
    let path = node.path(name);
    std::fs::write(&path, &data).unwrap();
    let sd = node.publish(&path);
    (node, sd, data)
}

/// A terminator-only descriptor whose stream and suggested names are
/// `name`'s bytes, as a sender of hostile names would write it
/// (docs/protocol.md §2.2–2.3).
pub fn descriptor_named(name: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha384};
    let (iv, key) = ("01".repeat(16), "02".repeat(16));
    let name_hex = hex::encode(name);
    let mut entry = Sha384::new();
    entry.update(format!("0{iv}0"));
    let blobs_sum = Sha384::digest(entry.finalize());
    let mut h = Sha384::new();
    h.update(format!("{name_hex}{key}{name_hex}"));
    h.update(blobs_sum);
    let stream_hash = hex::encode(h.finalize());
    format!(
        r#"{{"blobs": [{{"blob_num": 0, "iv": "{iv}", "length": 0}}], "key": "{key}", "stream_hash": "{stream_hash}", "stream_name": "{name_hex}", "stream_type": "lbryfile", "suggested_file_name": "{name_hex}"}}"#
    )
    .into_bytes()
}
