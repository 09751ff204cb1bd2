//! The mount: a running node with the network as a read-only filesystem on
//! top. This is where the filesystem is wired: the `Vfs` over the node's
//! store, its blobs from the node's fetcher (`FetchSource`), its events to
//! the node's peers and announcer (`Hooks`), the node's publishes shown in
//! it (`VfsView`), the FUSE adapter and session, and the teardown.
//!
//! The mount stays in the foreground (`--daemon` starts the whole process
//! again in the background: `cli::daemon`); `OnReady` is told once the
//! mount answers. SIGINT, SIGTERM, SIGHUP or a `stop` request through the
//! control socket (`lbrymount unmount`, `stop`) unmounts (lazily if a file
//! is still open, so nothing is left behind) and returns `Ok`; a mount
//! removed from outside is an error, so a service manager restarts the
//! node, except for an fstab mount, whose way to stop is `umount`. What may be mounted on and unmounted is
//! `mountpoint`'s business; the kernel's read-ahead, `bdi`'s.

mod bdi;
mod mountpoint;
mod stop;
mod view;

use super::names::HubNames;
use super::torrents::BtSource;
use super::{FetchSource, Hooks, Node, NodeConfig, STOP_GRACE};
use crate::assemble::local_streams;
use crate::fuse::{Fuse, KernelNotifier};
use crate::vfs::{Vfs, VfsConfig};
use anyhow::{bail, Context};
use fuser::MountOption;
use mountpoint::{OurMount, Unmounted};
use std::mem::ManuallyDrop;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
pub use stop::{stop_mount, Stopped};
use view::VfsView;

/// A node and where and how to mount it.
#[derive(Debug, Clone)]
pub struct MountConfig {
    /// The node under the mount. Its fetch deadline is set from
    /// `read_timeout` (see [`fetch_deadline`]).
    pub node: NodeConfig,
    /// An existing directory.
    pub mountpoint: PathBuf,
    /// A read that cannot be served within this fails (EIO).
    pub read_timeout: Duration,
    /// Let other users read the mount.
    pub allow_other: bool,
    /// Called once the mount answers (a daemon's parent, systemd).
    pub on_ready: Option<OnReady>,
    /// An unmount from outside (`umount`, as for an fstab mount) is a
    /// clean stop, not a failure.
    pub umount_stops: bool,
    /// Torrents in the mount (`~/net/<infohash>/`); `None`: no BitTorrent.
    pub bt: Option<super::torrents::BtConfig>,
}

/// What to do once the mount answers.
#[derive(Clone)]
pub struct OnReady(pub Arc<dyn Fn() + Send + Sync>);

impl std::fmt::Debug for OnReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnReady")
    }
}

/// A fetch gives up a little before the read does, so the read fails with
/// the fetcher's reasons (which peers were tried and why) rather than a bare timeout.
pub fn fetch_deadline(read_timeout: Duration) -> Duration {
    read_timeout.saturating_sub(read_timeout / 10)
}

/// Blob buffers made ready before the mount answers (`blob::pool::prewarm`).
const PREWARM_BUFFERS: usize = 4;

/// Mounts the network and runs the node until a signal or an unmount from
/// outside, on a runtime of its own.
pub fn mount(mut cfg: MountConfig) -> anyhow::Result<()> {
    let mp = mountpoint::prepare(&cfg.mountpoint)?;
    cfg.node.fetch_deadline = fetch_deadline(cfg.read_timeout);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("lbrymount-mount")
        .build()
        .context("cannot start the async runtime")?;
    let result = rt.block_on(run(cfg, &mp));
    // Blocking work still running (a cancelled publish, a read) gets a moment, not more.
    rt.shutdown_timeout(STOP_GRACE);
    result
}

async fn run(cfg: MountConfig, mp: &Path) -> anyhow::Result<()> {
    // The first read's receive buffer and plaintext, faulted in now.
    crate::blob::pool::prewarm(PREWARM_BUFFERS, crate::blob::MAX_BLOB_SIZE);
    let mut node = Node::start(cfg.node).await?;
    let (vfs, torrents) = filesystem(&node, cfg.read_timeout, cfg.bt.clone()).await?;
    node.publisher.attach(Arc::new(VfsView {
        vfs: vfs.clone(),
        mountpoint: mp.to_path_buf(),
        torrents,
    }));
    node.start_share()?;
    let session = start_session(&vfs, mp, cfg.allow_other)?;
    let ours = OurMount::record(mp);
    raise_read_ahead(mp).await;
    if let Err(e) = answers(mp).await {
        // Not left behind: a mount nobody serves would hang whoever looks.
        let _ = finish(ours, false).await;
        node.shutdown().await;
        return Err(e);
    }
    tracing::info!(streams = vfs.streams().len(), "mounted at {}", mp.display());
    if let Some(ready) = &cfg.on_ready {
        (ready.0)();
    }
    let removed_from_outside = tokio::select! {
        _ = node.stop_asked() => false,
        _ = session_ended(&session) => true,
    };
    let result = match finish(ours, removed_from_outside).await {
        Err(e) if cfg.umount_stops && removed_from_outside => {
            tracing::info!("{e:#}: stopping");
            Ok(())
        }
        r => r,
    };
    let s = node.shutdown().await;
    tracing::info!(
        blobs = s.blobs_served,
        bytes = s.bytes_served,
        "unmounted, node stopped"
    );
    result
}

/// The filesystem over the node's parts, listing the streams the store
/// holds, and its torrents' source if torrents are on.
async fn filesystem(
    node: &Node,
    read_timeout: Duration,
    bt: Option<super::torrents::BtConfig>,
) -> anyhow::Result<(Arc<Vfs>, Option<Arc<BtSource>>)> {
    let hooks = Arc::new(Hooks {
        peers: node.peers.clone(),
        announcer: node.announcer.clone(),
    });
    let vfs_cfg = VfsConfig {
        read_timeout,
        stop: node.stop_token(),
        control_socket: std::path::absolute(crate::control::socket_path(node.store.data_dir()))
            .ok(),
        ..VfsConfig::default()
    };
    let source = Arc::new(FetchSource(node.fetcher.clone()));
    let mut vfs = Vfs::new(vfs_cfg, node.store.clone(), source, hooks);
    if let Some(names) = &node.names {
        vfs = vfs.with_names(Arc::new(HubNames(names.clone())));
    }
    let search = crate::node::search::MountSearch(node.control.search.clone());
    vfs = vfs.with_search(Arc::new(search));
    let mut torrents = None;
    if let Some(cfg) = bt {
        let listen = cfg.listen;
        let bt = BtSource::new(cfg, node.store.clone(), read_timeout, node.stop_token());
        if let Some(addr) = listen {
            bt.listen(addr)
                .await
                .with_context(|| format!("cannot listen for BitTorrent peers on {addr}"))?;
        }
        let dht = bt.start_announcing().await;
        if let Some(addr) = dht.map_err(anyhow::Error::msg)? {
            tracing::info!("mainline DHT node listening on {addr}");
        }
        let bt = Arc::new(bt);
        vfs = vfs.with_tree_source(bt.clone());
        torrents = Some(bt);
    }
    let vfs = Arc::new(vfs);
    if torrents.is_some() {
        let data_dir = node.store.data_dir().to_path_buf();
        super::torrents::reopen_kept(vfs.clone(), data_dir, node.stop_token());
    }
    let store = node.store.clone();
    let known = tokio::task::spawn_blocking(move || local_streams(&*store)).await?;
    for (_, desc) in known {
        vfs.add_stream(desc);
    }
    Ok((vfs, torrents))
}

/// Mounts `vfs` at `mp` through FUSE; the kernel's name cache is then told
/// of streams that leave the mount.
fn start_session(
    vfs: &Arc<Vfs>,
    mp: &Path,
    allow_other: bool,
) -> anyhow::Result<ManuallyDrop<fuser::BackgroundSession>> {
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
    if allow_other {
        options.push(MountOption::AllowOther);
    }
    let session = fuser::spawn_mount2(fs, mp, &options)
        .with_context(|| format!("cannot mount on {}", mp.display()))?;
    // Dropping fuser's session would unmount by path whatever is there by
    // then (a filesystem mounted over ours, or the one under it once ours is
    // gone), so it is never dropped: `OurMount` unmounts exactly our mount,
    // and the session ends with the process.
    let session = ManuallyDrop::new(session);
    vfs.set_kernel_cache(Arc::new(KernelNotifier::new(session.notifier())));
    Ok(session)
}

/// Raises the kernel's read-ahead on the mount where allowed (root).
async fn raise_read_ahead(mp: &Path) {
    let root = mp.to_path_buf();
    let ra = tokio::task::spawn_blocking(move || {
        bdi::raise_read_ahead(&root, crate::fuse::MAX_IO / 1024)
    });
    match ra.await.map_err(|e| e.to_string()).and_then(|r| r) {
        Ok(kib) => tracing::debug!("kernel read-ahead on the mount: {kib} KiB"),
        Err(e) => tracing::debug!("kernel read-ahead on the mount unknown: {e}"),
    }
}

/// Waits until the mount answers a `statfs` (the kernel's FUSE handshake
/// is done), so "ready" is never said of a mount that is not. Not a `stat`:
/// the kernel would keep the root's attributes, and answer them from its
/// cache for a moment after the node died instead of ENOTCONN.
async fn answers(mp: &Path) -> anyhow::Result<()> {
    let root = mp.to_path_buf();
    let statfs = tokio::task::spawn_blocking(move || {
        // SAFETY: statfs(2) writes into the zeroed struct we pass.
        let mut buf: libc::statfs = unsafe { std::mem::zeroed() };
        mountpoint::path_call(&root, |p| unsafe { libc::statfs(p, &mut buf) })
    });
    match tokio::time::timeout(Duration::from_secs(30), statfs).await {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(e))) => {
            Err(e).with_context(|| format!("the new mount at {} does not answer", mp.display()))
        }
        Ok(Err(e)) => Err(e.into()),
        Err(_) => bail!(
            "the new mount at {} did not answer within 30 s",
            mp.display()
        ),
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
