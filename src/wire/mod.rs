//! Wire formats of the network protocols, as pure codecs.
//!
//! Bytes in, typed values out (and back). Nothing here touches a socket, a
//! file or the clock, so every rule of docs/protocol.md is checked by fast unit
//! and property tests; the async code in `exchange` only moves bytes.
//! Decoders distinguish "need more bytes" from "can never be valid".

pub mod bencode;
pub mod dht;
pub mod exchange;
pub mod frame;
pub mod hub;
pub mod krpc;
pub mod lan;
pub mod peer_wire;
pub mod pyjson;
pub mod reflector;
pub mod search;
pub mod tracker;
pub mod ut_metadata;

pub use frame::{Invalid, WireError};
