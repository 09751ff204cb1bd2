//! Inodes for what is reached by name: channel directories (`@chan`), claim
//! directories (`name`, `@chan/name`) and the file inside each claim
//! directory. They live far above the inodes of streams reached by sd hash
//! (`NAME_BASE`), so neither numbering disturbs the other.
//!
//! An entry keeps its inode for the life of the mount, like a stream does;
//! what it points at may change (a name's controlling claim moves, a channel
//! publishes), so the kernel is given a short time to live for these inodes
//! and entries older than [`NAME_TTL`] are resolved again. The table is fed
//! from hubs, so it is bounded: past [`MAX_NAMES`] new names are refused.

use super::names::{Named, Source};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

/// The first inode of the name space: entry `j` has directory
/// `NAME_BASE + 2j` and (for a claim) file `NAME_BASE + 2j + 1`.
pub const NAME_BASE: u64 = 1 << 48;

/// How long a resolved name is trusted before it is asked again.
pub const NAME_TTL: Duration = Duration::from_secs(300);

/// Most names one mount keeps.
pub const MAX_NAMES: usize = 200_000;

/// What a name entry is.
pub enum What {
    Channel(ChannelDir),
    Stream(Named),
    /// The root's `.search` directory.
    SearchRoot,
    /// `.search/TEXT`: the directory inodes of its results.
    Search(Vec<u64>),
}

/// A channel directory: its listing so far, and a lock held while a page
/// is fetched, so concurrent readers do not fetch the same page twice.
#[derive(Default)]
pub struct ChannelDir {
    pub listing: Mutex<Listing>,
    pub fetching: tokio::sync::Mutex<()>,
}

/// A name under `parent`, and the URL it was resolved as.
pub struct NameEntry {
    pub parent: u64,
    pub name: String,
    /// The URL as typed (`@chan/name`), without the scheme.
    pub path: String,
    pub what: What,
    /// When it was resolved.
    pub at: Instant,
}

impl NameEntry {
    pub fn named(&self) -> Option<&Named> {
        match &self.what {
            What::Stream(n) => Some(n),
            _ => None,
        }
    }

    /// Where a claim whose source is a torrent points: the torrent's
    /// directory in the root, relative to this entry's directory.
    pub fn link(&self) -> Option<String> {
        let Source::Torrent(info_hash) = self.named()?.source else {
            return None;
        };
        let up = if self.parent == super::ROOT {
            ""
        } else {
            "../"
        };
        Some(format!("{up}{}", hex::encode(info_hash)))
    }

    pub fn is_fresh(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.at) < NAME_TTL
    }
}

/// A channel's streams as listed so far, in listing order.
#[derive(Default)]
pub struct Listing {
    /// Directory inodes of the streams listed.
    pub children: Vec<u64>,
    /// The resolver's offset of the next page.
    pub next: u32,
    /// Every page has been read.
    pub complete: bool,
    /// When the first page was read (a listing started anew after NAME_TTL).
    pub started: Option<Instant>,
}

/// Refused: the table is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many names in this mount ({MAX_NAMES})")]
pub struct Full;

#[derive(Default)]
pub struct NameTable {
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: Vec<Arc<NameEntry>>,
    by_path: HashMap<(u64, String), usize>,
}

/// Whether `ino` is in the name space.
pub fn is_name_ino(ino: u64) -> bool {
    ino >= NAME_BASE
}

fn dir_ino(j: usize) -> u64 {
    NAME_BASE + 2 * j as u64
}

/// The listing cookie of a name directory (above every stream's cookie).
pub fn cookie(dir: u64) -> u64 {
    dir / 2
}

impl NameTable {
    /// The directory inode and entry named `name` in `parent`.
    pub fn get(&self, parent: u64, name: &str) -> Option<(u64, Arc<NameEntry>)> {
        let t = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        let j = *t.by_path.get(&(parent, name.to_owned()))?;
        Some((dir_ino(j), t.entries[j].clone()))
    }

    /// Adds `entry`, or puts it in place of the one of the same parent and
    /// name, keeping its inode unless it changes kind (a claim whose source
    /// moved between a stream and a torrent): the kernel takes an inode
    /// that changes type for a broken one, so it gets a new inode then.
    /// Returns the directory inode.
    pub fn put(&self, entry: NameEntry) -> Result<u64, Full> {
        let mut t = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        let key = (entry.parent, entry.name.clone());
        if let Some(&j) = t.by_path.get(&key) {
            if t.entries[j].link().is_some() == entry.link().is_some() {
                t.entries[j] = Arc::new(entry);
                return Ok(dir_ino(j));
            }
        }
        if t.entries.len() >= MAX_NAMES {
            return Err(Full);
        }
        let j = t.entries.len();
        // The old inode's entry stays for what the kernel still holds of
        // it; `children` lists only the entry the name now points at.
        t.entries.push(Arc::new(entry));
        t.by_path.insert(key, j);
        Ok(dir_ino(j))
    }

    /// The entry of a name directory or of the file inside it, and whether
    /// `ino` is the file.
    pub fn entry(&self, ino: u64) -> Option<(Arc<NameEntry>, bool)> {
        let j = usize::try_from(ino.checked_sub(NAME_BASE)? / 2).ok()?;
        let t = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        let e = t.entries.get(j)?.clone();
        let is_file = ino % 2 == 1;
        match (&e.what, is_file) {
            (_, false) => Some((e, false)),
            (What::Stream(n), true) if n.source.sd().is_some() => Some((e, true)),
            _ => None,
        }
    }

    /// Names directly under `parent`, in the order they became known.
    pub fn children(&self, parent: u64) -> Vec<(u64, Arc<NameEntry>)> {
        let t = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        let under = t.entries.iter().enumerate();
        let current =
            |j: usize, e: &NameEntry| t.by_path.get(&(e.parent, e.name.clone())) == Some(&j);
        let under = under.filter(|(j, e)| e.parent == parent && current(*j, e));
        under.map(|(j, e)| (dir_ino(j), e.clone())).collect()
    }
}

/// Locks a channel's listing.
pub fn lock(l: &Mutex<Listing>) -> std::sync::MutexGuard<'_, Listing> {
    l.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(parent: u64, name: &str) -> NameEntry {
        NameEntry {
            parent,
            name: name.into(),
            path: name.into(),
            what: What::Stream(Named {
                name: name.into(),
                source: Source::Stream("ab".repeat(48).parse().unwrap()),
                url: format!("lbry://{name}"),
                claim_id: "00".repeat(20),
                channel: None,
                media_type: String::new(),
            }),
            at: Instant::now(),
        }
    }

    #[test]
    fn a_name_keeps_its_inode_when_it_is_resolved_again() {
        let t = NameTable::default();
        let a = t.put(stream(1, "a")).unwrap();
        let b = t.put(stream(1, "b")).unwrap();
        assert_ne!(a, b);
        assert_eq!(t.put(stream(1, "a")).unwrap(), a);
        assert_eq!(t.get(1, "a").unwrap().0, a);
        assert!(t.get(a, "a").is_none(), "names are per directory");
        let (e, is_file) = t.entry(a + 1).unwrap();
        assert!(is_file);
        assert_eq!(e.name, "a");
        assert!(is_name_ino(a) && !is_name_ino(3));
    }

    #[test]
    fn a_torrent_claim_is_a_link_to_the_root_with_no_file_inode() {
        let t = NameTable::default();
        let mut e = stream(super::super::ROOT, "t");
        let mut claim = e.named().unwrap().clone();
        claim.source = Source::Torrent([0xab; 20]);
        e.what = What::Stream(claim.clone());
        let top = t.put(e).unwrap();
        assert_eq!(t.entry(top).unwrap().0.link().unwrap(), "ab".repeat(20));
        assert!(t.entry(top + 1).is_none(), "a link holds no file");
        let mut inner = stream(top, "t");
        inner.what = What::Stream(claim);
        let inner = t.put(inner).unwrap();
        let link = t.entry(inner).unwrap().0.link().unwrap();
        assert_eq!(link, format!("../{}", "ab".repeat(20)));
        assert!(t.get(top, "t").is_some());
        assert!(stream(1, "s").link().is_none(), "an LBRY stream is no link");
    }

    #[test]
    fn a_claim_that_changes_kind_gets_a_new_inode_and_is_listed_once() {
        let t = NameTable::default();
        let dir = t.put(stream(super::super::ROOT, "c")).unwrap();
        let mut e = stream(super::super::ROOT, "c");
        let mut claim = e.named().unwrap().clone();
        claim.source = Source::Torrent([1; 20]);
        e.what = What::Stream(claim);
        let link = t.put(e).unwrap();
        assert_ne!(link, dir, "a directory inode never becomes a link");
        assert_eq!(t.get(super::super::ROOT, "c").unwrap().0, link);
        let listed = t.children(super::super::ROOT);
        assert_eq!(listed.iter().map(|c| c.0).collect::<Vec<_>>(), [link]);
        assert!(t.entry(dir).is_some(), "the old inode still answers");
    }

    #[test]
    fn a_channel_has_no_file_inode() {
        let t = NameTable::default();
        let entry = NameEntry {
            parent: 1,
            name: "@c".into(),
            path: "@c".into(),
            what: What::Channel(ChannelDir::default()),
            at: Instant::now(),
        };
        let c = t.put(entry).unwrap();
        assert!(t.entry(c).is_some());
        assert!(t.entry(c + 1).is_none());
        assert_eq!(t.children(1).len(), 1);
    }
}
