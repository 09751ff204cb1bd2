//! What a resolved name is, as the rest of lbrymount sees it: plain values,
//! checked against the transactions before they are made (see `verify`),
//! serialisable so the last answer for a name can be kept on disk and
//! printed by `resolve --json`.

use crate::hash::SdHash;
use serde::{Deserialize, Serialize};

/// A claim a hub pointed at, verified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resolved {
    /// The URL as asked, in `lbry://` form.
    pub url: String,
    /// The hub's canonical URL (`lbry://@chan#a/name#3`); without the
    /// channel when the channel's signature did not verify.
    pub canonical_url: String,
    /// 40 hex characters.
    pub claim_id: String,
    /// The claim's name, as in its output script.
    pub name: String,
    /// The channel that signed the claim; only set when the signature verifies.
    pub channel: Option<ChannelRef>,
    pub title: Option<String>,
    pub kind: ClaimKind,
}

/// A channel, as a stream's parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelRef {
    pub name: String,
    pub claim_id: String,
    pub canonical_url: String,
}

/// What the claim is. Streams are nearly every claim a reader meets, so
/// the stream is kept inline rather than boxed.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ClaimKind {
    Stream(StreamClaim),
    Channel,
    Repost,
    Collection,
    Other,
}

/// The parts of a stream claim a reader needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamClaim {
    /// The stream descriptor's hash; `None` when the source has none.
    #[serde(with = "opt_hex_sd")]
    pub sd_hash: Option<SdHash>,
    /// A BitTorrent infohash given instead of (or besides) an sd hash.
    #[serde(with = "opt_hex20")]
    pub bt_infohash: Option<[u8; 20]>,
    pub size: u64,
    pub file_name: String,
    pub media_type: String,
    /// Seconds since the Unix epoch, as the publisher set it.
    pub release_time: Option<i64>,
    pub fee: Option<Fee>,
    pub thumbnail_url: Option<String>,
}

/// The price a publisher asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fee {
    /// `LBC`, `BTC`, `USD` or `UNKNOWN`.
    pub currency: String,
    /// In the currency's smallest unit as the claim says it (dewies for LBC, cents for USD).
    pub amount: u64,
    /// Hex of the address bytes, when given.
    pub address: Option<String>,
}

/// Why a name gave no stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The hub says nobody claims it: its own text.
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    /// No hub answered (why, with each hub's cause).
    #[error("no hub answered: {0}")]
    NoHub(String),
    /// A hub's answer did not check out.
    #[error("untrusted answer from the hub: {0}")]
    Untrusted(String),
    #[error("{0}")]
    NotStreamable(String),
}

impl Resolved {
    /// The stream's sd hash, or why there is none.
    pub fn sd_hash(&self) -> Result<SdHash, NameError> {
        let what = match &self.kind {
            ClaimKind::Stream(s) => match (s.sd_hash, s.bt_infohash) {
                (Some(sd), _) => return Ok(sd),
                (None, Some(bt)) => format!(
                    "its source is the BitTorrent infohash {}, not an LBRY stream",
                    hex::encode(bt)
                ),
                (None, None) => "its source has no sd hash".to_string(),
            },
            ClaimKind::Channel => "it is a channel".into(),
            ClaimKind::Repost => "it is a repost".into(),
            ClaimKind::Collection => "it is a collection".into(),
            ClaimKind::Other => "it is not a stream claim".into(),
        };
        Err(NameError::NotStreamable(format!(
            "{} is not streamable: {what}",
            self.url
        )))
    }

    /// The infohash of a stream claim whose source is a torrent (a
    /// `bt_infohash` and no sd hash).
    pub fn torrent(&self) -> Option<[u8; 20]> {
        let s = self.stream()?;
        s.bt_infohash.filter(|_| s.sd_hash.is_none())
    }

    /// `sd_hash  size  file_name  canonical_url`, the line `resolve` and
    /// `search` print; `None` when the claim has no sd hash.
    pub fn line(&self) -> Option<String> {
        let s = self.stream()?;
        let sd = s.sd_hash?;
        Some(format!(
            "{sd}  {}  {}  {}",
            s.size,
            s.file_name.escape_debug(),
            self.canonical_url
        ))
    }

    /// The stream part, when this is a stream claim.
    pub fn stream(&self) -> Option<&StreamClaim> {
        match &self.kind {
            ClaimKind::Stream(s) => Some(s),
            _ => None,
        }
    }
}

mod opt_hex_sd {
    use crate::hash::SdHash;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<SdHash>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(h) => s.serialize_some(&h.to_hex()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SdHash>, D::Error> {
        let v: Option<String> = Option::deserialize(d)?;
        v.map(|s| s.parse().map_err(serde::de::Error::custom))
            .transpose()
    }
}

mod opt_hex20 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<[u8; 20]>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(h) => s.serialize_some(&hex::encode(h)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<[u8; 20]>, D::Error> {
        let v: Option<String> = Option::deserialize(d)?;
        let Some(s) = v else { return Ok(None) };
        let mut out = [0u8; 20];
        hex::decode_to_slice(&s, &mut out).map_err(serde::de::Error::custom)?;
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_survives_json_and_says_why_it_is_not_streamable() {
        let mut r = Resolved {
            url: "lbry://one".into(),
            canonical_url: "lbry://one#3".into(),
            claim_id: "3".repeat(40),
            name: "one".into(),
            channel: None,
            title: Some("One".into()),
            kind: ClaimKind::Stream(StreamClaim {
                sd_hash: Some(SdHash::from_bytes([0x1a; 48])),
                bt_infohash: None,
                size: 123,
                file_name: "one.bin".into(),
                media_type: "application/octet-stream".into(),
                release_time: Some(1),
                fee: None,
                thumbnail_url: None,
            }),
        };
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains(&"1a".repeat(48)), "{json}");
        assert_eq!(serde_json::from_str::<Resolved>(&json).unwrap(), r);
        assert!(r.sd_hash().is_ok());
        assert_eq!(r.torrent(), None, "an sd hash wins");
        if let ClaimKind::Stream(s) = &mut r.kind {
            s.sd_hash = None;
            s.bt_infohash = Some([0xab; 20]);
        }
        assert_eq!(r.torrent(), Some([0xab; 20]));
        let err = r.sd_hash().unwrap_err().to_string();
        assert!(
            err.contains("BitTorrent") && err.contains(&"ab".repeat(20)),
            "{err}"
        );
        let back: Resolved = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }
}
