//! Tests of the sd module: docs/protocol.md §2.6 vectors, one test per
//! validation rule, and properties (no panics, round trips).

mod props;
mod rules;
mod vectors;

use super::*;
use crate::blob::{encrypt, PLAIN_CHUNK};

/// docs/protocol.md §2.6 (d): the exact sd bytes lbry-sdk wrote for `hello.txt`.
pub(super) const HELLO_SD: &str = r#"{"blobs": [{"blob_hash": "772edb0f65efc2b4be39a6a80a9f5fea827487a5dd350670fa08a17246f09203ed283ca27e9fc09a7c496bae04971026", "blob_num": 0, "iv": "01010101010101010101010101010101", "length": 16}, {"blob_num": 1, "iv": "02020202020202020202020202020202", "length": 0}], "key": "000102030405060708090a0b0c0d0e0f", "stream_hash": "a496d2fc18915c6259b19ef32ee576aa7e054fb3e7d8fadee1034f4b54d393703dff1ecfffaba83069f95c17f8ebe78f", "stream_name": "68656c6c6f2e747874", "stream_type": "lbryfile", "suggested_file_name": "68656c6c6f2e747874"}"#;

/// docs/protocol.md §2.6 (b): a new-layout sd blob with an AES-256 key.
pub(super) const AES256_SD: &str = r#"{"blobs": [{"blob_hash": "6f53c72de100f6f007aa1b9720632e2d049cc6049e609ad790b556dba262159f739d5a14648d5701afc84b991254206a", "blob_num": 0, "iv": "3b6110c2d8e742bff66e4314863dee7e", "length": 2097152}, {"blob_hash": "18493bc7c5164b00596153859a0faffa45765e47a6c3f12198a4f7be4658111505b7f8a15ed0162306a0672c4a9b505d", "blob_num": 1, "iv": "df973fa64e73b4ff2677d682cdc32d3e", "length": 2097152}, {"blob_num": 2, "iv": "660d2dc2645da7c7d4540a466fcb0c60", "length": 0}], "key": "6465616462656566646561646265656664656164626565666465616462656566", "stream_hash": "22423c6786584974bd6b462af47ecb03e471da0ef372fe85a4e71a78bef7560c4afb0835c689f03916105404653b7bdf", "stream_name": "746573745f66696c65", "stream_type": "lbryfile", "suggested_file_name": "746573745f66696c65"}"#;

/// The key of the docs/protocol.md §2.6 (d) vectors.
pub(super) fn fixed_key() -> StreamKey {
    StreamKey::new(&hex::decode("000102030405060708090a0b0c0d0e0f").unwrap()).unwrap()
}

/// Does what lbry-sdk's `create_stream` does with the fixed key and IVs of
/// docs/protocol.md §2.6 (d) (`[n; 16]` for the n-th IV, 1-based): returns
/// the descriptor and the encrypted blobs.
pub(super) fn create(file_name: &str, plain: &[u8]) -> (StreamDescriptor, Vec<Vec<u8>>) {
    let key = fixed_key();
    let mut blobs = Vec::new();
    let mut infos = Vec::new();
    for (n, chunk) in plain.chunks(PLAIN_CHUNK).enumerate() {
        let iv = [n as u8 + 1; 16];
        let enc = encrypt(&key, &iv, chunk);
        infos.push(BlobInfo {
            blob_num: n as u32,
            hash: BlobHash::digest(&enc),
            iv,
            length: enc.len() as u32,
        });
        blobs.push(enc);
    }
    let terminator_iv = [infos.len() as u8 + 1; 16];
    (
        StreamDescriptor::new(file_name, key, infos, terminator_iv),
        blobs,
    )
}
