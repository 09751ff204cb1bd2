//! Reading a blob back from disk: open it, read it whole, and check it,
//! by the checksum this data dir recorded when it wrote the blob (`sums`),
//! or by SHA-384 when there is none. Split from `disk.rs` to keep each file
//! to one concern; the rules are in the parent module's docs.

use super::*;

impl DiskStore {
    /// Opens a visible blob's file, marking it used if `touch`; `None` if absent.
    pub(super) fn open_file(
        &self,
        hash: &BlobHash,
        touch: bool,
    ) -> Result<Option<(File, Ready)>, StoreError> {
        let Some(ready) = self.lock().ready(hash, touch) else {
            return Ok(None);
        };
        let path = self.path_of(hash);
        match File::open(&path) {
            Ok(f) => Ok(Some((f, ready))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.forget(hash, ready.gen);
                Ok(None)
            }
            Err(e) => Err(io_err("open", &path)(e)),
        }
    }

    /// Reads an opened blob whole (at most one byte past the maximum, so an
    /// oversized file fails its check), into a buffer of its indexed length.
    pub(super) fn read_whole(
        &self,
        hash: &BlobHash,
        file: &mut File,
        ready: &Ready,
    ) -> Result<Vec<u8>, StoreError> {
        // Room for exactly the indexed length: `read_to_end` probes for more
        // before it grows, and an oversized file is rare and refused anyway.
        let mut data = crate::blob::pool::take_empty(ready.len.min(MAX_BLOB_SIZE as u64) as usize);
        file.take(MAX_BLOB_SIZE as u64 + 1)
            .read_to_end(&mut data)
            .map_err(io_err("read", &self.path_of(hash)))?;
        Ok(data)
    }

    /// Checks bytes read from generation `gen` against their name with
    /// SHA-384: marks the blob verified and records its checksum, or
    /// deletes it and returns `Corrupt`.
    pub(super) fn verify(
        &self,
        hash: &BlobHash,
        data: Vec<u8>,
        gen: u64,
    ) -> Result<VerifiedBlob, StoreError> {
        match VerifiedBlob::verify(hash, data) {
            Ok(blob) => {
                let sum = Sum::of(blob.data());
                if self.lock().mark_verified(hash, gen, sum) {
                    self.sums.append(hash, sum, || self.lock().sums());
                }
                Ok(blob)
            }
            Err(actual) => Err(self.corrupt(hash, gen, actual)),
        }
    }

    /// Reads an opened blob whole and checks it with SHA-384 (see `verify`).
    pub(super) fn read_verified(
        &self,
        hash: &BlobHash,
        file: &mut File,
        ready: &Ready,
    ) -> Result<VerifiedBlob, StoreError> {
        let data = self.read_whole(hash, file, ready)?;
        self.verify(hash, data, ready.gen)
    }

    /// Reads an opened blob whole and checks it against its checksum record,
    /// or with SHA-384 if it has none or misses it.
    pub(super) fn read_checked(
        &self,
        hash: &BlobHash,
        file: &mut File,
        ready: &Ready,
    ) -> Result<VerifiedBlob, StoreError> {
        let data = self.read_whole(hash, file, ready)?;
        let Some(sum) = ready.sum else {
            return self.verify(hash, data, ready.gen);
        };
        match sums::vouch(hash, data, &sum) {
            Ok(blob) => Ok(blob),
            Err(data) => {
                tracing::debug!(blob = %hash.short(), "blob misses its checksum; hashing it");
                self.verify(hash, data, ready.gen)
            }
        }
    }

    /// `get`, marking the blob used (and its mtime) only if `touch`.
    pub(super) fn read_blob(
        &self,
        hash: &BlobHash,
        touch: bool,
    ) -> Result<Option<VerifiedBlob>, StoreError> {
        let Some((mut file, ready)) = self.open_file(hash, touch)? else {
            return Ok(None);
        };
        let blob = self.read_checked(hash, &mut file, &ready)?;
        if touch {
            refresh_mtime(&file, hash);
        }
        Ok(Some(blob))
    }
}
