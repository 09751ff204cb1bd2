//! Raw transactions as a hub returns them, and txids.
//!
//! A hub's `Outputs` only points at `(tx_hash, nout)`; the claim is in the
//! raw transaction, fetched separately. The resolver checks that the raw
//! bytes hash to the txid it asked for ([`tx_hash`]) and then reads the
//! output the hub pointed at ([`parse_tx`]). LBRY transactions use Bitcoin's
//! original layout (no segwit): version, inputs, outputs, locktime.
//!
//! Counts and lengths come from the hub: each is checked against the bytes
//! actually left before anything is allocated, so a 9-byte varint claiming
//! 2^64 inputs costs nothing.

use sha2::{Digest, Sha256};

use super::{hex_array, reversed_hex, HubWireError};

/// Largest raw transaction accepted: ten times what LBRY nodes relay (100 kB).
/// It also bounds a claim's protobuf, whose repeated fields prost expands
/// about tenfold in memory.
pub const MAX_TX_BYTES: usize = 1024 * 1024;

/// A parsed transaction: what a resolver needs (input outpoints, outputs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tx {
    pub inputs: Vec<OutPoint>,
    pub outputs: Vec<TxOut>,
}

/// The output an input spends: `tx_hash` in internal byte order (reverse of the txid).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OutPoint {
    pub tx_hash: [u8; 32],
    pub nout: u32,
}

/// One output: its value in dewies (1 LBC = 10^8) and its script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxOut {
    pub value: u64,
    pub script: Vec<u8>,
}

/// Smallest input on the wire: outpoint 36 + script length 1 + sequence 4.
const MIN_INPUT: usize = 41;
/// Smallest output on the wire: value 8 + script length 1.
const MIN_OUTPUT: usize = 9;

/// Parses a whole raw transaction; bytes after the locktime are an error.
pub fn parse_tx(raw: &[u8]) -> Result<Tx, HubWireError> {
    if raw.len() > MAX_TX_BYTES {
        return Err(HubWireError::TooLarge {
            what: "transaction",
            len: raw.len(),
            limit: MAX_TX_BYTES,
        });
    }
    let mut r = Reader { buf: raw, pos: 0 };
    r.take(4)?; // version
    let n_in = r.count("input count", MIN_INPUT)?;
    if n_in == 0 {
        // A segwit marker (0x00 then flag 0x01) or a transaction that spends nothing.
        return Err(HubWireError::Segwit);
    }
    let mut inputs = Vec::with_capacity(n_in);
    for _ in 0..n_in {
        let tx_hash = r.array::<32>()?;
        let nout = r.u32_le()?;
        let script_len = r.count("input script", 1)?;
        r.take(script_len)?;
        r.take(4)?; // sequence
        inputs.push(OutPoint { tx_hash, nout });
    }
    let n_out = r.count("output count", MIN_OUTPUT)?;
    let mut outputs = Vec::with_capacity(n_out);
    for _ in 0..n_out {
        let value = u64::from_le_bytes(r.array::<8>()?);
        let script_len = r.count("output script", 1)?;
        let script = r.take(script_len)?.to_vec();
        outputs.push(TxOut { value, script });
    }
    r.take(4)?; // locktime
    if r.pos != raw.len() {
        return Err(HubWireError::TrailingBytes {
            what: "transaction",
            count: raw.len() - r.pos,
        });
    }
    Ok(Tx { inputs, outputs })
}

/// sha256(sha256(raw)), internal byte order (the txid is its reverse).
pub fn tx_hash(raw: &[u8]) -> [u8; 32] {
    Sha256::digest(Sha256::digest(raw)).into()
}

/// The txid as shown and as sent to `get_batch`: the hash reversed, in hex.
pub fn txid_hex(hash: &[u8; 32]) -> String {
    reversed_hex(hash)
}

/// Parses a 64-hex txid into the internal-order hash.
pub fn parse_txid(hex: &str) -> Result<[u8; 32], HubWireError> {
    let mut hash = hex_array::<32>("txid", hex)?;
    hash.reverse();
    Ok(hash)
}

/// Writes Bitcoin's variable-length integer (`CompactSize`), the form `Reader::read_varint` reads.
pub(crate) fn write_varint(out: &mut Vec<u8>, n: u64) {
    match n {
        0..=0xfc => out.push(n as u8),
        0xfd..=0xffff => {
            out.push(0xfd);
            out.extend_from_slice(&(n as u16).to_le_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xfe);
            out.extend_from_slice(&(n as u32).to_le_bytes());
        }
        _ => {
            out.push(0xff);
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
}

/// A cursor over untrusted bytes: every read is checked.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], HubWireError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.buf.len())
            .ok_or(HubWireError::Truncated {
                what: "transaction",
                at: self.pos,
            })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], HubWireError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u32_le(&mut self) -> Result<u32, HubWireError> {
        Ok(u32::from_le_bytes(self.array::<4>()?))
    }

    fn read_varint(&mut self) -> Result<u64, HubWireError> {
        Ok(match self.array::<1>()?[0] {
            0xfd => u64::from(u16::from_le_bytes(self.array::<2>()?)),
            0xfe => u64::from(u32::from_le_bytes(self.array::<4>()?)),
            0xff => u64::from_le_bytes(self.array::<8>()?),
            b => u64::from(b),
        })
    }

    /// A count of items at least `min_size` bytes each, refused if the bytes left cannot hold them.
    fn count(&mut self, what: &'static str, min_size: usize) -> Result<usize, HubWireError> {
        let n = self.read_varint()?;
        let room = self.buf.len() - self.pos;
        match usize::try_from(n) {
            Ok(k) if k.saturating_mul(min_size) <= room => Ok(k),
            _ => Err(HubWireError::TooMany {
                what,
                count: n,
                room,
            }),
        }
    }
}
