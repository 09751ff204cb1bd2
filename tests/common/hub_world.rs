//! The claims a test hub serves: a channel with a real secp256k1 key, and
//! streams as real transactions (claim script at output 0, a change output
//! at 1) signed by it, built with the crate's own builders; and the
//! answers lbryio/hub would give about them (base64 `Outputs`).

use base64::Engine;
use lbrymount::wire::hub::build::{
    claim_script, encode_tx, p2pkh, public_key, sign, signable_bytes,
};
use lbrymount::wire::hub::proto::{
    self, claim::Type, output::Meta, ClaimMeta, Output, OutputError, Outputs,
};
use lbrymount::wire::hub::{claim_hash, claim_id_hex, signature_digest, tx_hash, txid_hex};
use lbrymount::wire::hub::{LbryUrl, Modifier, OutPoint, Tx, TxOut, UrlPart};
use prost::Message;
use std::collections::HashMap;

/// The channel's secret key: a fixed, valid secp256k1 scalar.
pub const CHANNEL_KEY: [u8; 32] = [0x11; 32];
const OTHER_KEY: [u8; 32] = [0x22; 32];
const PAY: [u8; 20] = [0x23; 20];
pub const CHANNEL_HEIGHT: u32 = 1_699_997;

/// A stream the hub knows about.
#[derive(Debug, Clone)]
pub struct StreamSpec {
    pub name: String,
    /// 96 hex characters, or none (a claim that is not streamable).
    pub sd_hash: Option<String>,
    pub bt_infohash: Option<[u8; 20]>,
    pub file_name: String,
    pub size: u64,
    pub title: String,
    /// Signed by the channel (else unsigned, outside any channel).
    pub in_channel: bool,
    /// Claims the channel but is signed by another key.
    pub forged: bool,
}

/// A stream of the channel pointing at `sd_hash`.
pub fn stream(name: &str, sd_hash: &str, file_name: &str, size: u64) -> StreamSpec {
    StreamSpec {
        name: name.into(),
        sd_hash: Some(sd_hash.into()),
        bt_infohash: None,
        file_name: file_name.into(),
        size,
        title: format!("Title of {name}"),
        in_channel: true,
        forged: false,
    }
}

/// One claim as it sits on the chain.
#[derive(Debug, Clone)]
pub struct Placed {
    pub spec: StreamSpec,
    pub tx_hash: [u8; 32],
    pub claim_id: String,
    pub height: u32,
    pub release_time: i64,
}

/// Every transaction and claim of a test hub.
pub struct World {
    pub channel_name: String,
    pub channel_tx: [u8; 32],
    pub channel_id: String,
    pub streams: Vec<Placed>,
    pub txs: HashMap<[u8; 32], Vec<u8>>,
}

impl World {
    pub fn new(channel_name: &str, specs: Vec<StreamSpec>) -> World {
        let chan_claim = proto::Claim {
            r#type: Some(Type::Channel(proto::Channel {
                public_key: public_key(&CHANNEL_KEY).unwrap().to_vec(),
                ..Default::default()
            })),
            ..Default::default()
        };
        let script = claim_script(
            channel_name.as_bytes(),
            &signable_bytes(None, &chan_claim.encode_to_vec()),
            &PAY,
        );
        let raw = encode_tx(&Tx {
            inputs: vec![OutPoint {
                tx_hash: [0x69; 32],
                nout: 0,
            }],
            outputs: vec![TxOut {
                value: 1_000_000,
                script,
            }],
        });
        let channel_tx = tx_hash(&raw);
        let chan_hash = claim_hash(&channel_tx, 0);
        let mut txs = HashMap::from([(channel_tx, raw)]);
        let streams = specs
            .into_iter()
            .enumerate()
            .map(|(i, spec)| {
                let raw = stream_tx(&spec, i as u32, &chan_hash);
                let h = tx_hash(&raw);
                txs.insert(h, raw);
                Placed {
                    claim_id: claim_id_hex(&claim_hash(&h, 0)),
                    tx_hash: h,
                    height: CHANNEL_HEIGHT + 1 + i as u32,
                    release_time: 1_700_000_000 + i as i64,
                    spec,
                }
            })
            .collect();
        World {
            channel_name: channel_name.into(),
            channel_tx,
            channel_id: claim_id_hex(&chan_hash),
            streams,
            txs,
        }
    }

    pub fn stream(&self, name: &str) -> &Placed {
        self.streams
            .iter()
            .find(|s| s.spec.name == name)
            .unwrap_or_else(|| panic!("no stream {name} in the test hub"))
    }

    pub fn txid(&self, name: &str) -> String {
        txid_hex(&self.stream(name).tx_hash)
    }
}

/// A stream claim transaction: input `i` of a made-up funding tx, the claim
/// at output 0, change at output 1.
fn stream_tx(spec: &StreamSpec, i: u32, chan_hash: &[u8; 20]) -> Vec<u8> {
    let source = proto::Source {
        name: spec.file_name.clone(),
        size: spec.size,
        media_type: "application/octet-stream".into(),
        sd_hash: spec
            .sd_hash
            .as_ref()
            .map(|h| hex::decode(h).expect("sd hash hex"))
            .unwrap_or_default(),
        bt_infohash: spec.bt_infohash.map(|b| b.to_vec()).unwrap_or_default(),
        ..Default::default()
    };
    let claim = proto::Claim {
        r#type: Some(Type::Stream(proto::Stream {
            source: Some(source),
            release_time: 1_700_000_000 + i as i64,
            ..Default::default()
        })),
        title: spec.title.clone(),
        ..Default::default()
    };
    let payload = claim.encode_to_vec();
    let input = OutPoint {
        tx_hash: [0x70; 32],
        nout: i,
    };
    let bytes = if spec.in_channel {
        let key = if spec.forged {
            &OTHER_KEY
        } else {
            &CHANNEL_KEY
        };
        let sig = sign(&signature_digest(&input, chan_hash, &payload), key).unwrap();
        signable_bytes(Some((chan_hash, &sig)), &payload)
    } else {
        signable_bytes(None, &payload)
    };
    encode_tx(&Tx {
        inputs: vec![input],
        outputs: vec![
            TxOut {
                value: 1_000_000,
                script: claim_script(spec.name.as_bytes(), &bytes, &PAY),
            },
            TxOut {
                value: 5_000,
                script: p2pkh(&PAY),
            },
        ],
    })
}

/// What a resolve row is, before encoding.
pub enum Row<'a> {
    Channel,
    Stream(&'a Placed),
    Error(i32, String),
}

impl World {
    /// lbryio/hub's resolution of one URL string.
    pub fn resolve_row(&self, url: &str) -> Row<'_> {
        let Ok(parsed) = url.parse::<LbryUrl>() else {
            return Row::Error(2, "Invalid LBRY URL".into());
        };
        if let Some(c) = &parsed.channel {
            if !self.part_is(c, &self.channel_name, &self.channel_id) {
                return Row::Error(1, format!("Could not find channel in \"{url}\"."));
            }
        }
        let Some(s) = &parsed.stream else {
            return Row::Channel;
        };
        let in_chan = parsed.channel.is_some();
        self.streams
            .iter()
            .find(|p| (!in_chan || p.spec.in_channel) && self.part_is(s, &p.spec.name, &p.claim_id))
            .map_or_else(
                || Row::Error(1, format!("Could not find claim at \"{url}\".")),
                Row::Stream,
            )
    }

    fn part_is(&self, part: &UrlPart, name: &str, id: &str) -> bool {
        let id_ok = match &part.modifier {
            Some(Modifier::ClaimId(p)) => id.starts_with(p.as_str()),
            _ => true,
        };
        id_ok && part.name.eq_ignore_ascii_case(name)
    }

    pub fn channel_output(&self) -> Output {
        Output {
            tx_hash: self.channel_tx.to_vec(),
            nout: 0,
            height: CHANNEL_HEIGHT,
            meta: Some(Meta::Claim(ClaimMeta {
                short_url: format!("{}#{}", self.channel_name, &self.channel_id[..1]),
                canonical_url: format!("{}#{}", self.channel_name, &self.channel_id[..1]),
                is_controlling: true,
                claims_in_channel: self.streams.len() as u32,
                effective_amount: 1_000_000,
                ..Default::default()
            })),
        }
    }

    pub fn stream_output(&self, p: &Placed, nout: u32) -> Output {
        let short = format!("{}#{}", p.spec.name, &p.claim_id[..1]);
        let chan = format!("{}#{}", self.channel_name, &self.channel_id[..1]);
        let pointer = Output {
            tx_hash: self.channel_tx.to_vec(),
            nout: 0,
            height: CHANNEL_HEIGHT,
            meta: None,
        };
        Output {
            tx_hash: p.tx_hash.to_vec(),
            nout,
            height: p.height,
            meta: Some(Meta::Claim(ClaimMeta {
                channel: p.spec.in_channel.then(|| Box::new(pointer)),
                canonical_url: if p.spec.in_channel {
                    format!("{chan}/{short}")
                } else {
                    short.clone()
                },
                short_url: short,
                is_controlling: true,
                effective_amount: 1_000_000,
                ..Default::default()
            })),
        }
    }
}

pub fn error_output(code: i32, text: String) -> Output {
    Output {
        meta: Some(Meta::Error(OutputError {
            code,
            text,
            blocked: None,
        })),
        ..Default::default()
    }
}

/// Standard base64 of an `Outputs`, as the hub sends it.
pub fn encode_outputs(o: &Outputs) -> String {
    base64::engine::general_purpose::STANDARD.encode(o.encode_to_vec())
}
