//! A BitTorrent peer that speaks the real peer wire (handshake, bitfield,
//! unchoke, pieces) and lies in one way: the faults a real client will not
//! commit on demand.

/// How the fake peer misbehaves once it has unchoked us.
#[derive(Clone, Copy)]
pub enum Fault {
    /// Answers every request with zeros of the right length.
    WrongBytes,
    /// Answers a request with a block nobody asked for.
    Unrequested,
    /// Never answers a request.
    Silent,
}

/// A peer on 127.0.0.1 that lies in the way `fault` says, to every
/// connection; it has no metadata to give (no extension protocol).
pub async fn faulty_peer(info_hash: [u8; 20], fault: Fault) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(serve(s, info_hash, fault));
        }
    });
    addr
}

async fn serve(mut s: tokio::net::TcpStream, info_hash: [u8; 20], fault: Fault) {
    use lbrymount::wire::peer_wire::{self, Handshake, Message, HANDSHAKE_LEN};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    {
        let mut hs = [0u8; HANDSHAKE_LEN];
        if s.read_exact(&mut hs).await.is_err() {
            return;
        }
        let ours = Handshake {
            reserved: [0; 8],
            info_hash,
            peer_id: [7; 20],
        };
        if s.write_all(&peer_wire::encode_handshake(&ours))
            .await
            .is_err()
        {
            return;
        }
        let mut out = Vec::new();
        peer_wire::encode(&Message::Bitfield(vec![0xff; 4]), &mut out);
        peer_wire::encode(&Message::Unchoke, &mut out);
        if s.write_all(&out).await.is_err() {
            return;
        }
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            while let Ok(Some((m, used))) = peer_wire::decode(&buf) {
                buf.drain(..used);
                let Message::Request {
                    index,
                    begin,
                    length,
                } = m
                else {
                    continue;
                };
                let reply = match fault {
                    Fault::WrongBytes => Message::Piece {
                        index,
                        begin,
                        data: vec![0; length as usize],
                    },
                    Fault::Unrequested => Message::Piece {
                        index: index + 1,
                        begin,
                        data: vec![0; length as usize],
                    },
                    Fault::Silent => continue,
                };
                let mut out = Vec::new();
                peer_wire::encode(&reply, &mut out);
                if s.write_all(&out).await.is_err() {
                    return;
                }
            }
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}
