//! Codecs of the LBRY hub protocol (HUB-PROTOCOL.md).

pub mod jsonrpc;
