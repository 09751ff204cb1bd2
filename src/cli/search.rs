//! `lbrymount search TEXT`: stream names from every source, one row a line,
//! saying where each came from (`local`, `peers N`, `hub URL`).
//!
//! With a node running on the data dir, the node searches (its store, its
//! DHT node's peers, its hubs); otherwise this command opens the store,
//! joins the DHT with a short-lived node (unless `--no-bootstrap`) and asks
//! the hubs itself. `--channel` lists a channel through the hubs only
//! (`names::search`).

use super::held::{node_or_store, Holder};
use crate::config::Config;
use crate::control::{Reply, Request, SearchJob};
use crate::hub::HubConfig;
use crate::node::search::{search, Sources};
use crate::node::Bootstrap;
use crate::search::{NameIndex, SearchRow};
use anyhow::Context;
use std::sync::Arc;

/// What the command line asks.
pub struct SearchArgs {
    pub text: String,
    pub limit: u32,
    pub json: bool,
    pub bootstrap: Vec<String>,
    pub no_bootstrap: bool,
}

pub fn run(cfg: &Config, hub: Option<HubConfig>, args: SearchArgs) -> anyhow::Result<()> {
    let job = SearchJob {
        text: args.text.clone(),
        limit: args.limit,
        hub: hub.is_some(),
        peers: true,
    };
    let rows = match node_or_store(cfg)? {
        Holder::Node(mut node) => match node.request(&Request::Search(job), |_| {})? {
            Reply::Found { rows } => rows,
            Reply::Error { message } => anyhow::bail!("{message}"),
            other => anyhow::bail!("unexpected reply from the node: {other:?}"),
        },
        Holder::Nobody(store) => {
            let bootstrap = match (&args.bootstrap[..], args.no_bootstrap) {
                (_, true) => Bootstrap::None,
                ([], false) => Bootstrap::Default,
                (specs, false) => Bootstrap::Nodes(specs.to_vec()),
            };
            one_shot(*store, hub, bootstrap, &job)?
        }
    };
    print(&rows, args.json);
    Ok(())
}

/// The search with no node running: this store, a short-lived DHT node, the hubs.
fn one_shot(
    store: crate::store::DiskStore,
    hub: Option<HubConfig>,
    bootstrap: Bootstrap,
    job: &SearchJob,
) -> anyhow::Result<Vec<SearchRow>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async {
        let dht = match bootstrap {
            Bootstrap::None => None,
            chosen => {
                let seeds = crate::node::bootstrap_addrs(&chosen).await?;
                Some(crate::node::oneshot::dht_node(&seeds, true).await?)
            }
        };
        let sources = Sources {
            index: Some(Arc::new(NameIndex::new(Arc::new(store)))),
            dht: dht.clone(),
            own: None,
            hub: hub.map(|h| Arc::new(crate::hub::Resolver::new(h))),
        };
        let rows = search(&sources, job).await.map_err(anyhow::Error::msg);
        if let Some(node) = dht {
            node.shutdown();
        }
        rows
    })
}

fn print(rows: &[SearchRow], json: bool) {
    for r in rows {
        if json {
            println!("{}", serde_json::to_string(r).unwrap_or_default());
        } else {
            println!("{}", r.line());
        }
    }
}
