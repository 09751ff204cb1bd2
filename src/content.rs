//! What the user keeps and frees: pin, unpin, drop from the cache, and
//! unpublish a stream, on a [`DiskStore`].
//!
//! Both ways of asking share these functions: a command on a data dir no
//! node holds (it opened the store itself), and a running node answering its
//! control socket (which also tells its mount and share folder). The rules:
//! - a *pinned* stream is fetched whole and its blobs pinned in the store
//!   (outside the cache cap, never evicted); the sd hash goes into the
//!   store's [`StreamPins`](crate::store::StreamPins) list first, so a pin cut
//!   short is still listed as pinned and `unpin` can undo it;
//! - `unpin` hands the blobs back to the cache (evictable again);
//! - `cache drop` frees only cached blobs: a published or pinned stream is
//!   refused with what to do instead, and `--all` leaves them alone;
//! - `unpublish` removes a published stream's blobs, so it is no longer
//!   served, listed or announced; a pinned stream is not published and is
//!   refused.

use crate::assemble::{load_descriptor_quiet, GetError};
use crate::fetch::{FetchError, Fetcher};
use crate::hash::{BlobHash, SdHash};
use crate::sd::StreamDescriptor;
use crate::store::{DiskStore, StoreError};
use std::sync::Arc;

/// Blobs in flight while a pin fetches a stream.
const WINDOW: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error("stream {0} is published here; `lbrymount unpublish {0}` stops sharing it")]
    Published(SdHash),
    #[error("stream {0} is pinned; `lbrymount unpin {0}` lets the cache drop it")]
    Pinned(SdHash),
    #[error("stream {0} is not published here")]
    NotPublished(SdHash),
    #[error("stream {0} is not in the store")]
    NotHeld(SdHash),
    #[error("cannot get blob {num} of stream {sd}")]
    Fetch {
        sd: SdHash,
        num: usize,
        #[source]
        source: Box<FetchError>,
    },
    #[error(transparent)]
    Get(#[from] GetError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The sd blob and every data blob of a stream held in the store (its
/// descriptor read quietly); just the sd blob if the descriptor is unreadable.
pub fn stream_blobs(store: &DiskStore, sd: &SdHash) -> Vec<BlobHash> {
    let mut blobs = vec![sd.as_blob()];
    if let Ok(desc) = load_descriptor_quiet(store, sd) {
        blobs.extend(desc.blobs().iter().map(|b| b.hash));
    }
    blobs
}

/// Whether the user published `sd` here (pinned in the store, not by `pin`).
pub fn is_published(store: &DiskStore, sd: &SdHash) -> bool {
    store.is_pinned(&sd.as_blob()) && !store.stream_pins().contains(sd)
}

/// Fetches what the store lacks of a stream through `fetcher`, pinning each
/// blob as it lands. `desc` is the stream's verified descriptor. Returns
/// the stream's encrypted size. A published stream is already kept: nothing
/// is done.
pub async fn pin(
    store: Arc<DiskStore>,
    fetcher: &Fetcher,
    sd: SdHash,
    desc: &StreamDescriptor,
) -> Result<u64, ContentError> {
    if is_published(&store, &sd) {
        return Ok(desc.encrypted_size());
    }
    let s = store.clone();
    blocking(move || {
        s.stream_pins().add(sd)?;
        Ok(s.pin(&[sd.as_blob()])?)
    })
    .await?;
    let wanted = desc
        .blobs()
        .iter()
        .map(|b| (b.hash, Some(u64::from(b.length))))
        .collect();
    let mut all = fetcher.fetch_all(wanted, WINDOW);
    while let Some((num, blob)) = all.next().await {
        let blob = blob.map_err(|e| ContentError::Fetch {
            sd,
            num,
            source: Box::new(e),
        })?;
        let (s, hash) = (store.clone(), *blob.hash());
        blocking(move || Ok(s.pin(&[hash])?)).await?;
    }
    // A blob evicted between its arrival and its pin would be missing.
    let s = store.clone();
    let hashes: Vec<BlobHash> = desc.blobs().iter().map(|b| b.hash).collect();
    blocking(move || {
        s.pin(&hashes)?;
        match hashes.iter().position(|h| !s.is_pinned(h)) {
            Some(i) => Err(GetError::MissingBlob {
                num: i as u32,
                hash: hashes[i],
            }
            .into()),
            None => Ok(()),
        }
    })
    .await?;
    tracing::info!(sd = %sd.short(), "pinned");
    Ok(desc.encrypted_size())
}

/// Unpins a stream: its blobs count against the cache cap again. Returns
/// false when it was not pinned (a published stream stays published).
pub fn unpin(store: &DiskStore, sd: &SdHash) -> Result<bool, ContentError> {
    if !store.stream_pins().contains(sd) {
        return Ok(false);
    }
    store.unpin(&stream_blobs(store, sd))?;
    store.stream_pins().remove(sd)?;
    tracing::info!(sd = %sd.short(), "unpinned");
    Ok(true)
}

/// Frees a cached stream's blobs; returns the bytes freed. Published and
/// pinned streams are refused.
pub fn drop_stream(store: &DiskStore, sd: &SdHash) -> Result<u64, ContentError> {
    if store.stream_pins().contains(sd) {
        return Err(ContentError::Pinned(*sd));
    }
    if store.is_pinned(&sd.as_blob()) {
        return Err(ContentError::Published(*sd));
    }
    if !store.contains(&sd.as_blob()) {
        return Err(ContentError::NotHeld(*sd));
    }
    let blobs: Vec<BlobHash> = stream_blobs(store, sd)
        .into_iter()
        .filter(|h| !store.is_pinned(h))
        .collect();
    let bytes = blobs.iter().filter_map(|h| store.len_of(h)).sum();
    store.remove(&blobs)?;
    tracing::info!(sd = %sd.short(), bytes, "dropped from the cache");
    Ok(bytes)
}

/// Frees every cached blob (none published, pinned or being published);
/// returns the blobs and bytes freed.
pub fn drop_all(store: &DiskStore) -> Result<(usize, u64), ContentError> {
    let blobs: Vec<BlobHash> = store
        .list()
        .into_iter()
        .filter(|h| !store.is_pinned(h))
        .collect();
    let bytes = blobs.iter().filter_map(|h| store.len_of(h)).sum();
    store.remove(&blobs)?;
    tracing::info!(blobs = blobs.len(), bytes, "cache dropped");
    Ok((blobs.len(), bytes))
}

/// Checks that `sd` is published here, as `unpublish` needs.
pub fn check_published(store: &DiskStore, sd: &SdHash) -> Result<(), ContentError> {
    if store.stream_pins().contains(sd) {
        return Err(ContentError::Pinned(*sd));
    }
    if !store.is_pinned(&sd.as_blob()) {
        return Err(ContentError::NotPublished(*sd));
    }
    Ok(())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ContentError> + Send + 'static,
) -> Result<T, ContentError> {
    match crate::blocking::run(f).await {
        Ok(r) => r,
        Err(e) => Err(StoreError::Io {
            op: "finish",
            path: "a store task".into(),
            source: std::io::Error::other(e.to_string()),
        }
        .into()),
    }
}
