//! `lbrymount status`: what a running node is doing, asked over its control socket.

use crate::config::Config;
use crate::control::{client, Reply, Request, Status};
use crate::hash::SdHash;
use std::fmt::Write;

pub fn run(cfg: &Config, only: Option<SdHash>) -> anyhow::Result<()> {
    let Some(mut node) = client::connect(&cfg.data_dir)? else {
        anyhow::bail!(
            "no lbrymount node is running on data dir {} (start one with `lbrymount MOUNTPOINT` or `lbrymount serve`)",
            cfg.data_dir.display()
        );
    };
    match node.request(&Request::Status, |_| {})? {
        Reply::Status(s) => match only {
            None => {
                print!("{}", render(&s));
                Ok(())
            }
            Some(sd) => stream_status(cfg, &s, sd),
        },
        Reply::Error { message } => anyhow::bail!("the node refused: {message}"),
        other => anyhow::bail!("unexpected reply from the node: {other:?}"),
    }
}

/// One stream: its row (as `ls` prints it) and the recent errors that name it.
fn stream_status(cfg: &Config, s: &Status, sd: SdHash) -> anyhow::Result<()> {
    let key = sd.to_string();
    // One request per connection.
    let Some(mut node) = client::connect(&cfg.data_dir)? else {
        anyhow::bail!("the node stopped");
    };
    let rows = match node.request(&Request::Ls, |_| {})? {
        Reply::Ls { streams } => streams,
        other => anyhow::bail!("unexpected reply from the node: {other:?}"),
    };
    match rows.iter().find(|r| r.sd_hash == key) {
        Some(row) => println!("stream: {}", row.line()),
        None => println!("stream: {key} (not in the store)"),
    }
    let errors: Vec<_> = s
        .recent_errors
        .iter()
        .filter(|(_, e)| e.contains(&key))
        .collect();
    println!("recent read errors: {}", errors.len());
    for (at, why) in errors {
        println!("  {at}  {}", why.escape_debug());
    }
    Ok(())
}

/// `key: value` lines, one fact each, for people and for `grep`.
pub fn render(s: &Status) -> String {
    let mut o = String::new();
    let none = || "-".to_string();
    let path =
        |p: &Option<std::path::PathBuf>| p.as_ref().map_or_else(none, |p| p.display().to_string());
    let _ = writeln!(o, "pid: {}", s.pid);
    let _ = writeln!(o, "data dir: {}", s.data_dir.display());
    let _ = writeln!(o, "uptime: {} s", s.uptime_secs);
    let _ = writeln!(o, "mountpoint: {}", path(&s.mountpoint));
    let _ = writeln!(
        o,
        "share folder: {} ({} files shared)",
        path(&s.share_dir),
        s.shared_files
    );
    if let Some(why) = &s.share_paused {
        let _ = writeln!(o, "share folder paused: {why}");
    }
    for (dir, files) in &s.share_kept {
        let _ = writeln!(
            o,
            "share folder kept published, not watched: {} ({files} files)",
            dir.display()
        );
    }
    let _ = writeln!(o, "blob server: {}", s.listen);
    let _ = writeln!(o, "dht node: {}", s.dht_listen.clone().unwrap_or_else(none));
    let _ = writeln!(o, "dht contacts: {}", s.dht_contacts);
    let _ = writeln!(o, "dht announcements stored: {}", s.dht_stored);
    let _ = writeln!(o, "peers known: {}", s.peers_known);
    match &s.hub {
        None => {
            let _ = writeln!(o, "hub: none (--no-hub)");
        }
        Some(h) => {
            let in_use = h.in_use.clone().unwrap_or_else(|| "none connected".into());
            let _ = writeln!(o, "hub: {in_use}");
            if let Some(e) = &h.last_error {
                let _ = writeln!(o, "hub last error: {e}");
            }
            if let Some(s) = &h.stale {
                let _ = writeln!(o, "names answered offline: {s}");
            }
        }
    }
    render_trackers(&mut o, &s.trackers);
    render_sources(&mut o, &s.sources);
    let _ = writeln!(
        o,
        "served: {} blobs, {} bytes, {} connections",
        s.blobs_served, s.bytes_served, s.connections_served
    );
    let _ = writeln!(o, "cache: {} of {} bytes used", s.cache_used, s.cache_cap);
    let _ = writeln!(o, "published bytes (pinned): {}", s.pinned_bytes);
    let _ = writeln!(o, "streams published: {}", s.streams_published);
    let _ = writeln!(o, "streams cached: {}", s.streams_cached);
    let _ = writeln!(o, "recent read errors: {}", s.recent_errors.len());
    for (at, why) in &s.recent_errors {
        let _ = writeln!(o, "  {at}  {}", why.escape_debug());
    }
    o
}

/// One line per tracker: when it last answered, and its last failure.
fn render_trackers(o: &mut String, trackers: &[crate::tracker::TrackerStatus]) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let ago = |t: u64| format!("{} s ago", now.saturating_sub(t));
    for t in trackers {
        let ok = t.last_success.map_or_else(|| "never".to_owned(), ago);
        let _ = write!(o, "tracker {}: last success {ok}", t.tracker);
        if let Some((at, why)) = &t.last_error {
            let _ = write!(o, "; last error {}: {why}", ago(*at));
        }
        o.push('\n');
    }
}

/// One line per fixed peer and HTTP source, as for trackers.
fn render_sources(o: &mut String, sources: &[crate::node::source_status::SourceStatus]) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let ago = |t: u64| format!("{} s ago", now.saturating_sub(t));
    for s in sources {
        let ok = s.last_success.map_or_else(|| "never".to_owned(), ago);
        let _ = write!(o, "{}: last success {ok}", s.source);
        if let Some((at, why)) = &s.last_error {
            let _ = write!(o, "; last error {}: {}", ago(*at), why.escape_debug());
        }
        o.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paused_share_folder_and_kept_folders_are_shown() {
        let s = Status {
            share_dir: Some("/media/usb/share".into()),
            shared_files: 2,
            share_paused: Some("share folder /media/usb/share is missing".into()),
            share_kept: vec![("/home/me/old".into(), 3)],
            ..Status::default()
        };
        let out = render(&s);
        assert!(
            out.contains("share folder: /media/usb/share (2 files shared)\n"),
            "{out}"
        );
        assert!(
            out.contains("share folder paused: share folder /media/usb/share is missing\n"),
            "{out}"
        );
        assert!(
            out.contains("share folder kept published, not watched: /home/me/old (3 files)\n"),
            "{out}"
        );
        assert!(!render(&Status::default()).contains("paused"));
    }
}
