//! Reachable from behind a home router: a node maps its blob server's TCP
//! port and its DHT node's UDP port on a real UPnP IGD daemon (Debian's
//! `miniupnpd`, in network namespaces the test builds: see
//! common/home_lan.rs), shows the mapping in `status`, and removes it on
//! SIGTERM. Nodes on loopback, and with `--no-upnp`, say why they have none.

mod common;

use common::cli::{bin, Node, ServeNode};
use common::home_lan::{HomeLan, EXTERNAL_IP, HOME_IP};
use std::process::Command;

/// `serve` in the home namespace, UPnP left at its default (on), plus `extra`.
fn home_node(lan: &HomeLan, node: &Node, extra: &[&str]) -> ServeNode {
    let mut cmd = Command::new(bin());
    cmd.env_remove("LBRYMOUNT_DATA_DIR")
        .env_remove("RUST_LOG")
        .arg("--data-dir")
        .arg(node.data_dir())
        .args(["--no-hub", "--no-trackers", "serve", "--no-share"])
        .args(["--listen", "0.0.0.0:0", "--dht-listen", "0.0.0.0:0"])
        .args(extra);
    lan.in_home(&mut cmd);
    ServeNode::spawn_command(cmd)
}

/// `upnpc -l`'s row for a mapping of ours: `TCP  PORT->192.168.77.2:PORT`.
fn row(proto: &str, port: u16) -> String {
    format!("{proto} {port:>5}->{HOME_IP}:{port}")
}

/// The node's `status` once its UPnP line names the external address.
fn wait_status_mapped(node: &Node, serve: &ServeNode) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        // Until the node has joined the DHT, its control socket is not there yet.
        let out = node.cmd(&["status"]).output().unwrap();
        let status = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() && std::time::Instant::now() > deadline {
            panic!(
                "status: {}\nnode log:\n{}",
                String::from_utf8_lossy(&out.stderr),
                serve.log()
            );
        }
        if status.contains(&format!("upnp: {EXTERNAL_IP} TCP"))
            || std::time::Instant::now() > deadline
        {
            return status;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn a_node_behind_a_router_maps_both_ports_and_removes_them_on_sigterm() {
    let lan = HomeLan::new();
    let node = Node::new();
    let serve = home_node(&lan, &node, &["--no-bootstrap"]);
    let tcp = serve.addr.port();
    let udp = port_in(&serve.wait_log("dht node ready at "));
    let status = wait_status_mapped(&node, &serve);
    assert!(
        status.contains(&format!(
            "upnp: {EXTERNAL_IP} TCP {tcp}->{tcp}, UDP {udp}->{udp}, lease 3600 s"
        )),
        "status shows the mapping: {status}"
    );
    let list = lan.wait_mappings(|l| l.contains(&row("TCP", tcp)) && l.contains(&row("UDP", udp)));
    assert!(
        list.contains(&row("TCP", tcp)),
        "the gateway maps our TCP port: {list}"
    );
    assert!(
        list.contains(&row("UDP", udp)),
        "the gateway maps our UDP port: {list}"
    );
    assert!(list.contains("'lbrymount'"), "{list}");

    let (exit, log) = serve.stop(libc::SIGTERM);
    assert!(exit.success(), "{log}");
    let list = lan.mappings();
    assert!(
        !list.contains(&row("TCP", tcp)) && !list.contains(&row("UDP", udp)),
        "the mappings are gone after SIGTERM: {list}"
    );
    assert!(log.contains("upnp: mappings removed"), "{log}");
}

/// A port number from a `... at ADDR:PORT` log line.
fn port_in(line: &str) -> u16 {
    line.trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port")
}

#[test]
fn a_port_taken_on_the_router_gets_another_external_port_which_the_dht_store_carries() {
    let lan = HomeLan::new();
    // A DHT node of the home LAN to announce to (no UPnP of its own).
    let dht = Node::new();
    // Bound to its LAN address, it accepts LAN peers (lbry-sdk's public rules would not).
    let boot_listen = format!("{HOME_IP}:0");
    let boot = home_node(
        &lan,
        &dht,
        &["--no-upnp", "--no-bootstrap", "--dht-listen", &boot_listen],
    );
    let boot_addr = format!(
        "{HOME_IP}:{}",
        port_in(&boot.wait_log("dht node ready at "))
    );
    // Another machine of the LAN holds external port 4444 already.
    let taken = lan.upnpc(&["-e", "other", "-a", "192.168.77.3", "4444", "4444", "TCP"]);
    assert!(
        lan.mappings().contains("TCP  4444->192.168.77.3:4444"),
        "{taken}"
    );
    let node = Node::new();
    let file = node.path("song.ogg");
    std::fs::write(&file, common::cli::pseudo_random(100_000, 7)).unwrap();
    let sd = node.publish(&file);
    // A fresh namespace: port 4444 is free there whatever else runs.
    let serve = home_node(
        &lan,
        &node,
        &[
            "--listen",
            "0.0.0.0:4444",
            "--upnp-gateway",
            "192.168.77.1",
            "--bootstrap",
            &boot_addr,
        ],
    );
    let status = wait_status_mapped(&node, &serve);
    let line = status
        .lines()
        .find(|l| l.starts_with("upnp: "))
        .unwrap_or_default();
    let external: u16 = line
        .split_once(" TCP ")
        .and_then(|(_, r)| r.split_once("->4444"))
        .and_then(|(p, _)| p.parse().ok())
        .unwrap_or_else(|| panic!("a TCP mapping to 4444: {status}"));
    assert_ne!(external, 4444, "{status}");
    let want = format!("{HOME_IP}:{external}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let found = loop {
        let mut cmd = dht.cmd(&["dht", "--bootstrap", &boot_addr, "find-peers", &sd]);
        lan.in_home(&mut cmd);
        let out = cmd.output().expect("run lbrymount dht");
        let found = String::from_utf8_lossy(&out.stdout).into_owned();
        if found.contains(&want) || std::time::Instant::now() > deadline {
            break format!(
                "{found}\n{}\nnode log:\n{}\nbootstrap node log:\n{}",
                String::from_utf8_lossy(&out.stderr),
                serve.log(),
                boot.log()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    };
    assert!(
        found.contains(&want),
        "the DHT store carries the external port {external}: {found}"
    );
    drop(serve);
    drop(boot);
}

#[test]
fn status_says_why_there_is_no_mapping() {
    let node = Node::new();
    // Node::cmd passes --no-upnp.
    let serve = ServeNode::start(&node);
    let status = node.ok(&["status"]);
    assert!(status.contains("upnp: none (--no-upnp)"), "{status}");
    drop(serve);

    let mut cmd = Command::new(bin());
    cmd.arg("--data-dir")
        .arg(node.data_dir())
        .args([
            "--no-hub",
            "--no-trackers",
            "serve",
            "--no-share",
            "--no-dht",
        ])
        .args(["--listen", "127.0.0.1:0"]);
    let serve = ServeNode::spawn_command(cmd);
    let status = node.ok(&["status"]);
    assert!(
        status.contains("upnp: none (the blob server listens on 127.0.0.1 only)"),
        "{status}"
    );
    drop(serve);
}
