//! Names in the filesystem, against a resolver in memory and a network (the
//! source) holding one stream.

use super::names::{ChannelPage, NameError, Named, Names, Resolution};
use super::*;
use crate::publish::{publish_reader, PublishOptions};
use crate::store::MemStore;
use crate::stream::testing::{pseudo_random, MemSource};
use std::collections::HashMap;
use std::ffi::OsString;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

struct NoHooks;

impl NodeHooks for NoHooks {
    fn stream_known(&self, _desc: &StreamDescriptor) {}
    fn stream_cached(&self, _sd: SdHash, _first: Option<BlobHash>) {}
    fn peers_known(&self, _sd: &SdHash) -> usize {
        0
    }
}

#[derive(Default)]
struct Resolver {
    urls: HashMap<String, Resolution>,
    channel: Vec<Named>,
    calls: AtomicUsize,
    pages: AtomicUsize,
    gone: AtomicBool,
}

impl Names for Resolver {
    fn resolve<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<Resolution, NameError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            if self.gone.load(Ordering::SeqCst) {
                return Err(NameError::Unavailable("no hub answered".into()));
            }
            let not_found =
                || NameError::NotFound(format!("Could not find claim at \"lbry://{url}\"."));
            self.urls.get(url).cloned().ok_or_else(not_found)
        })
    }

    fn channel_page<'a>(
        &'a self,
        _channel: &'a str,
        offset: u32,
        limit: u32,
    ) -> BoxFuture<'a, Result<ChannelPage, NameError>> {
        self.pages.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            let items = self
                .channel
                .iter()
                .skip(offset as usize)
                .take(limit as usize);
            Ok(ChannelPage {
                items: items.cloned().collect(),
                total: self.channel.len() as u32,
            })
        })
    }
}

use super::names::BoxFuture;
use crate::stream::Bytes;

fn named(name: &str, sd: SdHash, claim: usize) -> Named {
    Named {
        name: name.into(),
        source: super::names::Source::Stream(sd),
        url: format!("lbry://@chan#a/{name}#{claim:x}"),
        claim_id: format!("{claim:040x}"),
        channel: Some("lbry://@chan#a".into()),
        media_type: "video/mp4".into(),
    }
}

struct Fixture {
    vfs: Vfs,
    resolver: Arc<Resolver>,
    data: Vec<u8>,
}

/// A channel `@chan` with `n` streams (all the one stream of the network,
/// under names `s0`, `s1`, …) and a channel-less name `solo`.
fn fixture(n: usize, extra: impl FnOnce(&mut Resolver, SdHash)) -> Fixture {
    let data = pseudo_random(3000, 9);
    let net = MemStore::new();
    let p = publish_reader(
        &net,
        "clip.mp4",
        &data[..],
        &PublishOptions::default(),
        &|_| {},
    );
    let sd = p.unwrap().descriptor.sd_hash();
    let mut r = Resolver::default();
    r.urls.insert("@chan".into(), Resolution::Channel);
    r.urls
        .insert("solo".into(), Resolution::Stream(named("solo", sd, 999)));
    r.channel = (0..n).map(|i| named(&format!("s{i}"), sd, i)).collect();
    extra(&mut r, sd);
    let resolver = Arc::new(r);
    let src = Arc::new(MemSource::new(net));
    let cfg = VfsConfig::default();
    let vfs = Vfs::new(cfg, Arc::new(MemStore::new()), src, Arc::new(NoHooks))
        .with_names(resolver.clone());
    Fixture {
        vfs,
        resolver,
        data,
    }
}

fn os(s: &str) -> OsString {
    OsString::from(s)
}

/// Reads a whole directory the way the kernel does: from each last cookie.
async fn list_all(vfs: &Vfs, ino: u64) -> Vec<DirEntry> {
    let mut all: Vec<DirEntry> = Vec::new();
    loop {
        let after = all.last().map_or(0, |e| e.cookie);
        let more = vfs.readdir(ino, after).await.unwrap();
        if more.is_empty() {
            return all;
        }
        all.extend(more);
    }
}

#[tokio::test]
async fn a_channel_lists_every_stream_page_by_page_and_each_reads_like_its_sd_hash() {
    let f = fixture(120, |_, _| {});
    let chan = f.vfs.lookup(ROOT, &os("@chan")).await.unwrap();
    assert_eq!(chan.kind, Kind::Dir);
    let listed = list_all(&f.vfs, chan.ino).await;
    let names: Vec<_> = listed.iter().map(|e| e.name.as_str()).collect();
    let want: Vec<_> = (0..120).map(|i| format!("s{i}")).collect();
    assert_eq!(names, want, "every stream, in the channel's order");
    assert_eq!(f.resolver.pages.load(Ordering::SeqCst), 3, "50 + 50 + 20");
    // A second listing reads from memory.
    assert_eq!(list_all(&f.vfs, chan.ino).await, listed);
    assert_eq!(f.resolver.pages.load(Ordering::SeqCst), 3);

    let dir = f.vfs.lookup(chan.ino, &os("s7")).await.unwrap();
    assert_eq!(dir.ino, listed[7].ino, "lookup and listing agree");
    let inside = f.vfs.readdir(dir.ino, 0).await.unwrap();
    assert_eq!(inside.len(), 1);
    assert_eq!(inside[0].name, "clip.mp4");
    let file = f.vfs.lookup(dir.ino, &os("clip.mp4")).await.unwrap();
    assert_eq!(file.size, f.data.len() as u64);
    let fh = f.vfs.open(file.ino).await.unwrap();
    let got = f.vfs.read(fh, 0, 1 << 20).await.unwrap();
    assert_eq!(got, f.data);
    f.vfs.release(fh);
    let xattr = |n: &str| String::from_utf8(f.vfs.getxattr(file.ino, &os(n)).unwrap()).unwrap();
    assert_eq!(xattr("user.lbry.url"), "lbry://@chan#a/s7#7");
    assert_eq!(xattr("user.lbry.claim_id"), format!("{:040x}", 7));
    assert_eq!(xattr("user.lbry.channel"), "lbry://@chan#a");
    assert_eq!(xattr("user.lbry.media_type"), "video/mp4");
    assert_eq!(xattr("user.lbry.sd_hash").len(), 96);
    let listed_attrs = f.vfs.listxattr(file.ino).unwrap();
    assert!(listed_attrs.windows(13).any(|w| w == b"user.lbry.url"));
}

#[tokio::test]
async fn a_name_nobody_claims_is_not_found_and_says_why() {
    let f = fixture(0, |_, _| {});
    let got = f.vfs.lookup(ROOT, &os("nothing")).await;
    assert_eq!(got, Err(FsError::NotFound));
    let errors = f.vfs.recent_errors();
    assert!(
        errors
            .iter()
            .any(|(_, e)| e.contains("Could not find claim at \"lbry://nothing\".")),
        "{errors:?}"
    );
    // A stream in a channel that does not list it is not found either.
    let chan = f.vfs.lookup(ROOT, &os("@chan")).await.unwrap();
    assert!(list_all(&f.vfs, chan.ino).await.is_empty());
    assert_eq!(
        f.vfs.lookup(chan.ino, &os("x")).await,
        Err(FsError::NotFound)
    );
}

#[tokio::test]
async fn no_resolver_answering_is_an_io_error_but_a_name_seen_before_still_opens() {
    let f = fixture(0, |_, _| {});
    let solo = f.vfs.lookup(ROOT, &os("solo")).await.unwrap();
    f.resolver.gone.store(true, Ordering::SeqCst);
    let again = f.vfs.lookup(ROOT, &os("solo")).await.unwrap();
    assert_eq!(again.ino, solo.ino);
    let other = f.vfs.lookup(ROOT, &os("other")).await;
    assert!(
        matches!(other, Err(FsError::Io(ref e)) if e.contains("no hub answered")),
        "{other:?}"
    );
    let listed = f.vfs.readdir(ROOT, 0).await.unwrap();
    assert!(
        listed.iter().any(|e| e.name == "solo"),
        "names reached are listed in the root"
    );
}

#[tokio::test]
async fn probe_names_and_sd_hashes_never_reach_the_resolver() {
    let f = fixture(0, |_, _| {});
    for probe in [".Trash", ".Trash-0", ".hidden", ".git"] {
        assert_eq!(f.vfs.lookup(ROOT, &os(probe)).await, Err(FsError::NotFound));
    }
    assert_eq!(f.resolver.calls.load(Ordering::SeqCst), 0);
}

/// The names `@chan` lists, in order.
async fn channel_names(vfs: &Vfs) -> Vec<String> {
    let chan = vfs.lookup(ROOT, &os("@chan")).await.unwrap();
    let all = list_all(vfs, chan.ino).await.into_iter();
    all.map(|e| e.name).collect()
}

#[tokio::test]
async fn two_claims_of_one_name_in_a_channel_are_both_listed() {
    let f = fixture(1, |r, sd| {
        r.channel.push(named("s0", sd, 77));
    });
    let names = channel_names(&f.vfs).await;
    assert_eq!(names, vec!["s0".to_string(), format!("s0#{:040x}", 77)]);
}

/// A torrent-like source: names of 40 hex digits, each a one-file tree.
struct HexTrees;

struct OneFile(Vec<(String, u64)>);

impl TreeContent for OneFile {
    fn files(&self) -> &[(String, u64)] {
        &self.0
    }
    fn read(&self, _: usize, _: u64, len: usize) -> BoxFuture<'_, Result<Bytes, String>> {
        Box::pin(async move { Ok(Bytes::from(vec![7u8; len.min(5)])) })
    }
    fn prefetch(&self, _: usize, _: std::ops::Range<u64>) {}
}

impl TreeSource for HexTrees {
    fn key_of(&self, name: &str) -> Option<String> {
        (name.len() == 40 && name.bytes().all(|b| b.is_ascii_hexdigit())).then(|| name.into())
    }
    fn open(&self, _key: &str) -> BoxFuture<'_, Result<Arc<dyn TreeContent>, String>> {
        Box::pin(async { Ok(Arc::new(OneFile(vec![("t.iso".into(), 5)])) as Arc<dyn TreeContent>) })
    }
}

fn torrent_claim(name: &str) -> Named {
    let mut n = named(name, "ab".repeat(48).parse().unwrap(), 5);
    n.source = super::names::Source::Torrent([0xcd; 20]);
    n
}

/// The fixture with a torrent claim `tor`, by name and in `@chan`.
fn torrent_fixture() -> Fixture {
    fixture(1, |r, _| {
        let tor = torrent_claim("tor");
        r.urls.insert("tor".into(), Resolution::Stream(tor.clone()));
        r.channel.push(tor);
    })
}

#[tokio::test]
async fn a_torrent_claim_is_a_symlink_to_the_torrents_directory() {
    let f = torrent_fixture();
    let vfs = f.vfs.with_tree_source(Arc::new(HexTrees));
    let hex = "cd".repeat(20);
    let top = vfs.lookup(ROOT, &os("tor")).await.unwrap();
    assert_eq!(top.kind, Kind::Symlink);
    assert_eq!(top.size, 40);
    assert_eq!(vfs.readlink(top.ino).unwrap(), hex);
    assert_eq!(vfs.readdir(top.ino, 0).await, Err(FsError::NotDir));
    assert_eq!(
        vfs.lookup(top.ino, &os("t.iso")).await,
        Err(FsError::NotDir)
    );
    // Where it points opens as the torrent's own directory.
    let dir = vfs.lookup(ROOT, &os(&hex)).await.unwrap();
    assert_eq!(dir.kind, Kind::Dir);
    assert!(vfs.lookup(dir.ino, &os("t.iso")).await.is_ok());

    let chan = vfs.lookup(ROOT, &os("@chan")).await.unwrap();
    let listed = list_all(&vfs, chan.ino).await;
    let kinds: Vec<_> = listed.iter().map(|e| (e.name.as_str(), e.kind)).collect();
    assert_eq!(kinds, [("s0", Kind::Dir), ("tor", Kind::Symlink)]);
    let inner = vfs.lookup(chan.ino, &os("tor")).await.unwrap();
    assert_eq!(vfs.readlink(inner.ino).unwrap(), format!("../{hex}"));
    assert_eq!(vfs.readlink(chan.ino), Err(FsError::NotLink));
    assert_eq!(vfs.readlink(ROOT), Err(FsError::NotLink));
}

#[tokio::test]
async fn without_torrents_a_torrent_claim_is_not_found_and_not_listed() {
    let f = torrent_fixture();
    assert_eq!(f.vfs.lookup(ROOT, &os("tor")).await, Err(FsError::NotFound));
    let why = f.vfs.recent_errors().pop().unwrap().1;
    assert!(
        why.contains(&"cd".repeat(20)) && why.contains("--no-bt"),
        "{why}"
    );
    let names = channel_names(&f.vfs).await;
    assert_eq!(names, ["s0"]);
}
