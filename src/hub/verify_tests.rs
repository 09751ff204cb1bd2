//! The checks of `verify`, on transactions built here with real keys.

use super::*;
use crate::wire::hub::build::{
    claim_script, encode_tx, public_key, sign, signable_bytes, update_script,
};
use crate::wire::hub::proto::output::Meta;
use crate::wire::hub::proto::{Channel, Claim, OutputError, Source, Stream};
use crate::wire::hub::TxOut;
use prost::Message;
use serde_json::json;

const KEY: [u8; 32] = [0x11; 32];
const PAY: [u8; 20] = [0x23; 20];

struct Chain {
    txs: TxSet,
    chan_tx: [u8; 32],
    chan_hash: [u8; 20],
}

fn tx_of(input: u8, script: Vec<u8>) -> (Vec<u8>, [u8; 32]) {
    let raw = encode_tx(&Tx {
        inputs: vec![OutPoint {
            tx_hash: [input; 32],
            nout: 0,
        }],
        outputs: vec![TxOut { value: 1, script }],
    });
    let h = tx_hash(&raw);
    (raw, h)
}

fn add(txs: &mut TxSet, raw: &[u8], h: [u8; 32]) {
    let reply = json!({ txid_hex(&h): [hex::encode(raw), {"block_height": 1}] });
    txs.add_batch(&[h], &reply).unwrap();
}

fn chain() -> Chain {
    let claim = Claim {
        r#type: Some(Type::Channel(Channel {
            public_key: public_key(&KEY).unwrap().to_vec(),
            ..Default::default()
        })),
        ..Default::default()
    };
    let script = claim_script(b"@bar", &signable_bytes(None, &claim.encode_to_vec()), &PAY);
    let (raw, chan_tx) = tx_of(0x69, script);
    let mut txs = TxSet::default();
    add(&mut txs, &raw, chan_tx);
    Chain {
        txs,
        chan_tx,
        chan_hash: claim_hash(&chan_tx, 0),
    }
}

fn payload() -> Vec<u8> {
    Claim {
        r#type: Some(Type::Stream(Stream {
            source: Some(Source {
                sd_hash: vec![0x1a; 48],
                name: "one.bin".into(),
                size: 123,
                ..Default::default()
            }),
            ..Default::default()
        })),
        title: "One".into(),
        ..Default::default()
    }
    .encode_to_vec()
}

/// A stream `name` added to `c`, signed with `key` for `signer` (or unsigned).
fn stream(c: &mut Chain, name: &str, signer: Option<([u8; 20], [u8; 32])>) -> [u8; 32] {
    let payload = payload();
    let input = OutPoint {
        tx_hash: [0x70; 32],
        nout: 0,
    };
    let bytes = match signer {
        Some((ch, key)) => {
            let sig = sign(&signature_digest(&input, &ch, &payload), &key).unwrap();
            signable_bytes(Some((&ch, &sig)), &payload)
        }
        None => signable_bytes(None, &payload),
    };
    let (raw, h) = tx_of(0x70, claim_script(name.as_bytes(), &bytes, &PAY));
    add(&mut c.txs, &raw, h);
    h
}

fn row(c: &Chain, h: [u8; 32], canonical: &str, short: &str, in_channel: bool) -> Output {
    Output {
        tx_hash: h.to_vec(),
        nout: 0,
        height: 2,
        meta: Some(Meta::Claim(ClaimMeta {
            channel: in_channel.then(|| {
                Box::new(Output {
                    tx_hash: c.chan_tx.to_vec(),
                    ..Default::default()
                })
            }),
            canonical_url: canonical.into(),
            short_url: short.into(),
            ..Default::default()
        })),
    }
}

fn ask(url: &str, out: &Output, c: &Chain) -> Result<Resolved, NameError> {
    let parsed: LbryUrl = url.parse().unwrap();
    resolved(Some((url, &parsed)), out, &c.txs)
}

#[test]
fn a_signed_stream_is_in_its_channel_with_the_hubs_canonical_url() {
    let mut c = chain();
    let ch = c.chan_hash;
    let h = stream(&mut c, "one", Some((ch, KEY)));
    let id = claim_id_hex(&claim_hash(&h, 0));
    let chan_id = claim_id_hex(&c.chan_hash);
    let canon = format!("@bar#{}/one#{}", &chan_id[..2], &id[..2]);
    let r = ask("lbry://@bar/one", &row(&c, h, &canon, "one#x", true), &c).unwrap();
    assert_eq!(r.channel.as_ref().unwrap().claim_id, chan_id);
    assert_eq!(r.canonical_url, format!("lbry://{canon}"));
    assert_eq!(r.title.as_deref(), Some("One"));
    assert_eq!(
        r.line().unwrap(),
        format!("{}  123  one.bin  lbry://{canon}", "1a".repeat(48))
    );
    // A canonical URL naming another claim is replaced by one with full ids.
    let r = ask("lbry://@bar/one", &row(&c, h, "@bar#0/one#0", "", true), &c).unwrap();
    assert!(
        r.canonical_url.ends_with(&format!("/one#{id}")),
        "{}",
        r.canonical_url
    );
}

#[test]
fn a_signature_by_another_key_or_for_another_channel_is_refused_under_the_channel() {
    let mut c = chain();
    for signer in [Some((c.chan_hash, [0x22; 32])), Some(([9; 20], KEY)), None] {
        let h = stream(&mut c, "one", signer);
        let err = ask("lbry://@bar/one", &row(&c, h, "", "", true), &c).unwrap_err();
        assert!(
            matches!(&err, NameError::Untrusted(w) if w.contains("invalid channel signature")),
            "{err}"
        );
        let r = ask("lbry://one", &row(&c, h, "@bar#a/one#b", "one#b", true), &c).unwrap();
        assert_eq!(r.channel, None, "shown without the channel");
        assert!(!r.canonical_url.contains("@bar"), "{}", r.canonical_url);
    }
}

#[test]
fn the_claim_must_be_the_name_and_id_asked_for() {
    let mut c = chain();
    let h = stream(&mut c, "one", None);
    let id = claim_id_hex(&claim_hash(&h, 0));
    let out = row(&c, h, "", "", false);
    assert!(matches!(
        ask("lbry://two", &out, &c),
        Err(NameError::Untrusted(_))
    ));
    assert!(
        ask("lbry://ONE", &out, &c).is_ok(),
        "names compare case-folded"
    );
    let other = if id.starts_with('f') { "e" } else { "f" };
    assert!(matches!(
        ask(&format!("lbry://one#{other}"), &out, &c),
        Err(NameError::Untrusted(_))
    ));
    assert!(ask(&format!("lbry://one#{}", &id[..5]), &out, &c).is_ok());
    assert!(
        ask(&format!("lbry://whatever#{id}"), &out, &c).is_ok(),
        "a full id whatever the name"
    );
}

#[test]
fn an_update_carries_its_claim_id_in_the_script() {
    let mut c = chain();
    let claim_id_hash = [0x42; 20];
    let script = update_script(
        b"one",
        &claim_id_hash,
        &signable_bytes(None, &payload()),
        &PAY,
    );
    let (raw, h) = tx_of(0x71, script);
    add(&mut c.txs, &raw, h);
    let r = ask("lbry://one", &row(&c, h, "", "", false), &c).unwrap();
    assert_eq!(r.claim_id, claim_id_hex(&claim_id_hash));
}

#[test]
fn error_rows_carry_the_hubs_text_and_batches_their_transactions() {
    let not_found = Output {
        meta: Some(Meta::Error(OutputError {
            code: 1,
            text: "Could not find claim at \"lbry://x\".".into(),
            blocked: None,
        })),
        ..Default::default()
    };
    assert_eq!(
        row_error(&not_found),
        Some(NameError::NotFound(
            "Could not find claim at \"lbry://x\".".into()
        ))
    );
    let c = chain();
    let mut txs = TxSet::default();
    let unknown = json!({ txid_hex(&c.chan_tx): [null, {"block_height": -1}] });
    assert!(matches!(
        txs.add_batch(&[c.chan_tx], &unknown),
        Err(NameError::Untrusted(_))
    ));
    let not_hex = json!({ txid_hex(&c.chan_tx): ["zz", {}] });
    assert!(matches!(
        txs.add_batch(&[c.chan_tx], &not_hex),
        Err(NameError::Untrusted(_))
    ));
    let rows = [
        row(&c, c.chan_tx, "", "", true),
        row(&c, c.chan_tx, "", "", true),
    ];
    assert_eq!(
        referenced_txs(&rows),
        vec![c.chan_tx],
        "each transaction asked once"
    );
}
