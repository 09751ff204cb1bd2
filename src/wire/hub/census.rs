//! Counting the messages of an `Outputs` before decoding it.
//!
//! prost allocates one struct per message it meets, and a message can cost
//! two bytes on the wire (`0a 00`, an empty `Output`) while its struct takes
//! 150: a hostile 8 MiB payload would become over half a gigabyte. So the
//! payload is walked first, knowing which fields of result.proto hold
//! messages, and refused when it holds more than [`MAX_MESSAGES`] of them
//! or nests deeper than [`MAX_DEPTH`]. The walk allocates nothing.

use super::HubWireError;

/// Most messages an `Outputs` may hold (a resolve of 100 URLs needs ~500).
pub const MAX_MESSAGES: usize = 50_000;
/// Deepest nesting accepted (a real answer nests 4 deep: Outputs, Output, ClaimMeta, Output).
pub const MAX_DEPTH: usize = 16;

/// The message types of result.proto that contain other messages.
#[derive(Clone, Copy)]
enum Kind {
    Outputs,
    Output,
    ClaimMeta,
    Error,
    Blocked,
}

impl Kind {
    /// The kind of message field `field` holds, if it holds one.
    fn child(self, field: u64) -> Option<Kind> {
        match (self, field) {
            (Kind::Outputs, 1 | 2) | (Kind::ClaimMeta, 1 | 2) | (Kind::Blocked, 2) => {
                Some(Kind::Output)
            }
            (Kind::Outputs, 5) | (Kind::Error, 3) => Some(Kind::Blocked),
            (Kind::Output, 7) => Some(Kind::ClaimMeta),
            (Kind::Output, 15) => Some(Kind::Error),
            _ => None,
        }
    }
}

/// Refuses an `Outputs` payload with too many or too deeply nested messages.
pub fn check_outputs(bytes: &[u8]) -> Result<(), HubWireError> {
    let mut count = 0;
    walk(bytes, Kind::Outputs, 0, &mut count)
}

fn walk(mut b: &[u8], kind: Kind, depth: usize, count: &mut usize) -> Result<(), HubWireError> {
    if depth > MAX_DEPTH {
        return Err(HubWireError::TooLarge {
            what: "Outputs nesting depth",
            len: depth,
            limit: MAX_DEPTH,
        });
    }
    while !b.is_empty() {
        let key = varint(&mut b)?;
        let skip = match key & 7 {
            0 => {
                varint(&mut b)?;
                0
            }
            1 => 8,
            5 => 4,
            2 => {
                let len = usize::try_from(varint(&mut b)?).unwrap_or(usize::MAX);
                let body = b
                    .get(..len)
                    .ok_or_else(|| malformed("a length past the end"))?;
                if let Some(child) = kind.child(key >> 3) {
                    *count += 1;
                    if *count > MAX_MESSAGES {
                        return Err(HubWireError::TooLarge {
                            what: "Outputs message count",
                            len: *count,
                            limit: MAX_MESSAGES,
                        });
                    }
                    walk(body, child, depth + 1, count)?;
                }
                len
            }
            w => return Err(malformed(format_args!("wire type {w}"))),
        };
        b = b
            .get(skip..)
            .ok_or_else(|| malformed("a field past the end"))?;
    }
    Ok(())
}

fn varint(b: &mut &[u8]) -> Result<u64, HubWireError> {
    let mut value = 0u64;
    for i in 0..10 {
        let (&byte, rest) = b.split_first().ok_or_else(|| malformed("a cut varint"))?;
        *b = rest;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            return Ok(value);
        }
    }
    Err(malformed("a varint longer than 10 bytes"))
}

fn malformed(what: impl std::fmt::Display) -> HubWireError {
    HubWireError::Protobuf {
        message: "Outputs",
        reason: format!("malformed: {what}"),
    }
}
