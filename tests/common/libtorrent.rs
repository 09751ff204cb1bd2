//! Debian's libtorrent as the other BitTorrent implementation: a seed of a
//! multi-file torrent on 127.0.0.1 (`tests/bt/lt_seed.py`).

use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// The files the seed serves, under `album/`.
pub const FILES: [(&str, u64); 3] = [("a.bin", 300000), ("c.txt", 6), ("sub/b.bin", 1048699)];

pub struct Seed {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    pub port: u16,
    pub torrent: std::path::PathBuf,
    pub info_hash: String,
    pub dir: tempfile::TempDir,
}

/// Debian's Python, where python3-libtorrent is installed (a `python3`
/// earlier in PATH may be another one).
pub fn python() -> &'static str {
    if std::path::Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

pub async fn seed() -> Seed {
    seed_on(0).await
}

/// A seed listening on `port` of 127.0.0.1 (0: any).
pub async fn seed_on(port: u16) -> Seed {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/bt/lt_seed.py"))
        .arg(dir.path())
        .arg(port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 with libtorrent (Debian's python3-libtorrent)");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["seeding"], true, "libtorrent is seeding: {v}");
    Seed {
        stdin: child.stdin.take().unwrap(),
        child,
        lines,
        port: v["port"].as_u64().unwrap() as u16,
        torrent: v["torrent"].as_str().unwrap().into(),
        info_hash: v["info_hash"].as_str().unwrap().to_string(),
        dir,
    }
}

impl Seed {
    /// Payload bytes the seed has sent so far, by its own count.
    pub async fn uploaded(&mut self) -> u64 {
        self.stdin.write_all(b"stats\n").await.unwrap();
        let line = tokio::time::timeout(Duration::from_secs(10), self.lines.next_line());
        let line = line.await.unwrap().unwrap().unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        v["uploaded"].as_u64().unwrap()
    }

    /// Kills the seed (by its PID, through tokio) and waits for it to end.
    pub async fn kill(mut self) {
        self.child.kill().await.unwrap();
    }

    /// Checks that `album` (a folder holding [`FILES`]) matches the seed's
    /// files byte for byte.
    pub fn assert_files(&self, album: &std::path::Path) {
        for (path, size) in FILES {
            let got = std::fs::read(album.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert_eq!(got.len() as u64, size, "{path}");
            assert!(got == self.file(path), "{path} differs from the seed's");
        }
    }

    /// The content of one of [`FILES`].
    pub fn file(&self, path: &str) -> Vec<u8> {
        std::fs::read(self.dir.path().join("album").join(path)).unwrap()
    }
}

/// What libtorrent's client made of downloading a torrent from one peer.
pub struct Leech {
    pub seeding: bool,
    pub progress: f64,
    pub dir: tempfile::TempDir,
}

/// Debian's libtorrent downloads `torrent` (a `.torrent` file or a magnet
/// link) from `peer` alone into a fresh folder, for at most `seconds`
/// (`tests/bt/lt_leech.py`).
pub async fn leech(torrent: impl AsRef<std::ffi::OsStr>, peer: &str, seconds: u64) -> Leech {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/bt/lt_leech.py"))
        .arg(torrent)
        .arg(dir.path())
        .arg(peer)
        .arg(seconds.to_string())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(seconds + 60), out)
        .await
        .expect("the leech ends")
        .expect("python3 with libtorrent");
    let line = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(line.trim())
        .unwrap_or_else(|e| panic!("{e}: {line} {}", String::from_utf8_lossy(&out.stderr)));
    Leech {
        seeding: v["seeding"] == true,
        progress: v["progress"].as_f64().unwrap_or(0.0),
        dir,
    }
}
