//! `lbrymount MOUNTPOINT`: run a full node and mount the network there.
//!
//! The mount stays in the foreground, logging to stderr. SIGINT, SIGTERM or
//! SIGHUP unmounts (lazily if a file is still open, so nothing is left
//! behind) and exits 0; a mount removed from outside ends the node with
//! exit 1. What may be mounted on and unmounted is `mountpoint`'s business.

use super::bdi;
use super::mountpoint::{self, OurMount, Unmounted};
use super::node_args::NodeArgs;
use crate::assemble::local_streams;
use crate::config::Config;
use crate::fuse::{Fuse, KernelNotifier};
use crate::hash::SdHash;
use crate::node::{FetchSource, Hooks, MountView, Node};
use crate::sd::StreamDescriptor;
use crate::vfs::{Vfs, VfsConfig};
use anyhow::{bail, Context};
use fuser::MountOption;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, clap::Args)]
pub struct MountArgs {
    /// Where to mount the network (an existing directory)
    #[arg(value_name = "MOUNTPOINT")]
    pub mountpoint: Option<PathBuf>,
    #[command(flatten)]
    pub node: NodeArgs,
    /// A peer to fetch blobs from, besides those the DHT names (repeatable)
    #[arg(long = "peer", value_name = "HOST:PORT", value_parser = super::parse_host_port)]
    pub peers: Vec<String>,
    /// Fail a read (EIO) that cannot be served within this many seconds
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub read_timeout: u64,
    /// Let other users read the mount (root, or user_allow_other in /etc/fuse.conf)
    #[arg(long)]
    pub allow_other: bool,
}

pub fn run(cfg: &Config, args: &MountArgs) -> anyhow::Result<()> {
    let Some(mp) = &args.mountpoint else {
        bail!("no mountpoint given (try `lbrymount --help`)");
    };
    let mp = mountpoint::prepare(mp)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("lbrymount-mount")
        .build()
        .context("cannot start the async runtime")?;
    let result = rt.block_on(mount(cfg, args, &mp));
    // Blocking work still running (a cancelled publish, a read) gets a moment, not more.
    rt.shutdown_timeout(crate::node::STOP_GRACE);
    result
}

async fn mount(cfg: &Config, args: &MountArgs, mp: &Path) -> anyhow::Result<()> {
    let read_timeout = Duration::from_secs(args.read_timeout);
    // A fetch gives up a little before the read does, so the read fails with
    // the fetcher's reasons (which peers were tried and why) rather than a bare timeout.
    let fetch_deadline = read_timeout.saturating_sub(read_timeout / 10);
    let mut node = Node::start(
        cfg,
        args.node
            .options(&cfg.data_dir, args.peers.clone(), fetch_deadline),
    )
    .await?;
    let hooks = Arc::new(Hooks {
        peers: node.peers.clone(),
        announcer: node.announcer.clone(),
    });
    let vfs_cfg = VfsConfig {
        read_timeout,
        stop: node.stop_token(),
        ..VfsConfig::default()
    };
    let source = Arc::new(FetchSource(node.fetcher.clone()));
    let vfs = Arc::new(Vfs::new(vfs_cfg, node.store.clone(), source, hooks));
    let store = node.store.clone();
    let known = tokio::task::spawn_blocking(move || local_streams(&*store)).await?;
    for (_, desc) in known {
        vfs.add_stream(desc);
    }
    node.publisher.attach(Arc::new(VfsView {
        vfs: vfs.clone(),
        mountpoint: mp.to_path_buf(),
    }));
    node.start_share()?;
    let fs = Fuse::new(vfs.clone(), tokio::runtime::Handle::current());
    let mut options = vec![
        MountOption::RO,
        MountOption::FSName(mountpoint::FSNAME.into()),
        MountOption::Subtype(mountpoint::FSNAME.into()),
        MountOption::DefaultPermissions,
        MountOption::NoAtime,
        MountOption::NoDev,
        MountOption::NoSuid,
    ];
    if args.allow_other {
        options.push(MountOption::AllowOther);
    }
    let session = fuser::spawn_mount2(fs, mp, &options)
        .with_context(|| format!("cannot mount on {}", mp.display()))?;
    // Dropping fuser's session would unmount by path whatever is there by
    // then (a filesystem mounted over ours, or the one under it once ours is
    // gone), so it is never dropped: `OurMount` unmounts exactly our mount,
    // and the session ends with the process.
    let session = std::mem::ManuallyDrop::new(session);
    let ours = OurMount::record(mp);
    vfs.set_kernel_cache(Arc::new(KernelNotifier::new(session.notifier())));
    let root = mp.to_path_buf();
    let ra = tokio::task::spawn_blocking(move || {
        bdi::raise_read_ahead(&root, crate::fuse::MAX_IO / 1024)
    });
    match ra.await.map_err(|e| e.to_string()).and_then(|r| r) {
        Ok(kib) => tracing::debug!("kernel read-ahead on the mount: {kib} KiB"),
        Err(e) => tracing::debug!("kernel read-ahead on the mount unknown: {e}"),
    }
    tracing::info!(streams = vfs.streams().len(), "mounted at {}", mp.display());
    let removed_from_outside = tokio::select! {
        _ = super::serve::shutdown_signal() => false,
        _ = session_ended(&session) => true,
    };
    let result = finish(ours, removed_from_outside).await;
    let s = node.shutdown().await;
    tracing::info!(
        blobs = s.blobs_served,
        bytes = s.bytes_served,
        "unmounted, node stopped"
    );
    result
}

/// The mount as the node sees it: publishes appear in it, unpublished
/// streams leave it, and its read errors show in `status`.
struct VfsView {
    vfs: Arc<Vfs>,
    mountpoint: PathBuf,
}

impl MountView for VfsView {
    fn stream_added(&self, desc: &StreamDescriptor) {
        self.vfs.add_stream(desc.clone());
    }

    fn stream_removed(&self, sd: &SdHash) {
        self.vfs.remove_stream(sd);
    }

    fn recent_errors(&self) -> Vec<(std::time::SystemTime, String)> {
        self.vfs.recent_errors()
    }

    fn mountpoint(&self) -> PathBuf {
        self.mountpoint.clone()
    }
}

/// Resolves when the FUSE session thread ends (someone ran `umount`).
async fn session_ended(session: &fuser::BackgroundSession) {
    while !session.guard.is_finished() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Unmounts our mount, and says how the mount ended: `Ok` only for a clean
/// stop on a signal, so a service manager restarts a node whose mount was
/// removed from under it.
async fn finish(ours: OurMount, removed_from_outside: bool) -> anyhow::Result<()> {
    let mp = ours.path.clone();
    let outcome = tokio::task::spawn_blocking(move || ours.unmount()).await?;
    match outcome {
        Ok(Unmounted::AlreadyGone) => {
            bail!("the mount at {} was unmounted from outside", mp.display())
        }
        Ok(Unmounted::Covered) => bail!(
            "cannot unmount {}: another filesystem is mounted over or inside it; \
             lbrymount's mount stays under it until that one is unmounted",
            mp.display()
        ),
        Ok(_) if removed_from_outside => {
            bail!(
                "the FUSE session at {} ended by itself; unmounted",
                mp.display()
            )
        }
        Ok(Unmounted::Detached) => {
            tracing::warn!(
                "files were still open under {}; the mount was detached",
                mp.display()
            );
            Ok(())
        }
        Ok(Unmounted::Done) => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot unmount {}", mp.display())),
    }
}
