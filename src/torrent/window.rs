//! Which 16 KiB blocks to ask a peer for next, across piece boundaries, so
//! the request pipeline never drains at the end of a piece. PURE.
//!
//! Pieces are opened in order while the bytes of open pieces stay under a
//! bound (at least one piece), blocks are handed out in order, a choke puts
//! the blocks in flight back in the queue (BEP 3: the peer dropped them),
//! and finished pieces leave in order. A block nobody asked for, or of the
//! wrong length, is an error.

use crate::wire::krpc::Id20;
use crate::wire::peer_wire::BLOCK;
use std::collections::{HashSet, VecDeque};

/// A piece to fetch: its index, length and SHA-1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    pub index: u32,
    pub len: u32,
    pub sha1: Id20,
}

#[derive(Debug)]
struct Open {
    want: Want,
    buf: Vec<u8>,
    left: usize,
    got: Vec<bool>,
    next_block: u32,
}

#[derive(Debug)]
pub struct Window {
    wants: VecDeque<Want>,
    open: VecDeque<Open>,
    requeue: VecDeque<(u32, u32)>,
    inflight: HashSet<(u32, u32)>,
    max_open_bytes: u64,
}

fn block_len(piece_len: u32, begin: u32) -> u32 {
    BLOCK.min(piece_len - begin)
}

impl Window {
    pub fn new(wants: Vec<Want>, max_open_bytes: u64) -> Self {
        Self {
            wants: wants.into(),
            open: VecDeque::new(),
            requeue: VecDeque::new(),
            inflight: HashSet::new(),
            max_open_bytes,
        }
    }

    pub fn inflight(&self) -> usize {
        self.inflight.len()
    }

    pub fn is_finished(&self) -> bool {
        self.wants.is_empty() && self.open.is_empty()
    }

    fn open_bytes(&self) -> u64 {
        self.open.iter().map(|o| u64::from(o.want.len)).sum()
    }

    /// The next block to request, `(index, begin, length)`, now in flight.
    pub fn next_request(&mut self) -> Option<(u32, u32, u32)> {
        let (index, begin) = match self.requeue.pop_front() {
            Some(b) => b,
            None => self.fresh_block()?,
        };
        let len = self.open.iter().find(|o| o.want.index == index)?.want.len;
        self.inflight.insert((index, begin));
        Some((index, begin, block_len(len, begin)))
    }

    fn fresh_block(&mut self) -> Option<(u32, u32)> {
        if let Some(o) = self
            .open
            .iter_mut()
            .find(|o| o.next_block * BLOCK < o.want.len)
        {
            o.next_block += 1;
            return Some((o.want.index, (o.next_block - 1) * BLOCK));
        }
        let fits = self.open.is_empty()
            || self.open_bytes() + u64::from(self.wants.front()?.len) <= self.max_open_bytes;
        if !fits {
            return None;
        }
        let want = self.wants.pop_front()?;
        let blocks = want.len.div_ceil(BLOCK) as usize;
        let buf = vec![0u8; want.len as usize];
        self.open.push_back(Open {
            want,
            buf,
            left: blocks,
            got: vec![false; blocks],
            next_block: 1,
        });
        self.open.back().map(|o| (o.want.index, 0))
    }

    /// A block arrived.
    pub fn on_block(&mut self, index: u32, begin: u32, data: &[u8]) -> Result<(), String> {
        if !self.inflight.remove(&(index, begin)) {
            return Err(format!("unrequested block at {begin} of piece {index}"));
        }
        let o = self
            .open
            .iter_mut()
            .find(|o| o.want.index == index)
            .ok_or("block of no open piece")?;
        if data.len() != block_len(o.want.len, begin) as usize {
            return Err(format!(
                "block at {begin} of piece {index} has {} bytes",
                data.len()
            ));
        }
        let b = (begin / BLOCK) as usize;
        if !std::mem::replace(&mut o.got[b], true) {
            o.buf[begin as usize..begin as usize + data.len()].copy_from_slice(data);
            o.left -= 1;
        }
        Ok(())
    }

    /// The peer choked us: what was in flight is asked again later.
    pub fn on_choke(&mut self) {
        let mut back: Vec<_> = self.inflight.drain().collect();
        back.sort_unstable();
        self.requeue.extend(back);
    }

    /// The first open piece, if all its blocks are in.
    pub fn pop_done(&mut self) -> Option<(Want, Vec<u8>)> {
        if self.open.front()?.left > 0 {
            return None;
        }
        self.open.pop_front().map(|o| (o.want, o.buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want(index: u32, len: u32) -> Want {
        Want {
            index,
            len,
            sha1: [0; 20],
        }
    }

    #[test]
    fn requests_run_on_into_the_next_piece_within_the_byte_bound() {
        let mut w = Window::new(vec![want(0, 40000), want(1, 40000), want(2, 40000)], 80000);
        let asked: Vec<_> = std::iter::from_fn(|| w.next_request()).collect();
        assert_eq!(
            asked,
            vec![
                (0, 0, 16384),
                (0, 16384, 16384),
                (0, 32768, 7232),
                (1, 0, 16384),
                (1, 16384, 16384),
                (1, 32768, 7232)
            ],
            "two pieces open (80 000 bytes), the third waits"
        );
        for (i, b, l) in &asked[..3] {
            w.on_block(*i, *b, &vec![1; *l as usize]).unwrap();
        }
        let (done, data) = w.pop_done().unwrap();
        assert_eq!((done.index, data.len()), (0, 40000));
        assert_eq!(
            w.next_request(),
            Some((2, 0, 16384)),
            "a finished piece makes room"
        );
    }

    #[test]
    fn a_choke_requeues_what_was_in_flight_and_bad_blocks_are_refused() {
        let mut w = Window::new(vec![want(0, 40000)], 1);
        let a = w.next_request().unwrap();
        let b = w.next_request().unwrap();
        w.on_block(a.0, a.1, &vec![0; 16384]).unwrap();
        assert!(
            w.on_block(a.0, a.1, &vec![0; 16384]).is_err(),
            "a block twice is unrequested the second time"
        );
        w.on_choke();
        assert_eq!(w.inflight(), 0);
        assert_eq!(
            w.next_request(),
            Some(b),
            "the dropped request is asked again first"
        );
        assert!(w.on_block(0, 16384, &[0; 5]).is_err(), "wrong length");
        assert!(w.on_block(9, 0, &[0; 5]).is_err(), "unknown piece");
    }
}
