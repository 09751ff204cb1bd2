//! `lbry://` URLs: `name`, `@channel`, `@channel/name`, each part with an optional modifier.
//!
//! The grammar is lbry-sdk 0.113's (`lbry/schema/url.py`), which hubs share:
//! a part is a name of at least one allowed character, then optionally
//! `#<1-40 hex>` or `:<1-40 hex>` (a claim id or its prefix) or `$<n>` (the
//! n-th claim of the name by amount, from 1). Channel names keep their `@`,
//! as in the claim script. The scheme is optional when parsing and always
//! written by `Display`, which uses `#` for claim ids (the form canonical
//! URLs use). Names are compared by the hub after Unicode normalisation;
//! nothing here normalises, so a URL is sent to the hub as the user wrote it.

use std::fmt;
use std::str::FromStr;

/// The scheme prefix.
pub const SCHEME: &str = "lbry://";

/// A parsed URL: a channel, a stream, or a stream inside a channel.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LbryUrl {
    pub channel: Option<UrlPart>,
    pub stream: Option<UrlPart>,
}

/// One path part: a claim name (with `@` for channels) and how to choose among its claims.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UrlPart {
    pub name: String,
    pub modifier: Option<Modifier>,
}

/// Which claim of a name is meant when several exist.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Modifier {
    /// `#3f` or `:3f`: the claim whose id starts with these lower-case hex digits (1-40).
    ClaimId(String),
    /// `$2`: the n-th claim of the name by effective amount, from 1.
    AmountOrder(u32),
}

/// Why a string is not an LBRY URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid LBRY URL {url:?}: {reason}")]
pub struct UrlError {
    /// The string as given (cut to 200 characters).
    pub url: String,
    pub reason: String,
}

impl UrlError {
    fn new(url: &str, reason: impl Into<String>) -> Self {
        UrlError {
            url: url.chars().take(200).collect(),
            reason: reason.into(),
        }
    }
}

/// Characters LBRY never allows in a claim name (besides controls and space, see [`name_char`]).
const FORBIDDEN: &str = "=&#:$@%?;\"/\\<>{}|^~`[]";

/// Whether `c` may appear in a claim name (lbry-sdk's `invalid_names_regex`, inverted).
pub fn name_char(c: char) -> bool {
    !(c <= '\u{20}' || c == '\u{fffe}' || c == '\u{ffff}' || FORBIDDEN.contains(c))
}

impl FromStr for LbryUrl {
    type Err = UrlError;

    fn from_str(s: &str) -> Result<Self, UrlError> {
        let body = s.strip_prefix(SCHEME).unwrap_or(s);
        let mut parts = body.splitn(2, '/');
        let first = parts.next().unwrap_or_default();
        let second = parts.next();
        let first_is_channel = first.starts_with('@');
        match second {
            Some(stream) if first_is_channel => Ok(LbryUrl {
                channel: Some(parse_part(s, first, true)?),
                stream: Some(parse_part(s, stream, false)?),
            }),
            Some(_) => Err(UrlError::new(
                s,
                "only a channel (@name) may have a path after it",
            )),
            None if first_is_channel => Ok(LbryUrl {
                channel: Some(parse_part(s, first, true)?),
                stream: None,
            }),
            None => Ok(LbryUrl {
                channel: None,
                stream: Some(parse_part(s, first, false)?),
            }),
        }
    }
}

/// One part: `[@]name[#hex|:hex|$n]`.
fn parse_part(url: &str, part: &str, channel: bool) -> Result<UrlPart, UrlError> {
    let core = if channel { &part[1..] } else { part };
    let end = core.find(|c| !name_char(c)).unwrap_or(core.len());
    let (name, rest) = core.split_at(end);
    if name.is_empty() {
        return Err(UrlError::new(url, "a claim name is empty"));
    }
    let modifier = match rest.chars().next() {
        None => None,
        Some(c @ ('#' | ':')) => Some(claim_id_prefix(url, &rest[c.len_utf8()..])?),
        Some('$') => Some(amount_order(url, &rest[1..])?),
        Some(c) => {
            return Err(UrlError::new(
                url,
                format!("{c:?} is not allowed in a claim name"),
            ))
        }
    };
    let name = if channel {
        format!("@{name}")
    } else {
        name.to_string()
    };
    Ok(UrlPart { name, modifier })
}

fn claim_id_prefix(url: &str, id: &str) -> Result<Modifier, UrlError> {
    let hex = |c: char| matches!(c, '0'..='9' | 'a'..='f');
    if id.is_empty() || id.len() > 40 || !id.chars().all(hex) {
        return Err(UrlError::new(
            url,
            "a claim id must be 1 to 40 lower-case hex digits",
        ));
    }
    Ok(Modifier::ClaimId(id.to_string()))
}

fn amount_order(url: &str, n: &str) -> Result<Modifier, UrlError> {
    let digits = !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && !n.starts_with('0');
    match n.parse::<u32>() {
        Ok(k) if digits => Ok(Modifier::AmountOrder(k)),
        _ => Err(UrlError::new(
            url,
            "an amount order ($n) must be a number from 1 to 4294967295",
        )),
    }
}

impl fmt::Display for UrlPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        match &self.modifier {
            None => Ok(()),
            Some(Modifier::ClaimId(id)) => write!(f, "#{id}"),
            Some(Modifier::AmountOrder(n)) => write!(f, "${n}"),
        }
    }
}

impl fmt::Display for LbryUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(SCHEME)?;
        match (&self.channel, &self.stream) {
            (Some(c), Some(s)) => write!(f, "{c}/{s}"),
            (Some(p), None) | (None, Some(p)) => write!(f, "{p}"),
            (None, None) => Ok(()),
        }
    }
}

/// Whether `s` is meant as an LBRY URL: it has the scheme, or it parses as one.
///
/// A 96-hex sd hash also parses (it is a valid claim name), so callers test
/// for an sd hash first.
pub fn looks_like_url(s: &str) -> bool {
    s.starts_with(SCHEME) || s.parse::<LbryUrl>().is_ok()
}
