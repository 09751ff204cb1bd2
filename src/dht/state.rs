//! What a node keeps across restarts: its id and a snapshot of live
//! contacts, in a small versioned JSON file. lbry-sdk keeps only the id (in
//! `<data_dir>/node_id`).
//!
//! The id matters because the network knows us by it: other tables hold it,
//! and announcements near it were stored with us. The contacts let a restarted
//! node rejoin in seconds, even when no bootstrap node answers: they are
//! pinged as extra bootstrap seeds.
//!
//! Writing goes to a temporary file beside the real one, synced, then renamed
//! over it, so a crash leaves the old file or the new one, never half of
//! either. Reading is strict about the shape and the version (anything else
//! is an error the node logs and ignores: never fatal) and lenient about
//! single contacts: one that does not parse is skipped.
//!
//! Blocking file I/O; async callers run it on the blocking pool. The format:
//! `{"version":1,"node_id":"<96 hex>","contacts":[{"id":"<96 hex>","addr":"1.2.3.4:4444"}]}`.

use std::fs;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Contact;
use crate::hash::{HashError, NodeId};

/// The format version written, and the only one read.
pub const STATE_VERSION: u64 = 1;
/// Contacts kept in the snapshot, at most.
pub const MAX_SAVED_CONTACTS: usize = 256;

/// A node's id and the contacts worth trying first after a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedState {
    pub node_id: NodeId,
    /// Most recently heard from first.
    pub contacts: Vec<Contact>,
}

/// Why the state file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is not a DHT state file", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{} is version {found}; this build reads version {STATE_VERSION}", path.display())]
    Version { path: PathBuf, found: u64 },
    #[error("{} holds no valid node id", path.display())]
    NodeId {
        path: PathBuf,
        #[source]
        source: HashError,
    },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

#[derive(Serialize, Deserialize)]
struct File {
    version: u64,
    node_id: String,
    #[serde(default)]
    contacts: Vec<FileContact>,
}

#[derive(Serialize, Deserialize)]
struct FileContact {
    id: String,
    addr: String,
}

impl SavedState {
    /// Reads `path`; `Ok(None)` when there is no such file.
    pub fn load(path: &Path) -> Result<Option<SavedState>, StateError> {
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StateError::Read {
                    path: path.into(),
                    source,
                })
            }
        };
        let parse = |source| StateError::Parse {
            path: path.into(),
            source,
        };
        // The version first: a later format may change every other field.
        let value: serde_json::Value = serde_json::from_str(&text).map_err(parse)?;
        match value.get("version").and_then(serde_json::Value::as_u64) {
            Some(STATE_VERSION) => {}
            found => {
                return Err(StateError::Version {
                    path: path.into(),
                    found: found.unwrap_or(0),
                })
            }
        }
        let file: File = serde_json::from_value(value).map_err(parse)?;
        let node_id = file
            .node_id
            .parse::<NodeId>()
            .map_err(|source| StateError::NodeId {
                path: path.into(),
                source,
            })?;
        let contacts = file
            .contacts
            .iter()
            .filter_map(|c| {
                let id = c.id.parse::<NodeId>().ok()?;
                let addr = c.addr.parse::<SocketAddr>().ok()?;
                Some(Contact::new(id, addr))
            })
            .take(MAX_SAVED_CONTACTS)
            .collect();
        Ok(Some(SavedState { node_id, contacts }))
    }

    /// Replaces `path` with this state, atomically (see the module docs).
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let file = File {
            version: STATE_VERSION,
            node_id: self.node_id.to_hex(),
            contacts: self
                .contacts
                .iter()
                .take(MAX_SAVED_CONTACTS)
                .map(|c| FileContact {
                    id: c.id.to_hex(),
                    addr: c.addr.to_string(),
                })
                .collect(),
        };
        // Serializing these plain strings and numbers cannot fail.
        let json = serde_json::to_vec(&file).unwrap_or_default();
        crate::atomic_file::write(path, &json).map_err(|source| StateError::Write {
            path: path.into(),
            source,
        })
    }
}

pub(super) use crate::error_chain as chain;

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> SavedState {
        SavedState {
            node_id: NodeId::digest(b"me"),
            contacts: vec![
                Contact::new(NodeId::digest(b"a"), "1.2.3.4:4444".parse().unwrap()),
                Contact::new(NodeId::digest(b"b"), "127.0.0.1:5000".parse().unwrap()),
            ],
        }
    }

    #[test]
    fn round_trips_and_a_missing_file_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("dht.json");
        assert!(SavedState::load(&path).unwrap().is_none());
        state().save(&path).unwrap();
        assert_eq!(SavedState::load(&path).unwrap(), Some(state()));
        assert!(!dir.path().join("sub").join("dht.json.tmp").exists());
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(r#"{"version":1,"node_id":""#), "{text}");
    }

    #[test]
    fn bad_files_are_errors_and_bad_contacts_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dht.json");
        let id = NodeId::digest(b"me").to_hex();
        let cases = [
            ("{\"version\":1,\"node_id\":\"", "Parse"),
            ("[]", "Version"),
            (r#"{"version":2,"node_id":"00"}"#, "Version"),
            (r#"{"version":1,"node_id":"zz"}"#, "NodeId"),
            (r#"{"version":1,"node_id":7}"#, "Parse"),
        ];
        for (text, want) in cases {
            fs::write(&path, text).unwrap();
            let err = SavedState::load(&path).unwrap_err();
            assert!(format!("{err:?}").starts_with(want), "{text}: {err:?}");
        }
        let text = format!(
            r#"{{"version":1,"node_id":"{id}","contacts":[{{"id":"x","addr":"1.2.3.4:1"}},{{"id":"{id}","addr":"nowhere"}},{{"id":"{id}","addr":"1.2.3.4:4444"}}]}}"#
        );
        fs::write(&path, text).unwrap();
        let s = SavedState::load(&path).unwrap().unwrap();
        assert_eq!(s.contacts.len(), 1);
        assert_eq!(s.contacts[0].addr, "1.2.3.4:4444".parse().unwrap());
    }
}
