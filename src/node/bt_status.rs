//! What `status` shows of the BitTorrent side of a mount: torrents open,
//! where pieces are served, the mainline DHT node's kind and table, and how
//! many torrents the DHT was last told about.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BtStatus {
    pub torrents_open: usize,
    /// The `--bt-listen` address bound, if any.
    pub listen: Option<String>,
    /// `off`, `read-only`, or the full node's address (`--bt-dht-listen`).
    pub dht: String,
    pub dht_contacts: usize,
    /// Open torrents whose last DHT announce was taken.
    pub announced: usize,
}

impl BtStatus {
    /// The `status` line.
    pub fn line(&self) -> String {
        let listen = self
            .listen
            .as_deref()
            .unwrap_or("not served (no --bt-listen)");
        let dht = match self.dht.as_str() {
            "off" => "mainline dht off".to_string(),
            kind => format!(
                "mainline dht {kind}, {} contacts, {} announced",
                self.dht_contacts, self.announced
            ),
        };
        format!(
            "bittorrent: {} torrents open; pieces {listen}; {dht}",
            self.torrents_open
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_says_what_is_served_and_the_dht_state() {
        let s = BtStatus {
            torrents_open: 2,
            listen: Some("127.0.0.1:6881".into()),
            dht: "127.0.0.1:6882".into(),
            dht_contacts: 9,
            announced: 2,
        };
        assert_eq!(
            s.line(),
            "bittorrent: 2 torrents open; pieces 127.0.0.1:6881; \
             mainline dht 127.0.0.1:6882, 9 contacts, 2 announced"
        );
        let off = BtStatus {
            dht: "off".into(),
            ..BtStatus::default()
        };
        assert!(
            off.line().ends_with("no --bt-listen); mainline dht off"),
            "{}",
            off.line()
        );
    }
}
