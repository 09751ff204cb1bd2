//! `lbrymount MOUNTPOINT`: run a full node and mount the network there.
//!
//! The mount stays in the foreground, logging to stderr. SIGINT or SIGTERM
//! unmounts (lazily if a file is still open, so nothing is left behind) and
//! exits 0. A mount left by a killed process ("transport endpoint is not
//! connected") is cleared at the next start.

use super::bdi;
use super::node_args::NodeArgs;
use crate::assemble::local_streams;
use crate::config::Config;
use crate::fuse::Fuse;
use crate::hash::SdHash;
use crate::node::{FetchSource, Hooks, MountView, Node};
use crate::sd::StreamDescriptor;
use crate::vfs::{Vfs, VfsConfig};
use anyhow::{bail, Context};
use fuser::MountOption;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
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
    let mp = prepare_mountpoint(mp)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("lbrymount-mount")
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(mount(cfg, args, &mp))
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
        MountOption::FSName("lbrymount".into()),
        MountOption::Subtype("lbrymount".into()),
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
    let root = mp.to_path_buf();
    let ra = tokio::task::spawn_blocking(move || {
        bdi::raise_read_ahead(&root, crate::fuse::MAX_IO / 1024)
    });
    match ra.await.map_err(|e| e.to_string()).and_then(|r| r) {
        Ok(kib) => tracing::debug!("kernel read-ahead on the mount: {kib} KiB"),
        Err(e) => tracing::debug!("kernel read-ahead on the mount unknown: {e}"),
    }
    tracing::info!(streams = vfs.streams().len(), "mounted at {}", mp.display());
    tokio::select! {
        _ = super::serve::shutdown_signal() => {}
        _ = session_ended(&session) => tracing::warn!("the mount was unmounted from outside"),
    }
    // Dropping the session unmounts; a mount still busy with open files
    // is then detached, so nothing is left behind either way.
    drop(session);
    ensure_unmounted(mp);
    let s = node.shutdown().await;
    tracing::info!(
        blobs = s.blobs_served,
        bytes = s.bytes_served,
        "unmounted, node stopped"
    );
    Ok(())
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

/// Checks the mountpoint, clearing a stale mount left by a killed process.
fn prepare_mountpoint(mp: &Path) -> anyhow::Result<PathBuf> {
    match std::fs::metadata(mp) {
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => {
            tracing::warn!(
                "{} is a stale mount left by a process that died; clearing it",
                mp.display()
            );
            detach(mp)
                .with_context(|| format!("cannot clear the stale mount at {}", mp.display()))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("mountpoint {} does not exist", mp.display())
        }
        Err(e) => return Err(e).with_context(|| format!("cannot use mountpoint {}", mp.display())),
        Ok(m) if !m.is_dir() => bail!("mountpoint {} is not a directory", mp.display()),
        Ok(_) => {}
    }
    std::fs::canonicalize(mp).with_context(|| format!("cannot use mountpoint {}", mp.display()))
}

/// Detaches the mount if it is still there (files were open at unmount).
fn ensure_unmounted(mp: &Path) {
    match detach(mp) {
        Ok(()) => tracing::warn!(
            "files were still open under {}; the mount was detached",
            mp.display()
        ),
        // EINVAL: not a mount point any more, as it should be.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
        Err(e) => tracing::error!("cannot unmount {}: {e}", mp.display()),
    }
}

/// A lazy unmount: as root directly, otherwise through `fusermount3 -uz`.
fn detach(mp: &Path) -> std::io::Result<()> {
    match umount2(mp, libc::MNT_DETACH) {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => fusermount_detach(mp),
        other => other,
    }
}

fn fusermount_detach(mp: &Path) -> std::io::Result<()> {
    for bin in ["fusermount3", "fusermount"] {
        match std::process::Command::new(bin).arg("-uz").arg(mp).status() {
            Ok(s) if s.success() => return Ok(()),
            Ok(s) => return Err(std::io::Error::other(format!("{bin} -uz failed: {s}"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other(
        "unmounting needs root or fusermount3 (package fuse3)",
    ))
}

fn umount2(mp: &Path, flags: i32) -> std::io::Result<()> {
    let c = CString::new(mp.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
    let r = unsafe { libc::umount2(c.as_ptr(), flags) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
