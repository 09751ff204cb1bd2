//! Stream → file: the streams a store holds, and a stream reassembled from
//! it into the original bytes.
//!
//! Blobs reach this module already verified (`VerifiedBlob`); each is
//! checked against its descriptor and decrypted by `blob` (`Described`).
//! Where blobs come from (the local store or peers) is the caller's
//! business. The parts:
//! - here: [`GetError`], descriptors read from the store, whether a stream
//!   is complete in it;
//! - `local`: which streams a store holds and how big they are (`ls`,
//!   `status`, the mount's listing at start, announcing);
//! - `offline`: a stream from the store written to an [`Output`] in order,
//!   on every core (`get --offline`, `get` when everything is here).

mod local;
mod offline;

use crate::blob::{PlainError, VerifiedBlob};
use crate::hash::{BlobHash, SdHash};
use crate::sd::{SdError, StreamDescriptor};
use crate::store::{HasBlob, ReadBlob, ReadQuiet, StoreError};

pub use crate::output::{Output, OutputError};
pub use local::{local_streams, stream_size};
pub use offline::{get_offline, get_offline_into};

/// Why a stream could not be read from the store or written out.
#[derive(Debug, thiserror::Error)]
pub enum GetError {
    #[error("stream descriptor {0} is not in the local store")]
    MissingSd(SdHash),
    #[error("stream descriptor {sd} is invalid")]
    BadSd {
        sd: SdHash,
        #[source]
        source: Box<SdError>,
    },
    #[error("blob {num} ({hash}) of the stream is not in the local store")]
    MissingBlob { num: u32, hash: BlobHash },
    /// A blob of the wrong length for its descriptor, or that does not decrypt.
    #[error(transparent)]
    Plain(#[from] PlainError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Output(#[from] OutputError),
}

/// Reads and checks a stream descriptor from the store (a use of its blob).
pub fn load_descriptor<S: ReadBlob + ?Sized>(
    store: &S,
    sd: &SdHash,
) -> Result<StreamDescriptor, GetError> {
    parse_descriptor(sd, store.get(&sd.as_blob())?)
}

/// [`load_descriptor`] for looking around (`ls`): not a use, so the cache
/// order stays as it was.
pub fn load_descriptor_quiet<S: ReadQuiet + ?Sized>(
    store: &S,
    sd: &SdHash,
) -> Result<StreamDescriptor, GetError> {
    parse_descriptor(sd, store.get_quiet(&sd.as_blob())?)
}

fn parse_descriptor(sd: &SdHash, blob: Option<VerifiedBlob>) -> Result<StreamDescriptor, GetError> {
    let blob = blob.ok_or(GetError::MissingSd(*sd))?;
    StreamDescriptor::parse_verified(blob.data(), sd).map_err(|source| GetError::BadSd {
        sd: *sd,
        source: Box::new(source),
    })
}

/// Fails, naming the first missing blob, unless the store holds every blob.
pub fn check_complete<S: HasBlob + ?Sized>(
    store: &S,
    desc: &StreamDescriptor,
) -> Result<(), GetError> {
    match desc.blobs().iter().find(|b| !store.contains(&b.hash)) {
        Some(b) => Err(GetError::MissingBlob {
            num: b.blob_num,
            hash: b.hash,
        }),
        None => Ok(()),
    }
}
