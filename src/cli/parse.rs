//! Checks of flag values made while parsing, so a bad value is a usage
//! error (exit 2) naming the flag: sizes, streams, `HOST:PORT`.

use crate::config;
use crate::hash::SdHash;

pub(super) fn parse_size_arg(s: &str) -> Result<u64, String> {
    config::parse_size(s).map_err(|e| e.to_string())
}

/// An sd hash, or an LBRY URL (checked now; resolved when the command runs).
pub(super) fn parse_stream(s: &str) -> Result<String, String> {
    // 96 hex digits are meant as an sd hash, even if misspelt as one.
    if s.len() == 96 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return match s.parse::<SdHash>() {
            Ok(_) => Ok(s.to_owned()),
            Err(e) => Err(format!("not an sd hash: {e}")),
        };
    }
    match s.parse::<crate::wire::hub::LbryUrl>() {
        Ok(_) => Ok(s.to_owned()),
        Err(e) => Err(format!(
            "neither an sd hash (96 hex characters) nor an LBRY URL: {e}"
        )),
    }
}

/// `get`'s argument: a torrent (magnet link, `btih:HASH`, an existing
/// `.torrent` file) or a stream as [`parse_stream`] takes it.
pub(super) fn parse_get_target(s: &str) -> Result<String, String> {
    if s.starts_with("magnet:") || s.starts_with("btih:") {
        return crate::torrent::magnet::parse(s)
            .map(|_| s.to_owned())
            .map_err(|e| e.to_string());
    }
    if super::get_torrent::is_torrent(s) {
        return Ok(s.to_owned());
    }
    parse_stream(s)
}

/// Checks the `HOST:PORT` shape now (a usage error); name resolution happens later.
pub(super) fn parse_host_port(s: &str) -> Result<String, String> {
    let (host, port) = s.rsplit_once(':').ok_or("expected HOST:PORT")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err("missing host in HOST:PORT".into());
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(s.to_string()),
        _ => Err(format!("invalid port {port:?} (1-65535)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_shapes() {
        assert!(parse_host_port("127.0.0.1:4444").is_ok());
        assert!(parse_host_port("localhost:1").is_ok());
        assert!(parse_host_port("[::1]:4444").is_ok());
        assert!(parse_host_port("127.0.0.1").is_err());
        assert!(parse_host_port(":4444").is_err());
        assert!(parse_host_port("h:0").is_err());
        assert!(parse_host_port("h:70000").is_err());
    }
}
