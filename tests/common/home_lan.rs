//! A home network of the test's own: a "router" network namespace running
//! Debian's real UPnP IGD daemon (`miniupnpd`, nftables backend) on its LAN
//! side, and a "home" namespace behind it where the node runs. SSDP
//! multicast stays between the two namespaces: nothing reaches the real LAN.
//!
//! router: lan0 192.168.77.1/24 (miniupnpd listens here), wan0 11.0.0.1/24
//! (its "external" interface; miniupnpd refuses private external addresses,
//! and this one is routed nowhere: it sits on a veth pair inside the router
//! namespace). home: eth0 192.168.77.2/24, default route via the router.

use super::lan::ip;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const ROUTER_LAN_IP: &str = "192.168.77.1";
pub const HOME_IP: &str = "192.168.77.2";
pub const EXTERNAL_IP: &str = "11.0.0.1";

/// The nftables chains miniupnpd's nft backend fills in (its defaults, named
/// again in the config so a change of defaults cannot break the test).
const RULESET: &str = "table inet filter {
  chain miniupnpd { }
  chain prerouting_miniupnpd { }
  chain postrouting_miniupnpd { }
  chain forward { type filter hook forward priority 0; policy accept; jump miniupnpd; }
  chain prerouting { type nat hook prerouting priority -100; policy accept; jump prerouting_miniupnpd; }
  chain postrouting { type nat hook postrouting priority 100; policy accept; jump postrouting_miniupnpd; }
}
";

pub struct HomeLan {
    pub router: String,
    pub home: String,
    daemon: Option<Child>,
    _dir: tempfile::TempDir,
}

impl HomeLan {
    /// Builds both namespaces and starts miniupnpd; returns once it listens.
    pub fn new() -> HomeLan {
        static N: AtomicUsize = AtomicUsize::new(0);
        let id = format!(
            "{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let (router, home) = (format!("lbm-router-{id}"), format!("lbm-home-{id}"));
        let dir = tempfile::tempdir().unwrap();
        let mut lan = HomeLan {
            router,
            home,
            daemon: None,
            _dir: dir,
        };
        let (r, h) = (lan.router.clone(), lan.home.clone());
        ip(&["netns", "add", &r]);
        ip(&["netns", "add", &h]);
        ip(&[
            "link", "add", "lan0", "netns", &r, "type", "veth", "peer", "name", "eth0", "netns", &h,
        ]);
        ip(&[
            "link", "add", "wan0", "netns", &r, "type", "veth", "peer", "name", "wan1", "netns", &r,
        ]);
        for (ns, dev, addr) in [
            (&r, "lan0", "192.168.77.1/24"),
            (&r, "wan0", "11.0.0.1/24"),
            (&h, "eth0", "192.168.77.2/24"),
        ] {
            ip(&["-n", ns, "addr", "add", addr, "dev", dev]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        ip(&["-n", &r, "link", "set", "wan1", "up"]);
        ip(&["-n", &h, "route", "add", "default", "via", ROUTER_LAN_IP]);
        lan.start_daemon();
        lan
    }

    fn start_daemon(&mut self) {
        let dir = self._dir.path();
        std::fs::write(dir.join("rules.nft"), RULESET).unwrap();
        let nft = self.exec_in(
            &self.router,
            "nft",
            &["-f", dir.join("rules.nft").to_str().unwrap()],
        );
        assert!(
            nft.status.success(),
            "nft: {}",
            String::from_utf8_lossy(&nft.stderr)
        );
        let conf = dir.join("miniupnpd.conf");
        std::fs::write(
            &conf,
            format!(
                "ext_ifname=wan0\nlistening_ip=lan0\nport=0\nenable_upnp=yes\nenable_natpmp=no\n\
                 secure_mode=no\nsystem_uptime=yes\nuuid=8f7e2b1c-2f0a-4c59-9a8e-1d2c3b4a5f60\n\
                 lease_file={}\nupnp_table_name=filter\nupnp_nat_table_name=filter\n\
                 upnp_forward_chain=miniupnpd\nupnp_nat_chain=prerouting_miniupnpd\n\
                 upnp_nat_postrouting_chain=postrouting_miniupnpd\n\
                 allow 1024-65535 192.168.77.0/24 1024-65535\ndeny 0-65535 0.0.0.0/0 0-65535\n",
                dir.join("leases").display()
            ),
        )
        .unwrap();
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.router, "miniupnpd", "-d", "-f"])
            .arg(&conf)
            .arg("-P")
            .arg(dir.join("miniupnpd.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("miniupnpd (Debian package miniupnpd) must be installed");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if line.contains("HTTP listening on port") {
                    let _ = tx.send(());
                }
            }
        });
        self.daemon = Some(child);
        rx.recv_timeout(Duration::from_secs(20))
            .expect("miniupnpd did not start listening");
    }

    fn exec_in(&self, ns: &str, prog: &str, args: &[&str]) -> std::process::Output {
        Command::new("ip")
            .args(["netns", "exec", ns, prog])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("run {prog}: {e}"))
    }

    /// Moves what `cmd` starts into the home namespace (the process keeps
    /// its own PID, so it is signalled directly).
    pub fn in_home(&self, cmd: &mut Command) {
        use std::os::unix::io::AsRawFd;
        use std::os::unix::process::CommandExt;
        let ns = std::fs::File::open(format!("/run/netns/{}", self.home)).unwrap();
        // SAFETY: setns is async-signal-safe; the file stays open (moved
        // into the closure) until the command is dropped.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }

    /// The gateway's mapping list as a LAN client sees it (`upnpc -l`, from
    /// Debian's miniupnpc, run in the home namespace).
    pub fn mappings(&self) -> String {
        self.upnpc(&["-l"])
    }

    /// `upnpc ARGS` in the home namespace; its output.
    pub fn upnpc(&self, args: &[&str]) -> String {
        let out = self.exec_in(&self.home, "upnpc", args);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls [`mappings`](Self::mappings) (20 s at most, a hang guard) until
    /// `ok` holds; returns the last list.
    pub fn wait_mappings(&self, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let list = self.mappings();
            if ok(&list) || Instant::now() > deadline {
                return list;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for HomeLan {
    fn drop(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            // `ip netns exec` execs miniupnpd in place: this PID is the daemon's.
            unsafe { libc::kill(d.id() as i32, libc::SIGTERM) };
            let _ = d.wait();
        }
        for ns in [&self.home, &self.router] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}
