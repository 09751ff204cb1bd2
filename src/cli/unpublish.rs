//! `unpublish` without a running node: the share folder's lists in the data
//! dir are read and changed here (the node does the same through its share
//! folder when it runs). A file is named by its path; the stream it was
//! published as is found in the share manifest, and every file shared as
//! that stream is listed as unpublished (`share::excluded`), so the next
//! node does not publish it again while it is unchanged.

use crate::config::Config;
use crate::hash::SdHash;
use crate::share::excluded::{self, Exclusion};
use crate::share::manifest;
use anyhow::Context;
use std::path::{Path, PathBuf};

fn manifest_path(cfg: &Config) -> PathBuf {
    cfg.data_dir.join("share.json")
}

/// The stream a share-folder file was published as.
pub fn shared_file(cfg: &Config, file: &Path) -> anyhow::Result<SdHash> {
    let file =
        std::fs::canonicalize(file).with_context(|| format!("cannot find {}", file.display()))?;
    let m = manifest::load(&manifest_path(cfg))?;
    for folder in &m.folders {
        let Some(rel) = folder
            .dir
            .as_deref()
            .and_then(|d| file.strip_prefix(d).ok())
        else {
            continue;
        };
        if let Some(r) = folder.records.iter().find(|r| r.path == rel) {
            return Ok(r.sd);
        }
    }
    anyhow::bail!(
        "{} is not a published file of a share folder of data dir {}",
        file.display(),
        cfg.data_dir.display()
    )
}

/// Lists every share-folder file published as `sd` as unpublished.
pub fn exclude_offline(cfg: &Config, sd: &SdHash) -> anyhow::Result<()> {
    let path = manifest_path(cfg);
    let m = match manifest::load(&path) {
        Ok(m) => m,
        // An unusable manifest shares nothing to exclude; the node reports it.
        Err(e) if e.is_corrupt() => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let mut list = Vec::new();
    for folder in &m.folders {
        let Some(dir) = folder.dir.as_deref() else {
            continue;
        };
        for r in folder.records.iter().filter(|r| r.sd == *sd) {
            list.push(Exclusion::new(dir, &r.path, &r.stamp, sd));
        }
    }
    if list.is_empty() {
        return Ok(());
    }
    let at = excluded::beside(&path);
    excluded::add(&at, list).with_context(|| format!("cannot write {}", at.display()))
}
