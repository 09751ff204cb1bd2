//! Claim output scripts: the name and claim bytes in front of a payment script.
//!
//! LBRY puts a claim into an output script as data pushes the script engine
//! drops again (docs/protocol.md §7.3):
//! `OP_CLAIM_NAME <name> <claim> OP_2DROP OP_DROP <pay script>`,
//! `OP_UPDATE_CLAIM <name> <claim_hash> <claim> OP_2DROP OP_2DROP <pay script>`,
//! `OP_SUPPORT_CLAIM <name> <claim_hash> [<data> OP_2DROP] OP_2DROP|OP_DROP <pay script>`.
//! Only the claim prefix is read; the payment script after it is whatever
//! the owner chose and does not matter to a resolver.

use super::HubWireError;

pub const OP_CLAIM_NAME: u8 = 0xb5;
pub const OP_SUPPORT_CLAIM: u8 = 0xb6;
pub const OP_UPDATE_CLAIM: u8 = 0xb7;
pub const OP_2DROP: u8 = 0x6d;
pub const OP_DROP: u8 = 0x75;
pub const OP_PUSHDATA1: u8 = 0x4c;
pub const OP_PUSHDATA2: u8 = 0x4d;
pub const OP_PUSHDATA4: u8 = 0x4e;

/// What a claim script says. `claim_hash` is in internal order (reverse of the claim id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimScript {
    Claim {
        name: Vec<u8>,
        claim: Vec<u8>,
    },
    Update {
        name: Vec<u8>,
        claim_hash: [u8; 20],
        claim: Vec<u8>,
    },
    Support {
        name: Vec<u8>,
        claim_hash: [u8; 20],
    },
}

/// Reads the claim part of an output script; any other script is an error.
pub fn parse_claim_script(script: &[u8]) -> Result<ClaimScript, HubWireError> {
    let (&op, rest) = script
        .split_first()
        .ok_or(HubWireError::NotClaimScript("empty script"))?;
    let mut r = Pushes { rest };
    let name = r.push("the name is not a data push")?.to_vec();
    match op {
        OP_CLAIM_NAME => {
            let claim = r.push("the claim is not a data push")?.to_vec();
            r.ops(&[OP_2DROP, OP_DROP])?;
            Ok(ClaimScript::Claim { name, claim })
        }
        OP_UPDATE_CLAIM => {
            let claim_hash = r.claim_hash()?;
            let claim = r.push("the claim is not a data push")?.to_vec();
            r.ops(&[OP_2DROP, OP_2DROP])?;
            Ok(ClaimScript::Update {
                name,
                claim_hash,
                claim,
            })
        }
        OP_SUPPORT_CLAIM => {
            let claim_hash = r.claim_hash()?;
            // A support may carry data: one more push, dropped by a second OP_2DROP.
            if r.ops(&[OP_2DROP, OP_DROP]).is_err() {
                r.push("the support data is not a data push")?;
                r.ops(&[OP_2DROP, OP_2DROP])?;
            }
            Ok(ClaimScript::Support { name, claim_hash })
        }
        _ => Err(HubWireError::NotClaimScript(
            "does not start with a claim opcode",
        )),
    }
}

/// Reads data pushes and fixed opcodes off the front of a script.
struct Pushes<'a> {
    rest: &'a [u8],
}

impl<'a> Pushes<'a> {
    /// One data push (`OP_0`, a direct push of 1-75 bytes, or `OP_PUSHDATA1/2/4`).
    fn push(&mut self, not_a_push: &'static str) -> Result<&'a [u8], HubWireError> {
        let missing = HubWireError::NotClaimScript(not_a_push);
        let (&op, rest) = self.rest.split_first().ok_or(missing.clone())?;
        let (len, rest) = match op {
            0x00..=0x4b => (usize::from(op), rest),
            OP_PUSHDATA1 => le_len::<1>(rest).ok_or(missing.clone())?,
            OP_PUSHDATA2 => le_len::<2>(rest).ok_or(missing.clone())?,
            OP_PUSHDATA4 => le_len::<4>(rest).ok_or(missing.clone())?,
            _ => return Err(missing),
        };
        if len > rest.len() {
            return Err(HubWireError::Truncated {
                what: "claim script push",
                at: self.rest.len() - rest.len(),
            });
        }
        let (data, rest) = rest.split_at(len);
        self.rest = rest;
        Ok(data)
    }

    fn claim_hash(&mut self) -> Result<[u8; 20], HubWireError> {
        <[u8; 20]>::try_from(self.push("the claim hash is not a data push")?)
            .map_err(|_| HubWireError::NotClaimScript("the claim hash is not 20 bytes"))
    }

    /// The exact opcodes `ops` next; consumes them only when all match.
    fn ops(&mut self, ops: &[u8]) -> Result<(), HubWireError> {
        match self.rest.strip_prefix(ops) {
            Some(rest) => {
                self.rest = rest;
                Ok(())
            }
            None => Err(HubWireError::NotClaimScript(
                "the claim pushes are not followed by their drop opcodes",
            )),
        }
    }
}

/// A little-endian length of `N` bytes at the front of `b`, and what follows it.
fn le_len<const N: usize>(b: &[u8]) -> Option<(usize, &[u8])> {
    let (len, rest) = b.split_at_checked(N)?;
    let mut le = [0u8; 8];
    le[..N].copy_from_slice(len);
    Some((usize::try_from(u64::from_le_bytes(le)).ok()?, rest))
}
