//! Real nodes on 127.0.0.1: a restart keeps the id and the contacts, the
//! refresh loop evicts a node that died and rejoins when the table is empty,
//! and a bad state file never stops a node. Waits poll for the observable
//! effect; the outer timeouts only keep a broken build from hanging.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use super::super::routing::RoutingConfig;
use super::super::state::SavedState;
use super::super::{Contact, Node, NodeConfig, RpcConfig};
use crate::hash::NodeId;

const HANG_GUARD: Duration = Duration::from_secs(60);

fn local() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn config() -> NodeConfig {
    NodeConfig {
        ping_back_delay: Duration::ZERO,
        ..NodeConfig::default()
    }
}

fn with_state(path: &Path) -> NodeConfig {
    NodeConfig {
        state_file: Some(path.to_path_buf()),
        ..config()
    }
}

/// Refreshes as often as it can, every bucket every time.
fn eager(mut c: NodeConfig) -> NodeConfig {
    c.refresh_every = Duration::from_millis(20);
    c.rejoin_every = Duration::from_millis(20);
    c.routing = RoutingConfig {
        refresh_interval: Duration::ZERO,
        ..RoutingConfig::default()
    };
    c.rpc = RpcConfig {
        timeout: Duration::from_millis(1000),
        ..RpcConfig::default()
    };
    c
}

fn in_table(node: &Node, id: &NodeId) -> bool {
    super::lock(&node.inner.routing).contains(id)
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let poll = async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(HANG_GUARD, poll)
        .await
        .unwrap_or_else(|_| panic!("never happened: {what}"));
}

/// Two nodes that know each other: `b`, and `c` joined through it.
async fn pair() -> (Node, Node) {
    let b = Node::bind(local(), config()).await.unwrap();
    let c = Node::bind(local(), config()).await.unwrap();
    c.join(&[b.local_addr()]).await.unwrap();
    // `b` adds `c` once its ping-back is answered.
    until("b knows c", || in_table(&b, &c.id())).await;
    (b, c)
}

#[tokio::test]
async fn a_restart_keeps_the_id_and_rejoins_through_saved_contacts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dht.json");
    let (b, c) = pair().await;
    let a = Node::bind(local(), with_state(&path)).await.unwrap();
    assert!(a.saved_contacts().is_empty());
    assert_eq!(
        SavedState::load(&path).unwrap().map(|s| s.node_id),
        Some(a.id()),
        "a new id is saved at once"
    );
    a.join(&[b.local_addr()]).await.unwrap();
    let (found, report) = a.find_node_with_report(c.id()).await;
    assert!(found.iter().any(|x| x.id == c.id()));
    assert_eq!(report.responders.len(), report.stats.responses as usize);
    assert!(report.responders.iter().any(|r| r.contact.id == b.id()));
    let id = a.id();
    a.shutdown();
    drop(a);

    let again = Node::bind(local(), with_state(&path)).await.unwrap();
    assert_eq!(again.id(), id, "the id survives the restart");
    let saved: Vec<NodeId> = again.saved_contacts().iter().map(|x| x.id).collect();
    assert!(
        saved.contains(&b.id()) && saved.contains(&c.id()),
        "{saved:?}"
    );
    assert_eq!(again.routing_len(), 0);
    // No bootstrap node at all: the saved contacts are enough.
    again.join(&[]).await.unwrap();
    assert!(in_table(&again, &b.id()) && in_table(&again, &c.id()));
}

#[tokio::test]
async fn the_refresh_loop_evicts_a_node_that_died() {
    let (b, c) = pair().await;
    let a = Node::bind(local(), eager(config())).await.unwrap();
    a.join(&[b.local_addr()]).await.unwrap();
    assert!(in_table(&a, &c.id()));
    let dead = c.id();
    c.shutdown();
    until("c evicted", || !in_table(&a, &dead)).await;
    assert!(in_table(&a, &b.id()), "the live contact stays");
    assert!(a.contacts().iter().all(|x| x.id != dead));
}

#[tokio::test]
async fn an_empty_table_rejoins_through_the_saved_contacts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dht.json");
    let (b, _c) = pair().await;
    SavedState {
        node_id: NodeId::digest(b"rejoiner"),
        contacts: vec![Contact::new(b.id(), b.local_addr())],
    }
    .save(&path)
    .unwrap();
    // Never told to join: the refresh loop finds the table empty.
    let a = Node::bind(local(), eager(with_state(&path))).await.unwrap();
    assert_eq!(a.id(), NodeId::digest(b"rejoiner"));
    until("rejoined", || in_table(&a, &b.id())).await;
}

#[tokio::test]
async fn a_corrupt_state_file_is_ignored_and_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dht.json");
    std::fs::write(&path, b"{\"version\":1,\"node_").unwrap();
    let a = Node::bind(local(), with_state(&path)).await.unwrap();
    assert!(a.saved_contacts().is_empty());
    let on_disk = SavedState::load(&path).unwrap().map(|s| s.node_id);
    assert_eq!(
        on_disk,
        Some(a.id()),
        "the file is rewritten with the new id"
    );
}

#[tokio::test]
async fn an_unwritable_state_file_is_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the file should be: every write fails.
    let path = dir.path().join("dht.json");
    std::fs::create_dir(&path).unwrap();
    let (b, _c) = pair().await;
    let a = Node::bind(local(), with_state(&path)).await.unwrap();
    a.join(&[b.local_addr()]).await.unwrap();
    a.shutdown();
    assert!(path.is_dir());
}

#[tokio::test]
async fn a_lookup_whose_only_contact_failed_still_asks_it() {
    let (b, _c) = pair().await;
    let a = Node::bind(local(), config()).await.unwrap();
    a.join(&[b.local_addr()]).await.unwrap();
    for x in a.contacts() {
        // One lost datagram each: every contact is now bad.
        a.inner.failed(&x.id);
    }
    assert!(a.contacts().is_empty(), "bad contacts are not handed out");
    let key = NodeId::digest(b"some blob");
    let (_, report) = a.find_node_with_report(key).await;
    assert!(
        report.stats.queries > 0,
        "the lookup asked nobody: {report:?}"
    );
    assert!(report.responders.iter().any(|r| r.contact.id == b.id()));
    assert!(in_table(&a, &b.id()), "one failure keeps the contact");
    assert!(!a.contacts().is_empty(), "its answer makes it good again");
}
