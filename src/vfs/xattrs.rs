//! Extended attributes: what a file is (sd hash, claim), how much of it is
//! cached, and how many peers are known for it (a source's files, such as a
//! torrent's, say it through `TreeContent::xattrs`); on the root, the control
//! socket of the node behind the mount (how `lbrymount unmount` finds it).

use super::table::{Node, ROOT};
use super::{name_table, FsError, Vfs};
use std::ffi::OsStr;

impl Vfs {
    /// Extended attributes: names, NUL-terminated, as `listxattr` returns them.
    pub fn listxattr(&self, ino: u64) -> Result<Vec<u8>, FsError> {
        let names: &[&str] = if ino == ROOT && self.cfg.control_socket.is_some() {
            &[CONTROL_XATTR]
        } else if self.named_stream_known(ino).is_some() {
            &[&XATTRS[..], &NAME_XATTRS[..]].concat()
        } else if self.tree_stream_known(ino).is_some() {
            &XATTRS
        } else if let Some(attrs) = self.sources.xattrs_of(ino) {
            let names = attrs
                .iter()
                .flat_map(|(n, _)| [n.as_bytes(), b"\0"].concat());
            return Ok(names.collect());
        } else {
            match self.table.node(ino) {
                Some(Node::File(_)) => &XATTRS,
                Some(_) => &[],
                None if name_table::is_name_ino(ino) => &[],
                None => return Err(FsError::NotFound),
            }
        };
        Ok(names
            .iter()
            .flat_map(|n| [n.as_bytes(), b"\0"].concat())
            .collect())
    }

    pub fn getxattr(&self, ino: u64, name: &OsStr) -> Result<Vec<u8>, FsError> {
        if ino == ROOT && name == CONTROL_XATTR {
            let socket = self.cfg.control_socket.as_ref().ok_or(FsError::NoAttr)?;
            return Ok(socket.as_os_str().as_encoded_bytes().to_vec());
        }
        if let Some(attrs) = self.sources.xattrs_of(ino) {
            let found = attrs.into_iter().find(|(n, _)| name == *n);
            return found.map(|(_, v)| v.into_bytes()).ok_or(FsError::NoAttr);
        }
        let s = match self.named_stream_known(ino) {
            Some((_, s)) => s,
            None if self.tree_stream_known(ino).is_some() => {
                self.tree_stream_known(ino).ok_or(FsError::NoAttr)?
            }
            None => match self.table.node(ino) {
                Some(Node::File(s)) => s,
                Some(_) => return Err(FsError::NoAttr),
                None if name_table::is_name_ino(ino) => return Err(FsError::NoAttr),
                None => return Err(FsError::NotFound),
            },
        };
        if let Some(v) = name.to_str().and_then(|n| self.name_xattr(ino, n)) {
            return Ok(v.into_bytes());
        }
        let blobs = s.descriptor().blobs();
        let value = match name.to_str() {
            Some("user.lbry.sd_hash") => s.sd().to_string(),
            Some("user.lbry.blobs") => {
                let present = blobs
                    .iter()
                    .filter(|b| self.store.contains(&b.hash))
                    .count();
                format!("{present}/{}", blobs.len())
            }
            Some("user.lbry.peers") => self.hooks.peers_known(&s.sd()).to_string(),
            _ => return Err(FsError::NoAttr),
        };
        Ok(value.into_bytes())
    }
}

/// The root's attribute naming the node's control socket.
pub const CONTROL_XATTR: &str = "user.lbrymount.control";

/// Extended attributes of a file.
const XATTRS: [&str; 3] = ["user.lbry.sd_hash", "user.lbry.blobs", "user.lbry.peers"];

/// Extended attributes a file reached by name adds.
const NAME_XATTRS: [&str; 4] = [
    "user.lbry.url",
    "user.lbry.claim_id",
    "user.lbry.channel",
    "user.lbry.media_type",
];
