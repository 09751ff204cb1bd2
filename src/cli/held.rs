//! Who holds a data dir: a running node (asked over its control socket) or
//! nobody (the command opens the store itself).
//!
//! A node takes the data dir's lock before its control socket is up, so a
//! command that arrives in between finds the store locked and no socket yet.
//! That is a node starting, not a foreign process: wait a little for its
//! socket before saying the data dir is in use.

use crate::config::Config;
use crate::control::client::{self, Client};
use crate::node::oneshot::open_store;
use crate::store::{DiskStore, StoreError};
use std::time::{Duration, Instant};

/// How long a starting node gets to open its control socket.
const STARTING: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(50);

pub enum Holder {
    Node(Client),
    Nobody(Box<DiskStore>),
}

/// The node running on `cfg`'s data dir, or else the store opened here.
pub fn node_or_store(cfg: &Config) -> anyhow::Result<Holder> {
    let deadline = Instant::now() + STARTING;
    loop {
        if let Some(node) = client::connect(&cfg.data_dir)? {
            return Ok(Holder::Node(node));
        }
        match open_store(cfg) {
            Ok(store) => return Ok(Holder::Nobody(Box::new(store))),
            Err(StoreError::Locked { .. }) if Instant::now() < deadline => std::thread::sleep(POLL),
            Err(e) => return Err(e.into()),
        }
    }
}
