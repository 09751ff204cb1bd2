//! The mount's names, answered by LBRY hubs: the node's side of the
//! filesystem's [`Names`] seam. The filesystem asks with paths as typed
//! (`@chan`, `@chan/name`, `name:2`); the hub resolver checks what hubs say
//! against the transactions and keeps answers (in memory, and on disk for
//! offline use). Here its answers become what the filesystem shows: a
//! stream with an sd hash or a torrent's infohash, a channel, or why not (a hub's "not found", a
//! claim that is no LBRY stream, or no trustworthy answer at all).

use crate::hub::{self, ClaimKind, Resolved, Resolver};
use crate::vfs::names::{BoxFuture, ChannelPage, NameError, Named, Names, Resolution, Source};
use std::sync::Arc;

/// The hub resolver as the filesystem's names.
pub struct HubNames(pub Arc<Resolver>);

impl Names for HubNames {
    fn resolve<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<Resolution, NameError>> {
        Box::pin(async move {
            let r = self
                .0
                .resolve(&with_scheme(url))
                .await
                .map_err(name_error)?;
            match r.kind {
                ClaimKind::Channel => Ok(Resolution::Channel),
                _ => named(r).map(Resolution::Stream),
            }
        })
    }

    fn channel_page<'a>(
        &'a self,
        channel: &'a str,
        offset: u32,
        limit: u32,
    ) -> BoxFuture<'a, Result<ChannelPage, NameError>> {
        Box::pin(async move {
            let url = with_scheme(channel);
            let page = self.0.channel_streams(&url, offset, limit).await;
            let page = page.map_err(name_error)?;
            let total = page.total;
            // Claims that are not LBRY streams are left out of the listing.
            let items = page.items.into_iter().filter_map(|r| named(r).ok());
            Ok(ChannelPage {
                items: items.collect(),
                total,
            })
        })
    }
}

fn with_scheme(url: &str) -> String {
    format!("lbry://{url}")
}

/// A stream claim with an sd hash or a torrent as the filesystem shows it.
fn named(r: Resolved) -> Result<Named, NameError> {
    let source = match r.torrent() {
        Some(ih) => Source::Torrent(ih),
        None => Source::Stream(r.sd_hash().map_err(name_error)?),
    };
    let media_type = r.stream().map(|s| s.media_type.clone()).unwrap_or_default();
    Ok(Named {
        name: r.name,
        source,
        url: r.canonical_url,
        claim_id: r.claim_id,
        channel: r.channel.map(|c| c.canonical_url),
        media_type,
    })
}

/// A hub's answer is "not found" (ENOENT); no hub, or none to trust, is a
/// failure to answer (EIO).
fn name_error(e: hub::NameError) -> NameError {
    match e {
        hub::NameError::NotFound(_)
        | hub::NameError::Invalid(_)
        | hub::NameError::NotStreamable(_) => NameError::NotFound(e.to_string()),
        hub::NameError::NoHub(_) | hub::NameError::Untrusted(_) => {
            NameError::Unavailable(e.to_string())
        }
    }
}
