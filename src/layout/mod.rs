//! The plaintext layout of a stream: which blob, and where in it, holds a
//! given byte of the file, and how large the file is.
//!
//! A data blob of encrypted length `L` holds between `L - 16` and `L - 1`
//! plaintext bytes (PKCS7 adds 1 to 16); the exact number is known only once
//! the blob is decrypted, and is then [`learn`](Layout::learn)ed.
//!
//! **Presumption.** lbry-sdk's writer puts exactly 2 097 151 plaintext bytes
//! in every blob but the last, so each of them is 2 097 152 bytes encrypted.
//! While a descriptor looks like that (every blob but the last is 2 097 152
//! bytes encrypted), an unlearned non-last blob is *presumed* to hold
//! 2 097 151 bytes. Answers that rely on a presumption say so (`exact:
//! false`, [`Size::Presumed`]); they are never passed off as exact. The
//! presumption is dropped for the whole stream, for good, as soon as a
//! learned length contradicts it (the writer was not lbry-sdk's). Without a
//! presumption, an unlearned blob's length is only a range, and a position
//! past its first `L - 16` bytes is answered with [`Locate::NeedBlob`].
//!
//! The last blob is never presumed: its padding is unknown until decrypted.
//! Blob lengths are taken as given; the descriptor reader already checked
//! them (1..=2 MiB, multiples of 16).
//!
//! PURE arithmetic, no I/O: the stream reader asks, fetches what it is told
//! to, and reports back.

#[cfg(test)]
mod tests;

use crate::blob::{BLOCK, MAX_BLOB_SIZE, PLAIN_CHUNK};
use crate::sd::StreamDescriptor;

/// What is known about one blob's plaintext length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlainLen {
    /// Learned by decrypting it.
    Known(u32),
    /// lbry-sdk's convention, not yet confirmed.
    Presumed(u32),
    /// Somewhere in `min..=max`.
    Unknown { min: u32, max: u32 },
}

/// The file's size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// Every blob's length is learned.
    Exact(u64),
    /// The last blob is learned; exact if the presumption holds for the others.
    Presumed(u64),
    /// Certain bounds (inclusive, no presumption); learning blob `need`
    /// narrows them.
    Range { min: u64, max: u64, need: usize },
}

/// Where a plaintext offset is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locate {
    /// Byte `offset` of blob `blob`'s plaintext. `exact` is false when the
    /// answer relied on a presumption.
    At {
        blob: usize,
        offset: u32,
        exact: bool,
    },
    /// At or past the end of the file (`exact` as for `At`).
    End { exact: bool },
    /// The answer depends on this blob's length: decrypt it, `learn`, ask again.
    NeedBlob(usize),
}

/// Why a learned length was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("blob {blob} does not exist: the stream has {count} data blobs")]
    NoSuchBlob { blob: usize, count: usize },
    #[error("blob {blob} is {encrypted} bytes encrypted, so it holds {min}..={max} plaintext bytes, not {got}")]
    OutOfRange {
        blob: usize,
        encrypted: u32,
        min: u32,
        max: u32,
        got: u32,
    },
    #[error("blob {blob} was learned to hold {had} plaintext bytes, now {got}")]
    Conflict { blob: usize, had: u32, got: u32 },
}

/// The plaintext layout of one stream. See the module doc for the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    encrypted: Vec<u32>,
    learned: Vec<Option<u32>>,
    presuming: bool,
    /// Start of each blob from 0 to `min(first_unknown, last)`, using known
    /// and presumed lengths.
    starts: Vec<u64>,
    /// Every blob before this one is learned.
    first_unlearned: usize,
    /// Every blob before this one is learned or presumed.
    first_unknown: usize,
}

impl Layout {
    /// The layout of a stream whose data blobs have these encrypted lengths.
    pub fn new(encrypted_lens: &[u32]) -> Self {
        let presuming = match encrypted_lens.split_last() {
            Some((_, rest)) => rest.iter().all(|&l| l as usize == MAX_BLOB_SIZE),
            None => false,
        };
        let mut layout = Self {
            encrypted: encrypted_lens.to_vec(),
            learned: vec![None; encrypted_lens.len()],
            presuming,
            starts: Vec::new(),
            first_unlearned: 0,
            first_unknown: 0,
        };
        layout.refresh();
        layout
    }

    /// The layout of a descriptor's data blobs.
    pub fn for_stream(sd: &StreamDescriptor) -> Self {
        let lens: Vec<u32> = sd.blobs().iter().map(|b| b.length).collect();
        Self::new(&lens)
    }

    /// Number of data blobs.
    pub fn blob_count(&self) -> usize {
        self.encrypted.len()
    }

    /// Whether unlearned full blobs are still presumed to follow lbry-sdk's convention.
    #[cfg(test)]
    pub fn is_presuming(&self) -> bool {
        self.presuming
    }

    /// Records blob `blob`'s plaintext length, found by decrypting it.
    /// Learning the same length again is harmless; a different one is an error.
    pub fn learn(&mut self, blob: usize, plain_len: u32) -> Result<(), LayoutError> {
        let count = self.blob_count();
        let (Some(&encrypted), Some(&had)) = (self.encrypted.get(blob), self.learned.get(blob))
        else {
            return Err(LayoutError::NoSuchBlob { blob, count });
        };
        let (min, max) = bounds(encrypted);
        if !(min..=max).contains(&plain_len) {
            return Err(LayoutError::OutOfRange {
                blob,
                encrypted,
                min,
                max,
                got: plain_len,
            });
        }
        match had {
            Some(had) if had == plain_len => return Ok(()),
            Some(had) => {
                return Err(LayoutError::Conflict {
                    blob,
                    had,
                    got: plain_len,
                })
            }
            None => {}
        }
        if self.presumable(blob) && plain_len as usize != PLAIN_CHUNK {
            self.presuming = false;
        }
        if let Some(slot) = self.learned.get_mut(blob) {
            *slot = Some(plain_len);
        }
        self.refresh();
        Ok(())
    }

    /// What is known about blob `blob`'s plaintext length (`None` if there is no such blob).
    pub fn plain_len(&self, blob: usize) -> Option<PlainLen> {
        let encrypted = *self.encrypted.get(blob)?;
        Some(match self.learned.get(blob).copied().flatten() {
            Some(n) => PlainLen::Known(n),
            None if self.presumable(blob) => PlainLen::Presumed(PLAIN_CHUNK as u32),
            None => {
                let (min, max) = bounds(encrypted);
                PlainLen::Unknown { min, max }
            }
        })
    }

    /// Where blob `blob` starts in the file, if every blob before it is learned.
    #[cfg(test)]
    pub fn blob_start(&self, blob: usize) -> Option<u64> {
        if blob < self.blob_count() && blob <= self.first_unlearned {
            self.starts.get(blob).copied()
        } else {
            None
        }
    }

    /// The file's size, as far as it is known.
    pub fn size(&self) -> Size {
        let n = self.blob_count();
        if self.first_unknown == n {
            let total = match (self.starts.last(), self.learned.last()) {
                (Some(start), Some(Some(len))) => start + u64::from(*len),
                _ => 0,
            };
            return if self.first_unlearned == n {
                Size::Exact(total)
            } else {
                Size::Presumed(total)
            };
        }
        let (mut min, mut max) = (0u64, 0u64);
        for (&enc, learned) in self.encrypted.iter().zip(&self.learned) {
            let (lo, hi) = learned.map_or_else(|| bounds(enc), |n| (n, n));
            min += u64::from(lo);
            max += u64::from(hi);
        }
        let need = match self.learned.last() {
            Some(None) => n - 1,
            _ => self.first_unknown,
        };
        Size::Range { min, max, need }
    }

    /// Where plaintext byte `offset` of the file is.
    pub fn locate(&self, offset: u64) -> Locate {
        // `starts` is never empty when there are blobs, and starts at 0.
        let i = self
            .starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1);
        let (Some(&start), Some(len)) = (self.starts.get(i), self.plain_len(i)) else {
            return Locate::End { exact: true };
        };
        let rel = offset - start;
        let before_exact = i <= self.first_unlearned;
        let is_last = i + 1 == self.blob_count();
        // `rel < len` always fits in u32, as lengths do.
        let at = |exact| Locate::At {
            blob: i,
            offset: rel as u32,
            exact,
        };
        match len {
            PlainLen::Known(n) if rel < u64::from(n) => at(before_exact),
            // Past a known blob that has a successor in `starts` cannot happen,
            // so this is the end of the last blob.
            PlainLen::Known(_) if is_last => Locate::End {
                exact: before_exact,
            },
            PlainLen::Presumed(n) if rel < u64::from(n) => {
                let (min, _) = bounds(self.encrypted.get(i).copied().unwrap_or(0));
                at(before_exact && rel < u64::from(min))
            }
            PlainLen::Unknown { min, .. } if rel < u64::from(min) => at(before_exact),
            PlainLen::Unknown { max, .. } if is_last && rel >= u64::from(max) => Locate::End {
                exact: before_exact,
            },
            _ => Locate::NeedBlob(i),
        }
    }

    /// Whether blob `blob` is one whose length may be presumed.
    fn presumable(&self, blob: usize) -> bool {
        self.presuming
            && blob + 1 < self.blob_count()
            && self
                .encrypted
                .get(blob)
                .is_some_and(|&l| l as usize == MAX_BLOB_SIZE)
    }

    /// Recomputes the derived fields after a change.
    fn refresh(&mut self) {
        let n = self.blob_count();
        self.first_unlearned = self.learned.iter().position(Option::is_none).unwrap_or(n);
        self.first_unknown = (0..n)
            .find(|&i| matches!(self.plain_len(i), Some(PlainLen::Unknown { .. })))
            .unwrap_or(n);
        self.starts.clear();
        if n == 0 {
            return;
        }
        let mut pos = 0u64;
        self.starts.push(pos);
        for i in 0..self.first_unknown.min(n - 1) {
            pos += match self.plain_len(i) {
                Some(PlainLen::Known(len) | PlainLen::Presumed(len)) => u64::from(len),
                _ => 0,
            };
            self.starts.push(pos);
        }
    }
}

/// The plaintext lengths an encrypted length allows: PKCS7 adds 1..=16 bytes.
fn bounds(encrypted: u32) -> (u32, u32) {
    (
        encrypted.saturating_sub(BLOCK as u32),
        encrypted.saturating_sub(1),
    )
}
