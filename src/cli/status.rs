//! `lbrymount status`: what a running node is doing, asked over its control socket.

use crate::config::Config;
use crate::control::{client, Reply, Request, Status};
use crate::hash::SdHash;
use std::fmt::Write;

/// How `status` shows what it learns.
#[derive(Debug, Clone, clap::Args)]
pub struct ShowArgs {
    /// One JSON object (fields in lbrymount(1)); with --watch, one line per refresh
    #[arg(long)]
    pub json: bool,
    /// Refresh in place until interrupted
    #[arg(long)]
    pub watch: bool,
    /// Seconds between refreshes with --watch
    #[arg(long, value_name = "SECONDS", default_value_t = 2, requires = "watch", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub interval: u64,
}

pub fn run(cfg: &Config, only: Option<SdHash>, show: &ShowArgs) -> anyhow::Result<()> {
    if !show.watch {
        print!("{}", once(cfg, only, show.json)?);
        return Ok(());
    }
    let mut out = std::io::stdout();
    loop {
        let text = once(cfg, only, show.json)?;
        // Text is redrawn from the top-left corner of a cleared screen; JSON
        // goes one object per line, for programs reading a stream.
        let clear = if show.json { "" } else { "\x1b[H\x1b[2J" };
        std::io::Write::write_all(&mut out, format!("{clear}{text}").as_bytes())?;
        std::io::Write::flush(&mut out)?;
        std::thread::sleep(std::time::Duration::from_secs(show.interval));
    }
}

/// One look at the node, rendered.
fn once(cfg: &Config, only: Option<SdHash>, json: bool) -> anyhow::Result<String> {
    let s = ask_status(cfg)?;
    match (only, json) {
        (None, false) => Ok(render(&s)),
        (None, true) => Ok(serde_json::to_string(&s)? + "\n"),
        (Some(sd), json) => stream_status(cfg, &s, sd, json),
    }
}

fn ask_status(cfg: &Config) -> anyhow::Result<Status> {
    let Some(mut node) = client::connect(&cfg.data_dir)? else {
        anyhow::bail!(
            "no lbrymount node is running on data dir {} (start one with `lbrymount MOUNTPOINT` or `lbrymount serve`)",
            cfg.data_dir.display()
        );
    };
    match node.request(&Request::Status, |_| {})? {
        Reply::Status(s) => Ok(*s),
        Reply::Error { message } => anyhow::bail!("the node refused: {message}"),
        other => anyhow::bail!("unexpected reply from the node: {other:?}"),
    }
}

/// One stream: its row (as `ls` prints it) and the recent errors that name it.
fn stream_status(cfg: &Config, s: &Status, sd: SdHash, json: bool) -> anyhow::Result<String> {
    let key = sd.to_string();
    // One request per connection.
    let Some(mut node) = client::connect(&cfg.data_dir)? else {
        anyhow::bail!("the node stopped");
    };
    let rows = match node.request(&Request::Ls, |_| {})? {
        Reply::Ls { streams } => streams,
        other => anyhow::bail!("unexpected reply from the node: {other:?}"),
    };
    let row = rows.iter().find(|r| r.sd_hash == key);
    let errors: Vec<_> = s
        .recent_errors
        .iter()
        .filter(|(_, e)| e.contains(&key))
        .collect();
    if json {
        let v = serde_json::json!({ "sd_hash": key, "stream": row, "recent_errors": errors });
        return Ok(v.to_string() + "\n");
    }
    let mut o = String::new();
    match row {
        Some(row) => writeln!(o, "stream: {}", row.line())?,
        None => writeln!(o, "stream: {key} (not in the store)")?,
    }
    writeln!(o, "recent read errors: {}", errors.len())?;
    for (at, why) in errors {
        writeln!(o, "  {at}  {}", why.escape_debug())?;
    }
    Ok(o)
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
    render_lan(&mut o, s.lan.as_ref());
    if let Some(bt) = &s.bt {
        let _ = writeln!(o, "{}", bt.line());
    }
    if let Some(u) = &s.upnp {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let _ = writeln!(o, "{}", u.line(now));
    }
    if let Some(r) = &s.reflect {
        let _ = writeln!(
            o,
            "reflect to {}: {} streams reflected, {} pending",
            r.reflector, r.reflected, r.pending
        );
        if let Some(e) = &r.last_error {
            let _ = writeln!(o, "reflect last error: {e}");
        }
    }
    render_sources(&mut o, &s.sources);
    let _ = writeln!(
        o,
        "served: {} blobs, {} bytes, {} connections",
        s.blobs_served, s.bytes_served, s.connections_served
    );
    let _ = writeln!(o, "cache: {} of {} bytes used", s.cache_used, s.cache_cap);
    let _ = writeln!(o, "published bytes (pinned): {}", s.pinned_bytes);
    let _ = writeln!(o, "streams published: {}", s.streams_published);
    let _ = writeln!(o, "streams pinned: {}", s.streams_pinned);
    let _ = writeln!(o, "streams cached: {}", s.streams_cached);
    let rate = |r: u64| {
        if r == 0 {
            "unlimited".to_string()
        } else {
            format!("{r} bytes/s")
        }
    };
    let _ = writeln!(o, "upload limit: {}", rate(s.max_upload_rate));
    let _ = writeln!(o, "download limit: {}", rate(s.max_download_rate));
    let _ = writeln!(o, "recent read errors: {}", s.recent_errors.len());
    for (at, why) in &s.recent_errors {
        let _ = writeln!(o, "  {at}  {}", why.escape_debug());
    }
    o
}

/// LAN discovery: what was ignored, then one line per node heard.
fn render_lan(o: &mut String, lan: Option<&crate::control::LanStatus>) {
    let Some(lan) = lan else {
        o.push_str("lan: off\n");
        return;
    };
    let [malformed, limited, own, full] = lan.ignored;
    let _ = writeln!(
        o,
        "lan: {} peers; ignored: {malformed} malformed, {limited} over the rate limit, \
         {own} with our node id, {full} refused (table full)",
        lan.peers.len()
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    for p in &lan.peers {
        let udp = match p.udp_port {
            0 => "no dht".to_owned(),
            port => format!("dht port {port}"),
        };
        let _ = writeln!(
            o,
            "lan peer {}: blob port {}, {udp}, last seen {} s ago",
            p.ip,
            p.tcp_port,
            now.saturating_sub(p.last_seen)
        );
    }
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

    #[test]
    fn lan_peers_are_listed_with_their_ports_and_what_was_ignored() {
        use crate::control::{LanPeerRow, LanStatus};
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let row = |ip: &str, udp_port| LanPeerRow {
            ip: ip.into(),
            tcp_port: 4444,
            udp_port,
            last_seen: now - 3,
        };
        let s = Status {
            lan: Some(LanStatus {
                peers: vec![row("192.168.1.7", 4445), row("192.168.1.8", 0)],
                ignored: [1, 2, 3, 4],
            }),
            ..Status::default()
        };
        let out = render(&s);
        assert!(
            out.contains(
                "lan: 2 peers; ignored: 1 malformed, 2 over the rate limit, \
                 3 with our node id, 4 refused (table full)\n"
            ),
            "{out}"
        );
        let seen = |l: &str| l.ends_with(" s ago") && !l.ends_with(", last seen 0 s ago");
        let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("lan peer")).collect();
        assert!(
            lines[0].starts_with("lan peer 192.168.1.7: blob port 4444, dht port 4445, last seen"),
            "{out}"
        );
        assert!(
            lines[1].contains("192.168.1.8: blob port 4444, no dht,"),
            "{out}"
        );
        assert!(lines.iter().all(|l| seen(l)), "{out}");
        assert!(render(&Status::default()).contains("lan: off\n"));
    }
}
