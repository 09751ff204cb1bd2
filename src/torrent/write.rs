//! Writes a torrent's byte stream into its files under a target directory,
//! through `output_tree` (never through a symlink, part files renamed into
//! place once whole). Bytes arrive in order; padding files are skipped.

use super::metainfo::Metainfo;
use crate::output_tree::{PartFile, TreeError, TreeRoot};

pub struct TreeWriter<'a> {
    m: &'a Metainfo,
    root: TreeRoot,
    /// The file being written and its index.
    current: Option<(usize, PartFile)>,
    /// Bytes of the torrent consumed so far.
    pos: u64,
    /// Files written, with their paths for the report.
    pub done: Vec<(String, u64)>,
}

impl<'a> TreeWriter<'a> {
    pub fn new(m: &'a Metainfo, root: TreeRoot) -> Self {
        Self {
            m,
            root,
            current: None,
            pos: 0,
            done: Vec::new(),
        }
    }

    /// Where file `f` goes, relative to the target directory.
    fn rel(&self, f: usize) -> String {
        match self.m.single_file {
            true => self.m.name.clone(),
            false => format!("{}/{}", self.m.name, self.m.files[f].path),
        }
    }

    /// Takes the torrent's bytes at `offset` (which must be where the last
    /// call ended).
    pub fn write(&mut self, offset: u64, mut bytes: &[u8]) -> Result<(), TreeError> {
        debug_assert_eq!(offset, self.pos);
        while !bytes.is_empty() {
            let Some(f) = self
                .m
                .files
                .iter()
                .position(|f| self.pos < f.offset + f.length)
            else {
                return Ok(()); // past the last file: the tail of the last piece
            };
            let file = &self.m.files[f];
            let n = ((file.offset + file.length - self.pos) as usize).min(bytes.len());
            if !file.pad {
                self.out(f)?.write(&bytes[..n])?;
            }
            self.pos += n as u64;
            bytes = &bytes[n..];
            if self.pos == file.offset + file.length {
                self.close(f)?;
            }
        }
        Ok(())
    }

    fn out(&mut self, f: usize) -> Result<&mut PartFile, TreeError> {
        let part = match self.current.take() {
            Some((i, part)) if i == f => part,
            _ => {
                let (dir, name) = self.root.parent(&self.rel(f))?;
                dir.create(&name)?
            }
        };
        Ok(&mut self.current.insert((f, part)).1)
    }

    fn close(&mut self, f: usize) -> Result<(), TreeError> {
        let file = &self.m.files[f];
        if file.pad {
            return Ok(());
        }
        if file.length == 0 {
            self.out(f)?;
        }
        if let Some((_, part)) = self.current.take() {
            part.finish(file.length, None)?;
            self.done.push((self.rel(f), file.length));
        }
        Ok(())
    }

    /// Writes the empty files a torrent may end with (no bytes reach them).
    pub fn finish(mut self) -> Result<Vec<(String, u64)>, TreeError> {
        for f in 0..self.m.files.len() {
            let file = &self.m.files[f];
            if file.length == 0 && !file.pad && !self.done.iter().any(|(p, _)| *p == self.rel(f)) {
                self.close(f)?;
            }
        }
        Ok(self.done)
    }
}
