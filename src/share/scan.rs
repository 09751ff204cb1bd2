//! Looking at the share folder: a full walk that stats every file.
//!
//! Blocking file-system calls; the driver runs them on a blocking thread.
//! Only regular files are shared. Symbolic links are ignored, not followed:
//! following them could publish files from outside the folder, loop, and
//! change behind the watcher's back (inotify sees the link, not its target).
//! Hidden and temporary names (see [`is_ignored_name`]) are skipped, folders
//! included, so a download tool's `.part` files or an editor's `.swp` never
//! go out. A folder that cannot be listed is reported, so the state machine
//! keeps what it knew about it instead of taking its files for deleted.

use super::state::{Digest, FileStamp, Scan};
use std::ffi::OsStr;
use std::fs::Metadata;
use std::io;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Component;
use std::path::{Path, PathBuf};

/// Walks `root` and stats every shareable file in it.
pub fn scan(root: &Path) -> Scan {
    let mut out = Scan::default();
    let mut folders = vec![PathBuf::new()];
    while let Some(rel) = folders.pop() {
        if let Err(e) = list(root, &rel, &mut out, &mut folders) {
            tracing::debug!(folder = %rel.display(), error = %e, "cannot list a share folder");
            out.unreadable.push(rel);
        }
    }
    out
}

/// Lists one folder: files into `out`, subfolders onto `folders`.
fn list(root: &Path, rel: &Path, out: &mut Scan, folders: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in std::fs::read_dir(root.join(rel))? {
        let entry = entry?;
        let name = entry.file_name();
        if is_ignored_name(&name) {
            continue;
        }
        let path = rel.join(&name);
        // `DirEntry::metadata` does not follow symbolic links.
        let meta = match entry.metadata() {
            Ok(m) => m,
            // Removed since it was listed: it is simply not there.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                tracing::debug!(file = %path.display(), error = %e, "cannot stat a shared file");
                out.unreadable.push(path);
                continue;
            }
        };
        if meta.is_dir() {
            folders.push(path);
        } else if meta.is_file() {
            out.files.insert(path, stamp(&meta));
        }
    }
    Ok(())
}

/// The stamp of the regular file at `path`; `None` if it is gone or is not a
/// regular file (a symbolic link counts as not one).
pub fn stat_file(path: &Path) -> Option<FileStamp> {
    std::fs::symlink_metadata(path)
        .ok()
        .filter(Metadata::is_file)
        .map(|m| stamp(&m))
}

/// The SHA-384 of the content of the file at `path` (blocking; reads it whole).
pub fn digest_file(path: &Path) -> io::Result<Digest> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = crate::sha384::Sha384::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buf) {
            Ok(0) => return Ok(hasher.finalize()),
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn stamp(meta: &Metadata) -> FileStamp {
    FileStamp {
        size: meta.size(),
        mtime_s: meta.mtime(),
        // Always in 0..1e9 per POSIX.
        mtime_ns: u32::try_from(meta.mtime_nsec()).unwrap_or(0),
        ino: meta.ino(),
    }
}

/// Whether a file or folder name is hidden or temporary, hence not shared:
/// it starts with `.`, or ends with `.part` or `~`.
pub fn is_ignored_name(name: &OsStr) -> bool {
    let b = name.as_bytes();
    b.starts_with(b".") || b.ends_with(b".part") || b.ends_with(b"~")
}

/// Whether a relative path is not shared: it has an ignored component, or is
/// not a plain relative path (`..`, absolute, empty).
pub fn is_ignored_path(rel: &Path) -> bool {
    let mut any = false;
    for c in rel.components() {
        match c {
            Component::Normal(name) if !is_ignored_name(name) => any = true,
            _ => return true,
        }
    }
    !any
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn finds_regular_files_in_subfolders_and_skips_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("sub/deeper")).unwrap();
        fs::create_dir_all(root.join(".git")).unwrap();
        fs::create_dir_all(root.join("dl.part")).unwrap();
        for f in [
            "top.txt",
            "sub/a.bin",
            "sub/deeper/b.bin",
            ".hidden",
            "movie.mkv.part",
            "notes~",
            ".git/config",
            "dl.part/inner",
        ] {
            fs::write(root.join(f), f).unwrap();
        }
        std::os::unix::fs::symlink(root.join("top.txt"), root.join("link.txt")).unwrap();
        std::os::unix::fs::symlink(root.join("sub"), root.join("linkdir")).unwrap();

        let s = scan(root);
        let names: Vec<_> = s
            .files
            .keys()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["sub/a.bin", "sub/deeper/b.bin", "top.txt"]);
        assert!(s.unreadable.is_empty());
        let top = s.files[Path::new("top.txt")];
        assert_eq!(top.size, 7);
        assert_eq!(Some(top), stat_file(&root.join("top.txt")));
    }

    #[test]
    fn a_missing_root_is_unreadable_not_empty() {
        let dir = tempfile::tempdir().unwrap();
        let s = scan(&dir.path().join("nope"));
        assert!(s.files.is_empty());
        assert_eq!(s.unreadable, vec![PathBuf::new()]);
    }

    #[test]
    fn stat_file_sees_changes_and_refuses_non_files() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        fs::write(&f, b"one").unwrap();
        let before = stat_file(&f).unwrap();
        fs::write(&f, b"one two").unwrap();
        assert_ne!(stat_file(&f), Some(before));
        assert_eq!(stat_file(dir.path()), None);
        assert_eq!(stat_file(&dir.path().join("gone")), None);
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        assert_eq!(stat_file(&link), None);
    }

    #[test]
    fn digest_file_is_the_sha384_of_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        let data = vec![7u8; (1 << 20) + 3];
        fs::write(&f, &data).unwrap();
        assert_eq!(
            digest_file(&f).unwrap(),
            crate::sha384::Sha384::digest(&data)
        );
        assert!(digest_file(&dir.path().join("gone")).is_err());
    }
}
