//! A mainline DHT of our own nodes on 127.0.0.1, for tests that find
//! torrents' peers without touching the public routers.

use lbrymount::mainline::{Node, NodeConfig};
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::Arc;

/// `n` nodes (at least one) on loopback, all joined through the first,
/// whose address is returned as the bootstrap node.
pub async fn loopback_dht(n: usize) -> (SocketAddrV4, Vec<Arc<Node>>) {
    let cfg = || NodeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..NodeConfig::default()
    };
    let first = Node::start(cfg()).await.unwrap();
    let Some(SocketAddr::V4(boot)) = first.local_addr() else {
        panic!("IPv4")
    };
    let mut nodes = vec![first];
    for _ in 1..n.max(1) {
        let node = Node::start(cfg()).await.unwrap();
        node.join(&[boot]).await;
        nodes.push(node);
    }
    (boot, nodes)
}
