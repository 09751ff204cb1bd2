//! The kernel's read-ahead for our mount.
//!
//! Linux starts every FUSE mount with a read-ahead of 128 KiB, whatever the
//! filesystem asks for in `max_readahead` (the kernel takes the smaller of
//! the two). Reads then reach us in 128 KiB pieces with few in flight, and
//! a sequential reader spends its time in round trips rather than in
//! fetching. The limit lives in sysfs, in the mount's backing-device entry
//! `/sys/class/bdi/MAJOR:MINOR/read_ahead_kb`, writable by root only: as
//! root we raise it to the 1 MiB we ask for; otherwise the kernel default
//! stays and reads still work, only in smaller pieces.

use std::path::Path;

/// The `MAJOR:MINOR` device of the filesystem mounted exactly at `mp`, from
/// the text of `/proc/self/mountinfo`. The last mount on `mp` wins (it hides
/// the earlier ones).
pub fn device_of(mountinfo: &str, mp: &Path) -> Option<String> {
    super::mountpoint::parse_mountinfo(mountinfo)
        .into_iter()
        .rev()
        .find(|e| e.mount_point == mp)
        .map(|e| e.dev)
}

/// Sets the read-ahead of the mount at `mp` to `kib` KiB, if allowed. Returns
/// the value in force afterwards, or why it could not be read. Blocks until
/// the filesystem has answered the kernel's INIT request: the kernel sets
/// the read-ahead again from that answer (to at most what it offered, the
/// 128 KiB default), so a value written earlier would be lost.
pub fn raise_read_ahead(mp: &Path, kib: u32) -> Result<u32, String> {
    // Every request waits for INIT to be answered, so once a statfs of the
    // mount returns the kernel has set its value. (Not a stat: that would
    // leave the root's attributes in the kernel's cache, where a `stat` right
    // after a crash finds them instead of ENOTCONN.)
    statfs(mp).map_err(|e| format!("cannot statfs {}: {e}", mp.display()))?;
    let info = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
    let dev = device_of(&info, mp).ok_or_else(|| format!("{} is not mounted", mp.display()))?;
    let file = Path::new("/sys/class/bdi").join(&dev).join("read_ahead_kb");
    let current = || -> Result<u32, String> {
        let s = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        s.trim()
            .parse()
            .map_err(|_| format!("{}: unexpected {s:?}", file.display()))
    };
    if current()? < kib {
        if let Err(e) = std::fs::write(&file, kib.to_string()) {
            tracing::debug!("cannot raise {}: {e}", file.display());
        }
    }
    current()
}

/// `statfs(2)` of `path`, for its side effect of one round trip to the filesystem.
fn statfs(path: &Path) -> std::io::Result<()> {
    let mut buf = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: the path is NUL-terminated and `buf` has room for one statfs;
    // the result is not read.
    super::mountpoint::path_call(path, |c| unsafe { libc::statfs(c, buf.as_mut_ptr()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
36 22 0:45 / /root/net rw,nosuid,nodev,noatime shared:20 - fuse.lbrymount lbrymount ro,user_id=0
37 22 0:46 / /tmp/my\\040net rw shared:21 - fuse.lbrymount lbrymount ro
38 36 0:47 / /root/net rw shared:22 - fuse.lbrymount lbrymount ro
";

    #[test]
    fn finds_the_device_of_a_mount_point() {
        assert_eq!(device_of(INFO, Path::new("/")).as_deref(), Some("254:0"));
        assert_eq!(
            device_of(INFO, Path::new("/tmp/my net")).as_deref(),
            Some("0:46")
        );
        assert_eq!(device_of(INFO, Path::new("/tmp")), None);
        assert_eq!(device_of("", Path::new("/")), None);
        assert_eq!(device_of("garbage\n1 2\n", Path::new("/")), None);
    }

    #[test]
    fn the_last_mount_on_a_point_wins() {
        assert_eq!(
            device_of(INFO, Path::new("/root/net")).as_deref(),
            Some("0:47")
        );
    }
}
