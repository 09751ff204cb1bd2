//! A torrent's files as the filesystem's [`TreeContent`]: paths under the
//! torrent's name (padding files left out), exact sizes, reads and
//! read-ahead turned into byte ranges of the torrent for its [`Swarm`], and
//! the files' extended attributes.

use crate::stream::{BoxFuture, Bytes};
use crate::torrent::swarm::Swarm;
use crate::torrent::Metainfo;
use crate::vfs::TreeContent;
use std::ops::Range;
use std::sync::Arc;

/// A torrent's files as the filesystem shows them.
pub struct TorrentTree {
    swarm: Arc<Swarm>,
    /// Paths (under the torrent's name) and sizes, padding left out.
    files: Vec<(String, u64)>,
    /// Where each file starts in the torrent's bytes.
    starts: Vec<u64>,
}

impl TorrentTree {
    pub fn new(m: &Metainfo, swarm: Arc<Swarm>) -> Self {
        let shown = m.files.iter().filter(|f| !f.pad);
        let (mut files, mut starts) = (Vec::new(), Vec::new());
        for f in shown {
            let path = if m.single_file {
                f.path.clone()
            } else {
                format!("{}/{}", m.name, f.path)
            };
            files.push((path, f.length));
            starts.push(f.offset);
        }
        Self {
            swarm,
            files,
            starts,
        }
    }

    /// The torrent byte range of `range` in `file`, clamped to the file.
    fn span(&self, file: usize, range: Range<u64>) -> Option<Range<u64>> {
        let (start, size) = (*self.starts.get(file)?, self.files.get(file)?.1);
        let end = range.end.min(size);
        (range.start < end).then(|| start + range.start..start + end)
    }
}

impl TreeContent for TorrentTree {
    fn files(&self) -> &[(String, u64)] {
        &self.files
    }

    fn read(&self, file: usize, offset: u64, len: usize) -> BoxFuture<'_, Result<Bytes, String>> {
        let span = self.span(file, offset..offset.saturating_add(len as u64));
        Box::pin(async move {
            let Some(r) = span else {
                return Ok(Bytes::new());
            };
            let n = (r.end - r.start) as usize;
            self.swarm
                .read(r.start, n)
                .await
                .map_err(|e| crate::error_chain(&e))
        })
    }

    fn prefetch(&self, file: usize, range: Range<u64>) {
        if let Some(r) = self.span(file, range) {
            self.swarm.prefetch(r);
        }
    }

    fn xattrs(&self, file: usize) -> Vec<(&'static str, String)> {
        let meta = self.swarm.meta();
        let size = self.files.get(file).map_or(0, |f| f.1);
        let (held, total) = match self.span(file, 0..size) {
            Some(r) => {
                let first = r.start / meta.piece_length;
                let last = (r.end - 1) / meta.piece_length;
                (self.swarm.held_between(first..last + 1), last + 1 - first)
            }
            None => (0, 0),
        };
        vec![
            ("user.lbry.btih", hex::encode(meta.info_hash)),
            ("user.lbry.pieces", format!("{held}/{total}")),
            ("user.lbry.peers", self.swarm.peer_count().to_string()),
        ]
    }
}
