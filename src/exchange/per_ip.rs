//! Connections per remote IP address, so that one host cannot take every
//! slot of the server. lbry-sdk opens a handful of connections to a peer at
//! most; a host holding more is either many users behind one address (rare
//! for blob exchange) or a client that hoards slots, idle or not reading.
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
        self.lock().get(&ip).copied().unwrap_or(0)
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
