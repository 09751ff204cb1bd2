//! Writing cached blobs around the page cache (`O_DIRECT`).
//!
//! A cold read through the mount writes every fetched blob to the cache
//! while the kernel fills the mount's own page cache with the same bytes
//! decrypted. Written the usual way, each cached blob is first copied into
//! fresh page-cache pages: perf showed that copy at 17-19% of the mount's
//! CPU on a cold sequential read, second only to SHA-384. With `O_DIRECT`
//! the device reads the bytes straight from our buffer: no copy, no page
//! cache pressure from blobs that are read back rarely (a cache hit is
//! read from disk anyway, and the kernel caches it then).
//!
//! `O_DIRECT` wants the buffer address, the file offset and the length
//! aligned to the device's block size. A full blob in the program's own
//! buffers is (`large_alloc` maps them page-aligned) and is written as it
//! is. Any other blob is copied into an aligned buffer (reused, so its
//! pages are warm), padded with zeros to a whole block, and the file is
//! then cut to the blob's length.
//! Filesystems without `O_DIRECT` (tmpfs, some FUSE and network ones)
//! refuse the flag and get the usual buffered write.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::sync::{Mutex, PoisonError};

/// Alignment for address, offset and length: the largest logical block size
/// in common use.
const ALIGN: usize = 4096;
/// Below this, a buffered write costs less than the extra syscalls.
const MIN_DIRECT: usize = 64 << 10;

/// Aligned buffers not in use, kept warm for the next write. Writes happen
/// on the blocking pool, as many at once as blobs arrive; at most
/// `KEEP_BUFFERS` idle buffers are kept, so memory stays bounded however
/// many threads the pool has had.
static SPARE: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
const KEEP_BUFFERS: usize = 2;

/// Writes `data` as the whole content of the new, empty `file`, bypassing the
/// page cache where the filesystem allows.
pub(super) fn write_all(file: &mut File, data: &[u8]) -> io::Result<()> {
    if data.len() < MIN_DIRECT || !set_direct(file, true) {
        return file.write_all(data);
    }
    if data.as_ptr().align_offset(ALIGN) == 0 && data.len() % ALIGN == 0 {
        // Already aligned (a full blob in a `large_alloc` mapping): no copy.
        let written = file.write_all(data);
        return finish(file, data, written);
    }
    let padded = data.len().next_multiple_of(ALIGN);
    let spare = || SPARE.lock().unwrap_or_else(PoisonError::into_inner);
    let mut buf = spare().pop().unwrap_or_default();
    if buf.len() < padded + ALIGN {
        buf = vec![0; padded + ALIGN];
    }
    let start = buf.as_ptr().align_offset(ALIGN);
    let aligned = &mut buf[start..start + padded];
    aligned[..data.len()].copy_from_slice(data);
    aligned[data.len()..].fill(0);
    let written = file.write_all(aligned);
    let mut kept = spare();
    if kept.len() < KEEP_BUFFERS {
        kept.push(buf);
    }
    drop(kept);
    finish(file, data, written)
}

/// Ends a direct write: the descriptor back to normal, the file cut to the
/// blob's length, or written the usual way if the device refused.
fn finish(file: &mut File, data: &[u8], written: io::Result<()>) -> io::Result<()> {
    // Whatever happened, the descriptor goes back to normal for what follows.
    set_direct(file, false);
    match written {
        Ok(()) => file.set_len(data.len() as u64),
        // EINVAL: the device wants a larger alignment than ours; write the
        // usual way from the start.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            file.set_len(0)?;
            std::io::Seek::rewind(file)?;
            file.write_all(data)
        }
        Err(e) => Err(e),
    }
}

/// Turns `O_DIRECT` on or off; false if the filesystem refuses it.
fn set_direct(file: &File, on: bool) -> bool {
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own; F_GETFL/F_SETFL touch no memory.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 {
            return false;
        }
        let want = if on {
            flags | libc::O_DIRECT
        } else {
            flags & !libc::O_DIRECT
        };
        libc::fcntl(fd, libc::F_SETFL, want) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn roundtrip(dir: &std::path::Path, len: usize) {
        let data: Vec<u8> = (0..len).map(|i| (i * 31 + i / 4093) as u8).collect();
        let path = dir.join(format!("blob-{len}"));
        let mut f = File::create(&path).unwrap();
        write_all(&mut f, &data).unwrap();
        drop(f);
        let mut back = Vec::new();
        File::open(&path).unwrap().read_to_end(&mut back).unwrap();
        assert_eq!(back.len(), len, "length of a {len}-byte blob");
        assert!(back == data, "bytes of a {len}-byte blob differ");
    }

    #[test]
    fn any_length_reads_back_exactly() {
        let dir = tempfile::tempdir().unwrap();
        for len in [
            0,
            1,
            4095,
            MIN_DIRECT - 1,
            MIN_DIRECT,
            2 << 20,
            (2 << 20) - 1,
            1_234_567,
        ] {
            roundtrip(dir.path(), len);
        }
    }

    #[test]
    fn an_aligned_blob_is_written_from_its_own_buffer() {
        let dir = tempfile::tempdir().unwrap();
        let len = 2 << 20;
        let mut buf: Vec<u8> = (0..len + ALIGN).map(|i| (i % 251) as u8).collect();
        let start = buf.as_ptr().align_offset(ALIGN);
        let data = &mut buf[start..start + len];
        let path = dir.path().join("aligned");
        let mut f = File::create(&path).unwrap();
        write_all(&mut f, data).unwrap();
        drop(f);
        assert!(std::fs::read(&path).unwrap() == *data);
    }

    #[test]
    fn a_filesystem_without_o_direct_gets_a_buffered_write() {
        // /dev/shm is tmpfs, which refuses O_DIRECT.
        let Ok(dir) = tempfile::tempdir_in("/dev/shm") else {
            return;
        };
        roundtrip(dir.path(), 1_234_567);
    }
}
