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
