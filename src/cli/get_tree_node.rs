//! `get COLLECTION -o DIR` on a data dir a running node holds.
//!
//! The node holds the store, so this side cannot fetch: it asks the node
//! over the control socket, as `get_node` does for one stream, first for
//! the collection's document, then for each file's stream (a few at once,
//! one connection each). The tree is written with `get_tree`'s rules: the
//! document is checked before anything is written, files go inside DIR
//! only and never through a symlink, each appears whole once its size and
//! SHA-384 match, and a file already complete is skipped, so running the
//! command again resumes. A file that fails does not stop the others.

use super::get::GetRequest;
use super::get_node::{next_final, unexpected};
use super::get_tree::Tally;
use crate::collection::{self, Collection, Entry};
use crate::control::client::{self, Client};
use crate::control::{GetJob, Reply, Request};
use crate::output_tree::{Existing, TreeRoot};
use anyhow::{bail, Context};
use std::path::Path;

/// What every file's thread shares.
struct Ctx<'a> {
    data_dir: &'a Path,
    req: &'a GetRequest,
    root: TreeRoot,
    entries: &'a [Entry],
    tally: Tally,
}

/// Reads the collection document `node` is sending (its `Stream` reply,
/// named `name`, already read), then writes the tree.
pub fn run(mut node: Client, data_dir: &Path, req: &GetRequest, name: &str) -> anyhow::Result<()> {
    let sd = req.sd_hash;
    let doc = read_all(&mut node, collection::MAX_BYTES)
        .with_context(|| format!("cannot read collection {sd}"))?;
    let tree = Collection::parse(&doc).with_context(|| format!("collection {sd} is refused"))?;
    let root = TreeRoot::open(&super::get_tree::target_dir(req, name)?)?;
    let ctx = Ctx {
        data_dir,
        req,
        root,
        entries: tree.entries(),
        tally: Tally::default(),
    };
    std::thread::scope(|s| {
        for _ in 0..super::get_tree::PARALLEL.min(ctx.entries.len()) {
            s.spawn(|| worker(&ctx));
        }
    });
    let n = ctx.entries.len();
    ctx.tally.outcome(req, n, &ctx.root)
}

/// Takes entries until none is left.
fn worker(ctx: &Ctx) {
    while let Some(entry) = ctx.tally.take(ctx.entries) {
        ctx.tally.record(entry, one_file(ctx, entry));
    }
}

/// Writes one file through the node; `Ok(true)` if it was already there.
fn one_file(ctx: &Ctx, entry: &Entry) -> anyhow::Result<bool> {
    let (dir, name) = ctx.root.parent(&entry.path)?;
    if let (Existing::File { size, sha384 }, Some(want)) = (dir.existing(&name)?, entry.sha384) {
        if size == entry.size && sha384 == want {
            return Ok(true);
        }
    }
    let mut node =
        client::connect(ctx.data_dir)?.context("the node running on the data dir has stopped")?;
    node.send(&Request::Get(GetJob {
        sd_hash: entry.sd.to_string(),
        peers: ctx.req.peers.clone(),
        offline: ctx.req.offline,
        timeout_secs: Some(ctx.req.timeout_secs),
    }))?;
    match next_final(&mut node)? {
        Reply::Stream { .. } => {}
        other => return Err(unexpected(other)),
    }
    let mut out = dir.create(&name)?;
    loop {
        match next_final(&mut node)? {
            Reply::Data { len } => out.write(&node.read_data(len)?)?,
            Reply::Got { .. } => break,
            other => return Err(unexpected(other)),
        }
    }
    out.finish(entry.size, entry.sha384)?;
    Ok(false)
}

/// The rest of a stream the node is sending, at most `max` bytes.
fn read_all(node: &mut Client, max: usize) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    loop {
        match next_final(node)? {
            Reply::Data { len } => {
                if bytes.len() + len as usize > max {
                    bail!("larger than {max} bytes");
                }
                bytes.extend_from_slice(&node.read_data(len)?);
            }
            Reply::Got { .. } => return Ok(bytes),
            other => return Err(unexpected(other)),
        }
    }
}
