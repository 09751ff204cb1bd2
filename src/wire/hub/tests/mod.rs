//! Tests of the hub codecs (docs/protocol.md §7.6): the reference hub's
//! worked example byte for byte, a signed channel claim built here, golden
//! vectors written by Python's protobuf, unit tests per codec, and
//! properties (no panic on arbitrary bytes).

/// The bytes of a golden file under `tests/vectors/hub/`.
macro_rules! vector {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/hub/",
            $name
        ))
    };
}

mod example;
mod props;
mod signing;
mod units;
mod vectors;

/// Hex to bytes for test literals (spaces allowed for readability).
pub(super) fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(s).expect("test literal is hex")
}
