//! Which addresses a node accepts as contacts and stores or hands out as
//! blob peers (docs/protocol.md §4.4).
//!
//! lbry-sdk accepts only public IPv4 addresses and ports ≥ 1024; loopback
//! needs a module flag and LAN addresses are always refused. That rule would
//! make a node on a test network (127.0.0.1, 192.168.x.y) useless, so the
//! policy follows the address we are bound to, with no flag:
//!
//! - bound to a loopback, private (RFC 1918), link-local or CGNAT address:
//!   [`AddrPolicy::Local`], any unicast IPv4 address and any non-zero port;
//! - anything else, including `0.0.0.0`: [`AddrPolicy::Public`], lbry-sdk's
//!   rule, so we never store or hand out addresses a Python peer would refuse.
//!
//! `NodeConfig::addr_policy` overrides the choice. Pure.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The address acceptance rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrPolicy {
    /// Public IPv4 only, ports ≥ 1024 (lbry-sdk's `is_valid_public_ipv4`).
    Public,
    /// Any unicast IPv4 address, any non-zero port: loopback and LAN networks.
    Local,
}

impl AddrPolicy {
    /// The policy for a node bound to `bound` (see the module docs).
    pub fn for_bound(bound: IpAddr) -> Self {
        match bound {
            IpAddr::V4(ip) if is_local(ip) => AddrPolicy::Local,
            _ => AddrPolicy::Public,
        }
    }

    /// Whether `addr` may be a contact, a request source or a blob peer.
    pub fn accepts(self, addr: SocketAddr) -> bool {
        let IpAddr::V4(ip) = addr.ip() else {
            return false;
        };
        match self {
            AddrPolicy::Public => addr.port() >= 1024 && is_public(ip),
            AddrPolicy::Local => {
                addr.port() != 0 && !ip.is_unspecified() && !ip.is_multicast() && !ip.is_broadcast()
            }
        }
    }
}

/// Loopback, RFC 1918, link-local or CGNAT (100.64/10).
fn is_local(ip: Ipv4Addr) -> bool {
    ip.is_loopback() || ip.is_private() || ip.is_link_local() || is_cgnat(ip)
}

fn is_cgnat(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    a == 100 && (64..128).contains(&b)
}

/// lbry-sdk's `is_valid_public_ipv4`: none of the special-purpose ranges.
fn is_public(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(is_local(ip)
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        || (a == 192 && b == 0 && c == 0)
        || (a == 192 && b == 88 && c == 99)
        || (a == 198 && (18..20).contains(&b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn policy_follows_the_bound_address() {
        assert_eq!(
            AddrPolicy::for_bound(sa("127.0.0.1:1").ip()),
            AddrPolicy::Local
        );
        assert_eq!(
            AddrPolicy::for_bound(sa("192.168.1.2:1").ip()),
            AddrPolicy::Local
        );
        assert_eq!(
            AddrPolicy::for_bound(sa("0.0.0.0:1").ip()),
            AddrPolicy::Public
        );
        assert_eq!(
            AddrPolicy::for_bound(sa("8.8.8.8:1").ip()),
            AddrPolicy::Public
        );
    }

    #[test]
    fn public_policy_is_lbry_sdks() {
        let p = AddrPolicy::Public;
        assert!(p.accepts(sa("8.8.8.8:4444")));
        assert!(!p.accepts(sa("8.8.8.8:1023")));
        for bad in [
            "127.0.0.1:4444",
            "10.1.2.3:4444",
            "192.168.0.1:4444",
            "100.64.0.1:4444",
            "192.88.99.1:4444",
            "224.0.0.1:4444",
            "240.0.0.1:4444",
            "0.0.0.0:4444",
            "[::1]:4444",
        ] {
            assert!(!p.accepts(sa(bad)), "{bad}");
        }
    }

    #[test]
    fn local_policy_takes_loopback_and_lan_but_not_port_zero() {
        let p = AddrPolicy::Local;
        assert!(p.accepts(sa("127.0.0.1:80")));
        assert!(p.accepts(sa("192.168.0.1:4444")));
        assert!(p.accepts(sa("8.8.8.8:4444")));
        assert!(!p.accepts(sa("127.0.0.1:0")));
        assert!(!p.accepts(sa("0.0.0.0:4444")));
    }
}
