//! The filesystem operations on what is reached by name: `@chan` lists the
//! channel's streams, page by page as the reader goes; `name` and
//! `@chan/name` hold the stream's one file, the same stream (and the same
//! cache, reads and errors) as its sd hash directory. A claim whose source
//! is a torrent is a symlink to the torrent's directory in the root
//! (`../<infohash>` from a channel), so the torrent has one directory and
//! one set of inodes however it is reached; without torrents in the mount
//! such a claim is not found, with the reason kept.
//!
//! A name that does not resolve is ENOENT and its reason is kept for
//! `status`; no resolver answering is EIO, unless the name was resolved
//! before in this mount, whose last answer is used (offline).

use super::name_table::{self as names_ino, lock, ChannelDir, NameEntry, What};
use super::names::{is_listable, NameError, Named, Resolution, Source};
use super::table::Node;
use super::{Attr, DirEntry, FsError, Kind, Vfs, ROOT};
use crate::stream::Stream;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

/// Streams asked of the resolver per page of a channel listing.
const PAGE: u32 = 50;

impl Vfs {
    /// `name` in directory `parent`, either of which is in the name space
    /// (or the root, for a name that is not an sd hash).
    pub(super) async fn lookup_name(&self, parent: u64, name: &str) -> Result<Attr, FsError> {
        if parent == ROOT {
            let ino = self.name_dir(ROOT, name, name.to_owned()).await?;
            return self.getattr(ino).await;
        }
        let (e, is_file) = self.name_table.entry(parent).ok_or(FsError::NotFound)?;
        if is_file {
            return Err(FsError::NotDir);
        }
        match &e.what {
            What::Channel(_) => {
                let path = format!("{}/{name}", e.path);
                let ino = self.name_dir(parent, name, path).await?;
                self.getattr(ino).await
            }
            What::Stream(_) => {
                let stream = self.named_stream(&e).await?;
                if name != stream.descriptor().file_name() {
                    return Err(FsError::NotFound);
                }
                self.getattr(parent + 1).await
            }
            What::SearchRoot => self.search_dir(parent, name).await,
            What::Search(_) => {
                let (ino, _) = self.name_table.get(parent, name).ok_or(FsError::NotFound)?;
                self.getattr(ino).await
            }
        }
    }

    /// The directory of `name` in `parent`, resolving `path` when it is not
    /// known or no longer fresh.
    async fn name_dir(&self, parent: u64, name: &str, path: String) -> Result<u64, FsError> {
        let now = Instant::now();
        let known = self.name_table.get(parent, name);
        if let Some((ino, e)) = &known {
            if e.is_fresh(now) {
                return Ok(*ino);
            }
        }
        let resolver = self.names.as_ref().ok_or(FsError::NotFound)?;
        let span = tracing::info_span!("resolve_name", url = %path);
        let asked = resolver.resolve(&path).instrument(span);
        let what = match self.bounded("resolving the name", asked).await {
            Ok(Ok(Resolution::Stream(n))) if !self.can_show(&n) => {
                self.record(format!("name {path}: {}", no_torrents(&n)));
                return Err(FsError::NotFound);
            }
            Ok(Ok(Resolution::Stream(n))) => What::Stream(n),
            Ok(Ok(Resolution::Channel)) if parent == ROOT => {
                // A channel resolved again keeps what was listed of it.
                let dir = ChannelDir::default();
                if let Some(What::Channel(old)) = known.as_ref().map(|(_, e)| &e.what) {
                    *lock(&dir.listing) = std::mem::take(&mut *lock(&old.listing));
                }
                What::Channel(dir)
            }
            Ok(Ok(Resolution::Channel)) => {
                self.record(format!("name {path}: a channel inside a channel"));
                return Err(FsError::NotFound);
            }
            Ok(Err(NameError::NotFound(why))) => {
                self.record(format!("name {path} not found: {why}"));
                return Err(FsError::NotFound);
            }
            Ok(Err(NameError::Unavailable(why))) | Err(why) => {
                if let Some((ino, _)) = known {
                    tracing::warn!(url = %path, error = %why, "name not resolved again; using its last answer");
                    return Ok(ino);
                }
                let reason = format!("name {path} not resolved: {why}");
                self.record(reason.clone());
                return Err(FsError::Io(reason));
            }
        };
        let entry = NameEntry {
            parent,
            name: name.to_owned(),
            path,
            what,
            at: now,
        };
        self.name_table
            .put(entry)
            .map_err(|e| FsError::Io(e.to_string()))
    }

    /// The stream a claim directory holds, fetching its descriptor when
    /// the mount does not know it yet.
    async fn named_stream(&self, e: &NameEntry) -> Result<Arc<Stream>, FsError> {
        let n = e.named().ok_or(FsError::IsDir)?;
        let sd = n.source.sd().ok_or(FsError::NotDir)?;
        let dir = match self.table.dir_of(&sd) {
            Some(dir) => dir,
            None => self.resolve(sd).await?,
        };
        match self.table.node(dir) {
            Some(Node::Dir(s)) => Ok(s),
            _ => Err(FsError::NotFound),
        }
    }

    /// The stream of a claim's file inode, if the mount knows it (no network).
    pub(super) fn named_stream_known(&self, ino: u64) -> Option<(Arc<NameEntry>, Arc<Stream>)> {
        let (e, true) = self.name_table.entry(ino)? else {
            return None;
        };
        let dir = self.table.dir_of(&e.named()?.source.sd()?)?;
        match self.table.node(dir) {
            Some(Node::Dir(s)) => Some((e, s)),
            _ => None,
        }
    }

    pub(super) async fn getattr_name(&self, ino: u64) -> Result<Attr, FsError> {
        let (e, is_file) = self.name_table.entry(ino).ok_or(FsError::NotFound)?;
        if let Some(link) = e.link() {
            return Ok(self.attr(ino, Kind::Symlink, link.len() as u64));
        }
        if !is_file {
            return Ok(self.attr(ino, Kind::Dir, 0));
        }
        let stream = self.named_stream(&e).await?;
        let size = match stream.known_size() {
            Some(n) => n,
            None => self.file_size(&stream).await?,
        };
        Ok(self.attr(ino, Kind::File, size))
    }

    /// The stream behind a file inode of either space.
    pub(super) async fn file_stream(&self, ino: u64) -> Result<Arc<Stream>, FsError> {
        if super::trees::is_tree_ino(ino) {
            return self.tree_file_stream(ino).await;
        }
        if !names_ino::is_name_ino(ino) {
            return match self.table.node(ino).ok_or(FsError::NotFound)? {
                Node::File(s) => Ok(s),
                _ => Err(FsError::IsDir),
            };
        }
        match self.name_table.entry(ino).ok_or(FsError::NotFound)? {
            (e, true) => self.named_stream(&e).await,
            (_, false) => Err(FsError::IsDir),
        }
    }

    /// Entries after cookie `after` of a directory in the name space.
    pub(super) async fn readdir_name(
        &self,
        ino: u64,
        after: u64,
    ) -> Result<Vec<DirEntry>, FsError> {
        let (e, is_file) = self.name_table.entry(ino).ok_or(FsError::NotFound)?;
        if is_file || e.link().is_some() {
            return Err(FsError::NotDir);
        }
        match &e.what {
            What::Channel(dir) => self.channel_entries(ino, &e, dir, after).await,
            What::SearchRoot => Ok(Vec::new()),
            What::Search(children) => Ok(self.search_entries(children, after)),
            What::Stream(_) if after >= 1 => Ok(Vec::new()),
            What::Stream(_) => {
                let stream = self.named_stream(&e).await?;
                Ok(vec![DirEntry {
                    ino: ino + 1,
                    kind: Kind::File,
                    name: stream.descriptor().file_name(),
                    cookie: 1,
                }])
            }
        }
    }

    /// A channel's streams after cookie `after` (the position in the
    /// listing), reading the next page from the resolver when the reader
    /// has seen every stream listed so far.
    async fn channel_entries(
        &self,
        ino: u64,
        e: &NameEntry,
        dir: &ChannelDir,
        after: u64,
    ) -> Result<Vec<DirEntry>, FsError> {
        let at = usize::try_from(after).unwrap_or(usize::MAX);
        let _one_fetch = dir.fetching.lock().await;
        {
            let mut l = lock(&dir.listing);
            let stale = l.started.is_some_and(|t| !e.is_fresh(t));
            if after == 0 && (l.started.is_none() || stale) {
                // A listing from the start reads the channel anew.
                (l.next, l.complete, l.started) = (0, false, Some(Instant::now()));
            }
            if l.children.len() > at || l.complete {
                return Ok(self.listed(&l.children, at));
            }
        }
        let next = lock(&dir.listing).next;
        let resolver = self.names.as_ref().ok_or(FsError::NotFound)?;
        let span = tracing::info_span!("list_channel", url = %e.path, offset = next);
        let page = resolver.channel_page(&e.path, next, PAGE).instrument(span);
        let page = match self.bounded("listing the channel", page).await {
            Ok(Ok(page)) => page,
            Ok(Err(NameError::NotFound(why) | NameError::Unavailable(why))) | Err(why) => {
                let reason = format!("channel {} not listed: {why}", e.path);
                self.record(reason.clone());
                let l = lock(&dir.listing);
                // What was listed before stays listed; with nothing, fail.
                return match l.children.is_empty() {
                    true => Err(FsError::Io(reason)),
                    false => Ok(self.listed(&l.children, at)),
                };
            }
        };
        let mut l = lock(&dir.listing);
        l.next = next.saturating_add(page.items.len() as u32);
        // A short page is the last (totals from hubs are capped, not exact).
        l.complete = page.items.len() < PAGE as usize;
        for n in page.items {
            self.add_listed(ino, e, &mut l.children, n);
        }
        Ok(self.listed(&l.children, at))
    }

    /// Adds a listed stream to a channel's listing, under its claim name
    /// (or `name#claim_id` when the channel has two claims of one name).
    fn add_listed(&self, ino: u64, e: &NameEntry, children: &mut Vec<u64>, n: Named) {
        if !is_listable(&n.name) {
            tracing::debug!(name = %n.name.escape_debug(), "claim name cannot be a directory name");
            return;
        }
        if !self.can_show(&n) {
            tracing::debug!(name = %n.name.escape_debug(), "{}", no_torrents(&n));
            return;
        }
        let name = match self.name_table.get(ino, &n.name) {
            Some((_, old)) if old.named().is_some_and(|o| o.claim_id != n.claim_id) => {
                format!("{}#{}", n.name, n.claim_id)
            }
            _ => n.name.clone(),
        };
        let path = format!("{}/{}#{}", e.path, n.name, n.claim_id);
        let entry = NameEntry {
            parent: ino,
            name,
            path,
            what: What::Stream(n),
            at: Instant::now(),
        };
        match self.name_table.put(entry) {
            Ok(child) if !children.contains(&child) => children.push(child),
            Ok(_) => {}
            Err(full) => tracing::warn!(error = %full, "channel listing cut short"),
        }
    }

    fn listed(&self, children: &[u64], at: usize) -> Vec<DirEntry> {
        let rest = children.iter().enumerate().skip(at);
        rest.filter_map(|(i, &child)| {
            let (e, _) = self.name_table.entry(child)?;
            Some(DirEntry {
                ino: child,
                kind: entry_kind(&e),
                name: e.name.clone(),
                cookie: i as u64 + 1,
            })
        })
        .collect()
    }

    /// Root entries reached by name, after the streams.
    pub(super) fn root_names(&self) -> Vec<DirEntry> {
        let names = self.name_table.children(ROOT).into_iter();
        names
            .map(|(ino, e)| DirEntry {
                ino,
                kind: entry_kind(&e),
                name: e.name.clone(),
                cookie: names_ino::cookie(ino),
            })
            .collect()
    }

    /// Where a torrent claim's symlink points.
    pub fn readlink(&self, ino: u64) -> Result<String, FsError> {
        if !names_ino::is_name_ino(ino) {
            return Err(FsError::NotLink);
        }
        let (e, _) = self.name_table.entry(ino).ok_or(FsError::NotFound)?;
        e.link().ok_or(FsError::NotLink)
    }

    /// Whether the mount can show a claim's source: an LBRY stream always,
    /// a torrent when torrents are in the mount.
    fn can_show(&self, n: &Named) -> bool {
        match n.source {
            Source::Stream(_) => true,
            Source::Torrent(ih) => self.source_key(&hex::encode(ih)).is_some(),
        }
    }

    /// The extended attributes a file reached by name adds.
    pub(super) fn name_xattr(&self, ino: u64, attr: &str) -> Option<String> {
        let (e, _) = self.named_stream_known(ino)?;
        let n = e.named()?;
        match attr {
            "user.lbry.url" => Some(n.url.clone()),
            "user.lbry.claim_id" => Some(n.claim_id.clone()),
            "user.lbry.channel" => n.channel.clone(),
            "user.lbry.media_type" => Some(n.media_type.clone()),
            _ => None,
        }
    }
}

/// A name entry's kind in a listing: a directory, or a torrent claim's link.
fn entry_kind(e: &NameEntry) -> Kind {
    match e.link() {
        Some(_) => Kind::Symlink,
        None => Kind::Dir,
    }
}

/// Why a torrent claim is not shown.
fn no_torrents(n: &Named) -> String {
    let ih = match n.source {
        Source::Torrent(ih) => hex::encode(ih),
        Source::Stream(_) => return "its source is an LBRY stream".into(),
    };
    format!(
        "its source is the BitTorrent infohash {ih}, and torrents are not in this mount (--no-bt)"
    )
}
