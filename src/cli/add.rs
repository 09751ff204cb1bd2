//! `lbrymount add MAGNET|btih:HASH|FILE.torrent`: registers a torrent with
//! the mount running on the data dir and prints its path there.
//!
//! The node does the work (`node::torrent_add`): it reads a `.torrent`
//! file itself (so the path is made absolute here), keeps its metadata,
//! asks the link's `x.pe` and the `--peer`s, and opens the torrent. With no
//! node running, a `.torrent` file's metadata is kept in the data dir for
//! the next mount; a link needs a running mount to find its metadata.

use super::held::{node_or_store, Holder};
use crate::config::Config;
use crate::control::{ContentRequest, Reply};
use crate::node::torrent_add::{is_link, keep_offline};
use anyhow::{bail, Context};

pub fn run(cfg: &Config, source: &str, peers: Vec<String>) -> anyhow::Result<()> {
    let source = if is_link(source) {
        crate::torrent::magnet::parse(source)?;
        source.to_owned()
    } else {
        let path = std::fs::canonicalize(source)
            .with_context(|| format!("{source} is neither a magnet link nor a readable file"))?;
        path.to_string_lossy().into_owned()
    };
    match node_or_store(cfg)? {
        Holder::Node(node) => {
            let ask = ContentRequest::AddTorrent { source, peers };
            match super::content::ask(node, ask)? {
                Reply::Done { message } => println!("{message}"),
                other => bail!("unexpected reply from the node: {other:?}"),
            }
        }
        Holder::Nobody(_) if is_link(&source) => bail!(
            "no lbrymount mount is running on data dir {}: a link's metadata comes from \
             peers, so start the mount first (a .torrent file can be added without one)",
            cfg.data_dir.display()
        ),
        Holder::Nobody(_store) => {
            let (hash, name) = keep_offline(&cfg.data_dir, std::path::Path::new(&source))
                .map_err(anyhow::Error::msg)?;
            println!("kept {hash} ({name}): the next mount lists it as {hash}/");
        }
    }
    Ok(())
}
