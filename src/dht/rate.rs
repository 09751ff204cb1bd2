//! Rate limiting of incoming requests: a token bucket per source, so one
//! host cannot make the node answer (and amplify) without bound.
//!
//! The key is the source IP, except for loopback sources, which are keyed by
//! ip:port since each port there is a separate local node and nobody else can
//! send from it. Pure: the caller passes `now`; the receive task owns the one
//! limiter.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

/// Token buckets per source (see the module docs for the key). Pure.
#[derive(Debug)]
pub struct RateLimiter {
    burst: f64,
    per_sec: f64,
    buckets: HashMap<SocketAddr, (f64, Instant)>,
}

/// Sources tracked before full (idle) buckets are pruned.
const MAX_TRACKED: usize = 4096;

impl RateLimiter {
    pub fn new(burst: u32, per_sec: u32) -> Self {
        Self {
            burst: f64::from(burst.max(1)),
            per_sec: f64::from(per_sec),
            buckets: HashMap::new(),
        }
    }

    /// Whether a request from `from` may be served now.
    pub fn allow(&mut self, from: SocketAddr, now: Instant) -> bool {
        let key = match from.ip() {
            ip if ip.is_loopback() => from,
            ip => SocketAddr::new(ip, 0),
        };
        if self.buckets.len() >= MAX_TRACKED && !self.buckets.contains_key(&key) {
            let (burst, rate) = (self.burst, self.per_sec);
            self.buckets
                .retain(|_, (t, at)| refill(*t, *at, now, rate, burst) < burst);
        }
        let (burst, rate) = (self.burst, self.per_sec);
        let (tokens, at) = self.buckets.entry(key).or_insert((burst, now));
        *tokens = refill(*tokens, *at, now, rate, burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

fn refill(tokens: f64, at: Instant, now: Instant, rate: f64, burst: f64) -> f64 {
    (tokens + now.saturating_duration_since(at).as_secs_f64() * rate).min(burst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rate_limit_is_per_ip_but_per_port_on_loopback() {
        let t0 = Instant::now();
        let mut l = RateLimiter::new(2, 1);
        let a: SocketAddr = "8.8.8.8:1000".parse().unwrap();
        let b: SocketAddr = "8.8.8.8:2000".parse().unwrap();
        assert!(l.allow(a, t0));
        assert!(l.allow(b, t0));
        assert!(!l.allow(a, t0));
        assert!(l.allow(a, t0 + Duration::from_secs(1)));
        let la: SocketAddr = "127.0.0.1:1000".parse().unwrap();
        let lb: SocketAddr = "127.0.0.1:2000".parse().unwrap();
        assert!(l.allow(la, t0) && l.allow(la, t0) && !l.allow(la, t0));
        assert!(l.allow(lb, t0));
    }
}
