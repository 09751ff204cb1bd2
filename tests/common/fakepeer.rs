//! Peers that speak the real blob-exchange protocol but misbehave on purpose.
