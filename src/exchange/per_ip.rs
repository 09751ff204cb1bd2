//! Connections per remote IP address, so that one host cannot take every
//! slot of the server. lbry-sdk opens a handful of connections to a peer at
//! most; a host holding more is either many users behind one address (rare
//! for blob exchange) or a client that hoards slots, idle or not reading.
//!
//! An IPv6 host usually holds a whole /64, so IPv6 addresses count per /64
//! (an IPv4-mapped address counts as its IPv4 address).
//!
//! The map holds an entry only for addresses with a connection open, so it
//! is bounded by the server's connection cap.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Open connections per address, with a cap.
pub(super) struct PerIp {
    cap: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One address's share of a connection; given back on drop.
pub(super) struct IpSlot {
    owner: Arc<PerIp>,
    ip: IpAddr,
}

impl PerIp {
    pub(super) fn new(cap: usize) -> Arc<Self> {
        Arc::new(Self {
            cap: cap.max(1),
            open: Mutex::new(HashMap::new()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<IpAddr, usize>> {
        // Each update is one increment or decrement: a panic cannot leave it half done.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A slot for one more connection from `ip`, unless it holds the cap already.
    pub(super) fn try_take(self: &Arc<Self>, ip: IpAddr) -> Option<IpSlot> {
        let ip = host(ip);
        let mut open = self.lock();
        let n = open.entry(ip).or_insert(0);
        if *n >= self.cap {
            return None;
        }
        *n += 1;
        Some(IpSlot {
            owner: Arc::clone(self),
            ip,
        })
    }

    #[cfg(test)]
    fn open(&self, ip: IpAddr) -> usize {
        self.lock().get(&host(ip)).copied().unwrap_or(0)
    }
}

/// The key one host's connections count under: the IPv4 address, or the /64
/// of an IPv6 one.
fn host(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let net = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(std::net::Ipv6Addr::from(net))
            }
        },
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut open = self.owner.lock();
        if let Some(n) = open.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_gets_at_most_the_cap_and_slots_come_back() {
        let limits = PerIp::new(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let a1 = limits.try_take(a).unwrap();
        let _a2 = limits.try_take(a).unwrap();
        assert!(
            limits.try_take(a).is_none(),
            "a third from the same address"
        );
        let _b1 = limits.try_take(b).expect("another address is not affected");
        drop(a1);
        assert_eq!(limits.open(a), 1);
        assert!(limits.try_take(a).is_some());
    }

    #[test]
    fn an_ipv6_host_counts_per_64_and_a_mapped_ipv4_as_itself() {
        let limits = PerIp::new(1);
        let _a = limits.try_take("2001:db8::1".parse().unwrap()).unwrap();
        assert!(limits
            .try_take("2001:db8::ffff:2".parse().unwrap())
            .is_none());
        assert!(limits
            .try_take("2001:db8:0:1::1".parse().unwrap())
            .is_some());
        let _v4 = limits.try_take("192.0.2.7".parse().unwrap()).unwrap();
        assert!(limits
            .try_take("::ffff:192.0.2.7".parse().unwrap())
            .is_none());
    }

    #[test]
    fn addresses_without_connections_leave_the_map() {
        let limits = PerIp::new(1);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        drop(limits.try_take(a));
        assert!(limits.try_take(a).is_some());
        assert!(limits.lock().len() <= 1);
        drop(limits.try_take("10.0.0.3".parse().unwrap()));
        assert_eq!(limits.lock().len(), 0);
    }
}
