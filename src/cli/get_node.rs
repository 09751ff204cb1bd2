//! `get` on a data dir held by a running node (the mount or `serve`).
//!
//! The node holds the data dir's lock, so `get` cannot open the store
//! itself. It says which node holds it and what to run instead.

use super::get::GetRequest;
use crate::config::Config;
use crate::control::{client::Client, Reply, Request};

pub fn run(cfg: &Config, mut node: Client, req: GetRequest) -> anyhow::Result<()> {
    let _ = req;
    let who = match node.request(&Request::Status, |_| {}) {
        Ok(Reply::Status(s)) => {
            let mut who = format!("pid {}, blob server {}", s.pid, s.listen);
            if let Some(m) = &s.mountpoint {
                who.push_str(&format!(", mounted at {}", m.display()));
            }
            who
        }
        _ => "pid unknown".to_string(),
    };
    anyhow::bail!(
        "data dir {} is held by a running lbrymount node ({who}); stop it first, or give `get` another --data-dir",
        cfg.data_dir.display()
    )
}
