//! A LAN of network namespaces the test creates, so multicast really
//! crosses interfaces: node `i` lives in a namespace of its own whose one
//! interface (`eth0`, 10.77.0.`i+1`/24, with the multicast route) is a veth
//! joined to a bridge in a hub namespace. Nothing on it can reach the host's
//! network, and nothing else can reach it. Removed on drop (drop the nodes
//! running in it first: declare the `NetLan` before them).

use std::os::fd::{AsRawFd, OwnedFd};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

pub struct NetLan {
    hub: String,
    nodes: Vec<String>,
}

/// Runs `ip ARGS`, required to succeed.
pub fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl NetLan {
    /// A bridge and `n` node namespaces on it.
    pub fn new(n: usize) -> NetLan {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let tag = format!(
            "lmlan{}x{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        let lan = NetLan {
            hub: format!("{tag}h"),
            nodes: (0..n).map(|i| format!("{tag}n{i}")).collect(),
        };
        ip(&["netns", "add", &lan.hub]);
        ip(&["-n", &lan.hub, "link", "add", "br0", "type", "bridge"]);
        ip(&[
            "-n",
            &lan.hub,
            "link",
            "set",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ]);
        ip(&["-n", &lan.hub, "link", "set", "br0", "up"]);
        for i in 0..n {
            lan.add_node(i);
        }
        lan
    }

    fn add_node(&self, i: usize) {
        let (ns, port) = (&self.nodes[i], format!("p{i}"));
        ip(&["netns", "add", ns]);
        ip(&[
            "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", &port, "netns",
            &self.hub,
        ]);
        ip(&[
            "-n",
            ns,
            "addr",
            "add",
            &format!("{}/24", self.ip(i)),
            "dev",
            "eth0",
        ]);
        ip(&["-n", ns, "link", "set", "eth0", "up"]);
        ip(&["-n", ns, "link", "set", "lo", "up"]);
        ip(&["-n", ns, "route", "add", "224.0.0.0/4", "dev", "eth0"]);
        ip(&["-n", &self.hub, "link", "set", &port, "master", "br0"]);
        ip(&["-n", &self.hub, "link", "set", &port, "up"]);
    }

    /// Node `i`'s address.
    pub fn ip(&self, i: usize) -> String {
        format!("10.77.0.{}", i + 1)
    }

    /// More addresses on node `i`'s interface (10.77.x.y/16 style, as given).
    pub fn add_addrs(&self, i: usize, addrs: &[String]) {
        let batch: String = addrs
            .iter()
            .map(|a| format!("addr add {a}/32 dev eth0\n"))
            .collect();
        let path = std::env::temp_dir().join(format!("{}-addrs", self.nodes[i]));
        std::fs::write(&path, batch).unwrap();
        ip(&["-n", &self.nodes[i], "-batch", path.to_str().unwrap()]);
        let _ = std::fs::remove_file(path);
    }

    fn ns_fd(&self, i: usize) -> OwnedFd {
        std::fs::File::open(format!("/var/run/netns/{}", self.nodes[i]))
            .expect("open the namespace")
            .into()
    }

    /// Makes `cmd` run in node `i`'s network namespace (only that: it shares
    /// our mount namespace, so its FUSE mount is visible to the test).
    pub fn enter(&self, cmd: &mut Command, i: usize) {
        use std::os::unix::process::CommandExt;
        let fd = self.ns_fd(i);
        // SAFETY: setns(2) is one syscall on a descriptor the parent opened;
        // nothing is allocated between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }

    /// Runs `f` on a thread in node `i`'s network namespace.
    pub fn run_in<T: Send + 'static>(&self, i: usize, f: impl FnOnce() -> T + Send + 'static) -> T {
        let fd = self.ns_fd(i);
        let thread = std::thread::spawn(move || {
            // SAFETY: setns(2) on this thread only, with a valid descriptor.
            let r = unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(r, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        });
        match thread.join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl Drop for NetLan {
    fn drop(&mut self) {
        for ns in self.nodes.iter().chain([&self.hub]) {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}
