use super::*;
use crate::wire::tracker::encode_response;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{mpsc, Mutex};

/// A tracker that answers the `answer_on`-th copy of the request (never, if 0)
/// with `answers`, in order.
struct Scripted {
    answer_on: usize,
    answers: Vec<Vec<u8>>,
    sent: AtomicUsize,
    tx: mpsc::UnboundedSender<Vec<u8>>,
    rx: Mutex<mpsc::UnboundedReceiver<Vec<u8>>>,
}

impl Scripted {
    fn new(answer_on: usize, answers: Vec<Vec<u8>>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            answer_on,
            answers,
            sent: AtomicUsize::new(0),
            tx,
            rx: Mutex::new(rx),
        }
    }
}

impl Transport for Scripted {
    async fn send(&self, _bytes: &[u8]) -> io::Result<()> {
        let n = self.sent.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.answer_on {
            for a in &self.answers {
                let _ = self.tx.send(a.clone());
            }
        }
        Ok(())
    }
    async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        let got = self.rx.lock().await.recv().await.unwrap_or_default();
        let n = got.len().min(buf.len());
        buf[..n].copy_from_slice(&got[..n]);
        Ok(n)
    }
}

fn connect_answer(tid: u32) -> Vec<u8> {
    encode_response(&Response::Connect {
        transaction_id: tid,
        connection_id: 42,
    })
}

#[tokio::test(start_paused = true)]
async fn lost_requests_are_retried_with_doubling_waits() {
    let t = Scripted::new(3, vec![connect_answer(7)]);
    let start = Instant::now();
    let r = exchange(&t, b"req", 7, start + Duration::from_secs(60)).await;
    assert_eq!(
        r,
        Ok(Response::Connect {
            transaction_id: 7,
            connection_id: 42
        })
    );
    assert_eq!(t.sent.load(Ordering::SeqCst), 3);
    // Sent at 0, 2 s and 6 s (2 s, then 4 s without an answer).
    assert_eq!(start.elapsed(), RETRY_BASE * 3);
}

#[tokio::test(start_paused = true)]
async fn a_silent_tracker_gives_up_at_our_deadline() {
    let t = Scripted::new(0, vec![]);
    let start = Instant::now();
    let r = exchange(&t, b"req", 7, start + Duration::from_secs(10)).await;
    assert_eq!(r, Err(TrackerError::Timeout));
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    // 0, 2 s, 6 s; the third wait (8 s) is cut to the 4 s left.
    assert_eq!(t.sent.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn strays_are_ignored_and_errors_end_the_exchange() {
    let error = encode_response(&Response::Error {
        transaction_id: 7,
        message: "unregistered torrent".into(),
    });
    let t = Scripted::new(1, vec![vec![1, 2, 3], connect_answer(99), error]);
    let start = Instant::now();
    let r = exchange(&t, b"req", 7, start + Duration::from_secs(10)).await;
    assert_eq!(r, Err(TrackerError::Refused("unregistered torrent".into())));
    assert_eq!(t.sent.load(Ordering::SeqCst), 1);
}
