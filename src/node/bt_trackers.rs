//! A torrent's UDP trackers (BEP 15): those `add` was given (a magnet's
//! `tr`, a `.torrent` file's announce list), kept in the data dir
//! (`torrent_state`) so they are asked again at the next start. They are
//! asked for peers when the torrent opens and whenever its peers all
//! failed (beside the mainline DHT), and told of our `--bt-listen` port
//! with each announce round (`bt_announce`).
//!
//! Bounds: at most [`MAX_TRACKERS`] per torrent, `udp://` only (`http://`
//! trackers are not spoken), and [`MAX_TORRENTS`] torrents in memory;
//! each ask is bounded by the tracker client's own deadline.

use super::torrent_state;
use crate::tracker::Tracker;
use crate::wire::krpc::Id20;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

/// Trackers asked for one torrent, at most.
pub const MAX_TRACKERS: usize = 8;
/// Torrents whose trackers are kept in memory, at most.
const MAX_TORRENTS: usize = 1024;

/// `HOST:PORT` of a `udp://HOST:PORT[/…]` tracker URL (BEP 15); other
/// schemes are not spoken.
pub fn udp_tracker(url: &str) -> Option<String> {
    let rest = url.strip_prefix("udp://")?;
    let host_port = rest.split('/').next()?;
    let (host, port) = host_port.rsplit_once(':')?;
    (!host.is_empty() && port.parse::<u16>().is_ok_and(|p| p != 0)).then(|| host_port.to_owned())
}

/// The `HOST:PORT`s of the UDP trackers among `urls`, at most [`MAX_TRACKERS`].
pub fn specs(urls: &[String]) -> Vec<String> {
    let specs: Vec<String> = urls.iter().filter_map(|u| udp_tracker(u)).collect();
    if specs.len() < urls.len() {
        tracing::info!(
            given = urls.len(),
            spoken = specs.len(),
            "only udp:// trackers are asked"
        );
    }
    specs.into_iter().take(MAX_TRACKERS).collect()
}

/// Each torrent's trackers, as `HOST:PORT`, read from the data dir on
/// first use.
pub struct TorrentTrackers {
    data_dir: PathBuf,
    known: Mutex<HashMap<Id20, Arc<[String]>>>,
}

impl TorrentTrackers {
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            known: Mutex::default(),
        }
    }

    /// Adds the UDP trackers among `urls` to the torrent's, and keeps them
    /// for the next start.
    pub async fn add(&self, info_hash: Id20, urls: &[String]) -> Result<(), String> {
        let mut all = self.of(info_hash).await.to_vec();
        for s in specs(urls) {
            if all.len() < MAX_TRACKERS && !all.contains(&s) {
                all.push(s);
            }
        }
        let dir = self.data_dir.clone();
        let kept = all.clone();
        crate::blocking::run(move || torrent_state::save_trackers(&dir, &info_hash, &kept))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot keep the torrent's trackers: {e}"))?;
        self.remember(info_hash, all.into());
        Ok(())
    }

    /// The torrent's trackers (`HOST:PORT`).
    pub async fn of(&self, info_hash: Id20) -> Arc<[String]> {
        if let Some(t) = self.known_now(&info_hash) {
            return t;
        }
        let dir = self.data_dir.clone();
        let read = crate::blocking::run(move || torrent_state::load_trackers(&dir, &info_hash));
        let specs: Arc<[String]> = read.await.unwrap_or_default().into();
        self.remember(info_hash, specs.clone());
        specs
    }

    fn known_now(&self, info_hash: &Id20) -> Option<Arc<[String]>> {
        let known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        known.get(info_hash).cloned()
    }

    fn remember(&self, info_hash: Id20, specs: Arc<[String]>) {
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        if known.len() < MAX_TORRENTS || known.contains_key(&info_hash) {
            known.insert(info_hash, specs);
        }
    }

    /// Announces the torrent (as a leecher on `port`, 0 for none) to its
    /// trackers, all at once: the peers they name, and how many answered.
    pub async fn ask(&self, info_hash: Id20, port: u16) -> (Vec<SocketAddr>, usize) {
        ask(info_hash, &self.of(info_hash).await, port).await
    }
}

/// Announces `info_hash` to `specs` (`HOST:PORT` of UDP trackers) as the
/// node asks LBRY's (`tracker_peers::announce_all`): the peers they name,
/// and how many answered; a tracker that fails only adds nothing.
pub async fn ask(info_hash: Id20, specs: &[String], port: u16) -> (Vec<SocketAddr>, usize) {
    if specs.is_empty() {
        return (Vec::new(), 0);
    }
    let peer_id = crate::tracker::peer_id();
    let trackers: Vec<Arc<Tracker>> = specs
        .iter()
        .take(MAX_TRACKERS)
        .map(|spec| Arc::new(Tracker::new(spec.clone(), peer_id)))
        .collect();
    let (mut peers, asked, answered) =
        super::tracker_peers::announce_all(&trackers, info_hash, port).await;
    for t in &trackers {
        if let Some((_, e)) = t.status().last_error {
            tracing::info!(tracker = %t.spec(), error = %e, "tracker failed");
        }
    }
    tracing::debug!(
        asked,
        answered,
        peers = peers.len(),
        "torrent trackers asked"
    );
    peers.truncate(crate::torrent::swarm::MAX_PEERS);
    (peers, answered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_udp_trackers_with_a_port_are_spoken_and_at_most_eight() {
        assert_eq!(
            udp_tracker("udp://tracker.example:6969/announce").as_deref(),
            Some("tracker.example:6969")
        );
        assert_eq!(
            udp_tracker("udp://127.0.0.1:80").as_deref(),
            Some("127.0.0.1:80")
        );
        for bad in [
            "http://t:80/announce",
            "udp://:1",
            "udp://t/a",
            "udp://t:0",
            "udp://t:x",
        ] {
            assert_eq!(udp_tracker(bad), None, "{bad}");
        }
        let many: Vec<String> = (1..20).map(|i| format!("udp://t{i}:1/a")).collect();
        assert_eq!(specs(&many).len(), MAX_TRACKERS);
    }

    #[tokio::test]
    async fn trackers_added_are_kept_for_the_next_start() {
        let d = tempfile::tempdir().unwrap();
        let ih = [3; 20];
        let t = TorrentTrackers::new(d.path().to_path_buf());
        assert!(t.of(ih).await.is_empty());
        let urls = [
            "udp://a:1/x".to_string(),
            "http://b:2/".into(),
            "udp://a:1".into(),
        ];
        t.add(ih, &urls).await.unwrap();
        t.add(ih, &["udp://c:3".to_string()]).await.unwrap();
        let again = TorrentTrackers::new(d.path().to_path_buf());
        assert_eq!(&*again.of(ih).await, ["a:1".to_string(), "c:3".into()]);
        assert!(again.of([4; 20]).await.is_empty());
    }
}
