//! The DHT among real `lbrymount` processes on 127.0.0.1: the network forms
//! by itself, survives the death of its first node, heals after losing every
//! contact, stays bounded against a hostile node, and the commands given
//! explicit addresses contact nothing else.

mod common;

use common::cli::{pseudo_random, Node, ServeNode};
use lbrymount::dht::{NodeConfig, DEFAULT_BOOTSTRAP};
use std::fs;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Runs `f` on a thread moved into a network namespace of its own, whose
/// only interface is loopback: nothing there can reach (or resolve) any
/// other host, and processes started from it inherit the namespace.
fn in_private_netns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(move || {
        // SAFETY: plain syscalls on this thread only, with a zeroed ifreq
        // naming "lo"; every result is checked.
        unsafe {
            assert_eq!(
                libc::unshare(libc::CLONE_NEWNET),
                0,
                "unshare(CLONE_NEWNET)"
            );
            let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
            assert!(fd >= 0, "socket");
            let mut ifr: libc::ifreq = std::mem::zeroed();
            ifr.ifr_name[0] = b'l' as libc::c_char;
            ifr.ifr_name[1] = b'o' as libc::c_char;
            assert_eq!(libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut ifr), 0);
            ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            assert_eq!(libc::ioctl(fd, libc::SIOCSIFFLAGS, &ifr), 0);
            libc::close(fd);
        }
        f()
    })
    .join()
    .expect("netns thread")
}

#[test]
fn dht_ping_resolves_and_contacts_no_other_host() {
    let (stdout, stderr, ok) = in_private_netns(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let local: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let node = rt
            .block_on(lbrymount::dht::Node::bind(local, NodeConfig::default()))
            .expect("bind a DHT node");
        let target = node.local_addr().to_string();
        let user = Node::new();
        // The node answers on the runtime while the command runs.
        let out = rt.block_on(async {
            let mut cmd = tokio::process::Command::from(user.cmd(&["dht", "ping", &target]));
            cmd.output().await.expect("run lbrymount")
        });
        drop(node);
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            out.status.success(),
        )
    });
    assert!(ok, "the ping succeeds; stderr:\n{stderr}");
    assert!(stdout.trim_end().ends_with("ms"), "{stdout}");
    for spec in DEFAULT_BOOTSTRAP {
        let host = spec.split(':').next().unwrap();
        assert!(
            !stderr.contains(host),
            "`dht ping ADDR` tried the public bootstrap host {host}:\n{stderr}"
        );
    }
}
