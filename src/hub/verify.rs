//! The hub's word, checked: everything a hub says that can be checked is,
//! before it becomes a [`Resolved`].
//!
//! * a raw transaction must hash (sha256d) to the txid asked for;
//! * the claim must be in the output the hub pointed at, as a claim or
//!   update script (a support is not a claim);
//! * the claim's name and claim id must match what the URL asked for;
//! * a stream is put in a channel only when the channel's signature over it
//!   verifies, as lbry-sdk's `is_signed_by`: for `@chan/name` a bad
//!   signature is an error (lbry-sdk: "has invalid channel signature"); for a
//!   bare name the stream is shown without its channel.
//!
//! PURE: hub replies in, values out; the async callers fetch the bytes.

use super::types::{ChannelRef, ClaimKind, Fee, NameError, Resolved, StreamClaim};
use crate::hash::SdHash;
use crate::wire::hub::proto::{self, claim::Type, ClaimMeta, Output};
use crate::wire::hub::{
    claim_hash, claim_id_hex, parse_claim_script, parse_signable, parse_tx, signature_digest,
    tx_hash, txid_hex, verify_signature, ClaimScript, LbryUrl, Modifier, OutPoint, Signable, Tx,
    UrlPart,
};
use serde_json::Value;
use std::collections::HashMap;

/// Transactions by hash (internal order), each checked against its hash.
#[derive(Debug, Default)]
pub struct TxSet {
    txs: HashMap<[u8; 32], Tx>,
}

impl TxSet {
    /// Adds the transactions of a `get_batch` reply for `asked`.
    pub fn add_batch(&mut self, asked: &[[u8; 32]], reply: &Value) -> Result<(), NameError> {
        let lie = |why: String| NameError::Untrusted(why);
        let obj = reply
            .as_object()
            .ok_or_else(|| lie("get_batch reply is not an object".into()))?;
        for hash in asked {
            let txid = txid_hex(hash);
            let raw_hex = obj
                .get(&txid)
                .and_then(|e| e.get(0))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    lie(format!(
                        "the hub does not give transaction {txid} it pointed at"
                    ))
                })?;
            let raw =
                hex::decode(raw_hex).map_err(|_| lie(format!("transaction {txid} is not hex")))?;
            let got = tx_hash(&raw);
            if &got != hash {
                return Err(lie(format!(
                    "the bytes sent as transaction {txid} hash to {}",
                    txid_hex(&got)
                )));
            }
            let tx = parse_tx(&raw).map_err(|e| lie(format!("transaction {txid}: {e}")))?;
            self.txs.insert(*hash, tx);
        }
        Ok(())
    }
}

/// The transactions an `Outputs` points at (claims and their channels), each once.
pub fn referenced_txs(outputs: &[Output]) -> Vec<[u8; 32]> {
    let mut out: Vec<[u8; 32]> = Vec::new();
    for o in outputs {
        let Some(meta) = o.claim_meta() else { continue };
        let chan = meta.channel.as_deref().map(|c| &c.tx_hash[..]);
        for h in std::iter::once(&o.tx_hash[..]).chain(chan) {
            if let Ok(h) = <[u8; 32]>::try_from(h) {
                if !out.contains(&h) {
                    out.push(h);
                }
            }
        }
    }
    out
}

/// A claim read from the output a hub pointed at.
#[derive(Debug)]
struct Found {
    claim_hash: [u8; 20],
    name: String,
    signable: Signable,
    first_input: Option<OutPoint>,
}

fn claim_at(txs: &TxSet, out: &Output) -> Result<Found, NameError> {
    let lie = |why: String| NameError::Untrusted(why);
    let hash = <[u8; 32]>::try_from(&out.tx_hash[..])
        .map_err(|_| lie(format!("tx hash of {} bytes", out.tx_hash.len())))?;
    let txid = txid_hex(&hash);
    let tx = txs
        .txs
        .get(&hash)
        .ok_or_else(|| lie(format!("transaction {txid} was not fetched")))?;
    let output = tx.outputs.get(out.nout as usize).ok_or_else(|| {
        lie(format!(
            "the claim is not at output {} of transaction {txid}: it has {} outputs",
            out.nout,
            tx.outputs.len()
        ))
    })?;
    let script = parse_claim_script(&output.script).map_err(|e| {
        lie(format!(
            "output {} of transaction {txid} holds no claim: {e}",
            out.nout
        ))
    })?;
    let (name, claim_hash, bytes) = match script {
        ClaimScript::Claim { name, claim } => (name, claim_hash(&hash, out.nout), claim),
        ClaimScript::Update {
            name,
            claim_hash,
            claim,
        } => (name, claim_hash, claim),
        ClaimScript::Support { .. } => {
            return Err(lie(format!(
                "output {} of transaction {txid} is a support, not a claim",
                out.nout
            )))
        }
    };
    let id = claim_id_hex(&claim_hash);
    let signable = parse_signable(&bytes)
        .map_err(|e| NameError::NotStreamable(format!("claim {id} cannot be read: {e}")))?;
    if matches!(signable, Signable::Legacy) {
        return Err(NameError::NotStreamable(format!(
            "claim {id} is in the pre-2019 format, which lbrymount does not read"
        )));
    }
    Ok(Found {
        claim_hash,
        name: String::from_utf8_lossy(&name).into_owned(),
        signable,
        first_input: tx.inputs.first().cloned(),
    })
}

fn claim_of(s: &Signable) -> Option<&proto::Claim> {
    match s {
        Signable::Unsigned { claim } | Signable::Signed { claim, .. } => Some(claim),
        Signable::Legacy => None,
    }
}

/// lbry-sdk's `is_signed_by`: the stream names this channel and the
/// channel's key verifies the signature over the stream's first input,
/// the channel hash and the claim bytes.
fn is_signed_by(stream: &Found, channel: &Found) -> bool {
    let Signable::Signed {
        channel_hash,
        signature,
        payload,
        ..
    } = &stream.signable
    else {
        return false;
    };
    let Some(Type::Channel(ch)) = claim_of(&channel.signable).and_then(|c| c.r#type.as_ref())
    else {
        return false;
    };
    let Some(input) = &stream.first_input else {
        return false;
    };
    *channel_hash == channel.claim_hash
        && verify_signature(
            &signature_digest(input, channel_hash, payload),
            signature,
            &ch.public_key,
        )
}

/// The error a hub's error row stands for.
pub fn row_error(out: &Output) -> Option<NameError> {
    let e = out.error()?;
    Some(match e.code {
        2 => NameError::Invalid(e.text.clone()),
        _ => NameError::NotFound(e.text.clone()),
    })
}

/// Checks one `txos` row against the transactions and the URL asked (`None`
/// for a search hit, which asked for no name) and makes the answer.
pub fn resolved(
    asked: Option<(&str, &LbryUrl)>,
    out: &Output,
    txs: &TxSet,
) -> Result<Resolved, NameError> {
    if let Some(e) = row_error(out) {
        return Err(e);
    }
    let meta = out
        .claim_meta()
        .ok_or_else(|| NameError::Untrusted("a row with neither claim nor error".into()))?;
    let found = claim_at(txs, out)?;
    let claim_id = claim_id_hex(&found.claim_hash);
    let channel = match meta.channel.as_deref() {
        Some(ch_out) => Some((claim_at(txs, ch_out)?, ch_out)),
        None => None,
    };
    let verified = channel.as_ref().filter(|(ch, _)| is_signed_by(&found, ch));
    if let Some((url_text, url)) = asked {
        check_asked(url_text, url, &found, &claim_id, verified.map(|(c, _)| c))?;
    }
    if channel.is_some() && verified.is_none() {
        tracing::warn!(
            claim_id,
            "channel signature does not verify; shown without its channel"
        );
    }
    let channel_ref = verified.map(|(ch, _)| channel_ref(ch));
    let url = match asked {
        Some((u, _)) => u.to_string(),
        None => format!("lbry://{}#{claim_id}", found.name),
    };
    let canonical_url = canonical(meta, &found.name, &claim_id, channel_ref.as_ref());
    let claim = claim_of(&found.signable);
    Ok(Resolved {
        url,
        canonical_url,
        claim_id,
        name: found.name,
        channel: channel_ref,
        title: claim.map(|c| c.title.clone()).filter(|t| !t.is_empty()),
        kind: claim.map_or(ClaimKind::Other, kind),
    })
}

fn channel_ref(ch: &Found) -> ChannelRef {
    let claim_id = claim_id_hex(&ch.claim_hash);
    ChannelRef {
        canonical_url: format!("lbry://{}#{claim_id}", ch.name),
        name: ch.name.clone(),
        claim_id,
    }
}

/// The claim must be what the URL names: same name (unless a full claim id
/// was asked), claim id starting with the asked prefix, and for `@chan/name`
/// a verified signature of a channel that is `@chan` itself.
fn check_asked(
    text: &str,
    url: &LbryUrl,
    found: &Found,
    claim_id: &str,
    channel: Option<&Found>,
) -> Result<(), NameError> {
    let lie = |why: String| Err(NameError::Untrusted(format!("{text}: {why}")));
    let Some(last) = url.stream.as_ref().or(url.channel.as_ref()) else {
        return Ok(());
    };
    if !part_matches(last, &found.name, claim_id) {
        return lie(format!(
            "the hub answered with claim {claim_id} named {:?}",
            found.name
        ));
    }
    if let (Some(chan_part), Some(_)) = (&url.channel, &url.stream) {
        let Some(ch) = channel else {
            return lie("has invalid channel signature".into());
        };
        let ch_id = claim_id_hex(&ch.claim_hash);
        if !part_matches(chan_part, &ch.name, &ch_id) {
            return lie(format!(
                "the hub answered with channel {ch_id} named {:?}",
                ch.name
            ));
        }
    }
    Ok(())
}

fn part_matches(part: &UrlPart, name: &str, claim_id: &str) -> bool {
    let full_id = matches!(&part.modifier, Some(Modifier::ClaimId(p)) if p.len() == 40);
    let id_ok = match &part.modifier {
        Some(Modifier::ClaimId(p)) => claim_id.starts_with(&p.to_ascii_lowercase()),
        _ => true,
    };
    id_ok && (full_id || same_name(&part.name, name))
}

/// Names compare after LBRY's normalisation (NFD + casefold); without a
/// Unicode table, non-ASCII names are taken as the hub says.
fn same_name(a: &str, b: &str) -> bool {
    !(a.is_ascii() && b.is_ascii()) || a.eq_ignore_ascii_case(b)
}

/// The hub's canonical URL when it agrees with the verified claim (and
/// channel); otherwise one made from the full claim ids.
fn canonical(meta: &ClaimMeta, name: &str, claim_id: &str, ch: Option<&ChannelRef>) -> String {
    let mine = match ch {
        Some(c) => format!("lbry://{}#{}/{name}#{claim_id}", c.name, c.claim_id),
        None => format!("lbry://{name}#{claim_id}"),
    };
    let hub = if ch.is_some() {
        &meta.canonical_url
    } else {
        &meta.short_url
    };
    let Ok(parsed) = hub.parse::<LbryUrl>() else {
        return mine;
    };
    let stream_ok = parsed
        .stream
        .as_ref()
        .or(parsed.channel.as_ref())
        .is_some_and(|p| part_matches(p, name, claim_id));
    let chan_ok = match (ch, &parsed.channel, &parsed.stream) {
        (Some(c), Some(p), Some(_)) => part_matches(p, &c.name, &c.claim_id),
        (None, None, _) | (None, Some(_), None) => true,
        _ => false,
    };
    if stream_ok && chan_ok && !hub.is_empty() {
        parsed.to_string()
    } else {
        mine
    }
}

fn kind(c: &proto::Claim) -> ClaimKind {
    match &c.r#type {
        Some(Type::Stream(s)) => ClaimKind::Stream(stream_claim(c, s)),
        Some(Type::Channel(_)) => ClaimKind::Channel,
        Some(Type::Repost(_)) => ClaimKind::Repost,
        Some(Type::Collection(_)) => ClaimKind::Collection,
        None => ClaimKind::Other,
    }
}

fn stream_claim(c: &proto::Claim, s: &proto::Stream) -> StreamClaim {
    let src = s.source.clone().unwrap_or_default();
    let fee = s.fee.as_ref().map(|f| Fee {
        currency: match f.currency {
            1 => "LBC",
            2 => "BTC",
            3 => "USD",
            _ => "UNKNOWN",
        }
        .to_string(),
        amount: f.amount,
        address: (!f.address.is_empty()).then(|| hex::encode(&f.address)),
    });
    StreamClaim {
        sd_hash: <[u8; 48]>::try_from(&src.sd_hash[..])
            .ok()
            .map(SdHash::from_bytes),
        bt_infohash: <[u8; 20]>::try_from(&src.bt_infohash[..]).ok(),
        size: src.size,
        file_name: src.name,
        media_type: src.media_type,
        release_time: (s.release_time != 0).then_some(s.release_time),
        fee,
        thumbnail_url: c
            .thumbnail
            .as_ref()
            .map(|t| t.url.clone())
            .filter(|u| !u.is_empty()),
    }
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
