//! Names through LBRY hubs: `lbry://@channel/name` to a verified claim.
//!
//! A hub (wallet server) answers JSON-RPC over TCP (docs/protocol.md); this
//! module asks it as lbry-sdk does and believes nothing it can check: the
//! transactions must hash to the ids asked, the claim must sit in the output
//! pointed at, and a stream is put in a channel only when the channel's
//! signature over it verifies. The pure codecs live in `wire::hub`; here are
//! the connection (`conn`), failover (`hubs`), the checks (`verify`), the
//! calls (`resolve`, `search`) and the caches (`cache`).
//!
//! Async (tokio): a lookup waits on the network, under deadlines for the
//! connection, each call and the whole lookup.

pub mod cache;
pub mod conn;
pub mod hubs;
mod resolve;
mod search;
mod types;
mod verify;

pub use hubs::HubStatus;
pub use resolve::{HubConfig, Resolver, DEFAULT_HUBS};
pub use search::{SearchPage, SearchQuery, MAX_HITS, MAX_PAGE};
pub use types::{ChannelRef, ClaimKind, Fee, NameError, Resolved, StreamClaim};
