use super::*;
use proptest::prelude::*;

fn h(i: u8) -> BlobHash {
    BlobHash::from_bytes([i; 48])
}

#[test]
fn evicts_least_recently_used_first() {
    let mut lru = Lru::new(100);
    assert_eq!(lru.admit(h(1), 40), Ok(vec![]));
    assert_eq!(lru.admit(h(2), 40), Ok(vec![]));
    assert!(lru.touch(&h(1)));
    assert_eq!(lru.admit(h(3), 40), Ok(vec![h(2)]));
    assert!(lru.contains(&h(1)) && !lru.contains(&h(2)));
    assert_eq!(lru.cached_bytes(), 80);
}

#[test]
fn refuses_a_blob_larger_than_the_cap_without_evicting() {
    let mut lru = Lru::new(100);
    lru.admit(h(1), 60).unwrap();
    let full = lru.admit(h(2), 101).unwrap_err();
    assert_eq!(
        full,
        Full {
            needed: 101,
            cap: 100,
            held: 0
        }
    );
    assert!(lru.contains(&h(1)));
}

#[test]
fn held_blobs_are_never_evicted_and_block_admission() {
    let mut lru = Lru::new(100);
    lru.admit(h(1), 60).unwrap();
    lru.hold(&h(1));
    assert_eq!(
        lru.admit(h(2), 50),
        Err(Full {
            needed: 50,
            cap: 100,
            held: 60
        })
    );
    assert!(lru.release(&h(1)));
    assert_eq!(lru.admit(h(2), 50), Ok(vec![h(1)]));
}

#[test]
fn a_hold_taken_before_the_blob_arrives_protects_it() {
    let mut lru = Lru::new(100);
    lru.hold(&h(1));
    lru.admit(h(1), 70).unwrap();
    assert_eq!(lru.held_bytes(), 70);
    assert!(lru.admit(h(2), 40).is_err());
    lru.release(&h(1));
    assert_eq!(lru.held_bytes(), 0);
    assert!(!lru.release(&h(1)), "no hold left to release");
}

#[test]
fn pinned_blobs_are_outside_the_cap() {
    let mut lru = Lru::new(100);
    lru.insert_pinned(h(1), 1000);
    lru.admit(h(2), 90).unwrap();
    assert!(lru.pin(&h(2)));
    assert_eq!(lru.cached_bytes(), 0);
    assert_eq!(lru.pinned_bytes(), 1090);
    assert_eq!(lru.admit(h(3), 100), Ok(vec![]));
    assert!(!lru.pin(&h(9)), "pinning an absent blob does nothing");
}

#[test]
fn blobs_loaded_over_the_cap_stay_until_an_admission_evicts_back_under_it() {
    let mut lru = Lru::new(100);
    for i in 1..=4 {
        lru.load(h(i), 40);
    }
    assert_eq!(lru.cached_bytes(), 160, "loading never evicts");
    lru.hold(&h(2));
    assert_eq!(lru.admit(h(5), 30), Ok(vec![h(1), h(3), h(4)]));
    assert_eq!(lru.cached_bytes(), 70);
    lru.load(h(2), 99);
    assert_eq!(
        lru.size_of(&h(2)),
        Some(40),
        "a resident blob is left as it is"
    );
}

#[test]
fn staged_blobs_are_outside_the_cap_until_pinned_or_unstaged() {
    let mut lru = Lru::new(100);
    lru.admit(h(1), 60).unwrap();
    assert!(lru.stage(h(1), 0), "a cached blob is moved, its size kept");
    assert!(lru.stage(h(2), 50));
    assert!(lru.stage(h(2), 50), "stages are counted");
    assert_eq!((lru.cached_bytes(), lru.pinned_bytes()), (0, 110));
    assert!(!lru.is_pinned(&h(2)) && lru.is_staged(&h(2)));
    assert_eq!(
        lru.pinned().count(),
        0,
        "staged blobs are not pinned for good"
    );
    assert_eq!(
        lru.admit(h(3), 100),
        Ok(vec![]),
        "staged blobs are never evicted"
    );
    assert_eq!(lru.unstage(&h(2)), None, "one stage left");
    assert_eq!(lru.unstage(&h(2)), Some(50));
    assert!(!lru.contains(&h(2)));
    assert!(lru.pin(&h(1)));
    assert!(lru.is_pinned(&h(1)) && !lru.is_staged(&h(1)));
    assert_eq!(lru.unstage(&h(1)), None, "a pin for good is not undone");
    assert!(!lru.stage(h(1), 60), "nor staged again");
}

#[derive(Debug, Clone)]
enum Op {
    Admit(u8, u64),
    Load(u8, u64),
    Stage(u8, u64),
    Unstage(u8),
    InsertPinned(u8, u64),
    Pin(u8),
    Touch(u8),
    Hold(u8),
    Release(u8),
    Remove(u8),
}

fn op() -> impl Strategy<Value = Op> {
    let id = 0u8..8;
    prop_oneof![
        4 => (id.clone(), 0u64..60).prop_map(|(i, s)| Op::Admit(i, s)),
        1 => (id.clone(), 0u64..60).prop_map(|(i, s)| Op::Load(i, s)),
        1 => (id.clone(), 0u64..60).prop_map(|(i, s)| Op::Stage(i, s)),
        1 => id.clone().prop_map(Op::Unstage),
        1 => (id.clone(), 0u64..60).prop_map(|(i, s)| Op::InsertPinned(i, s)),
        1 => id.clone().prop_map(Op::Pin),
        3 => id.clone().prop_map(Op::Touch),
        2 => id.clone().prop_map(Op::Hold),
        2 => id.clone().prop_map(Op::Release),
        1 => id.prop_map(Op::Remove),
    ]
}

/// The obvious, slow reference: cached blobs in a Vec ordered by recency
/// (least recent first); held ones keep their place but are skipped by eviction
/// and move to the end when released.
#[derive(Default)]
struct Model {
    cap: u64,
    order: Vec<(BlobHash, u64)>,
    pinned: HashMap<BlobHash, u64>,
    staged: HashMap<BlobHash, u64>,
    holds: HashMap<BlobHash, u64>,
}

impl Model {
    fn used(&self) -> u64 {
        self.order.iter().map(|e| e.1).sum()
    }
    fn held_bytes(&self) -> u64 {
        let held = |e: &&(BlobHash, u64)| self.holds.contains_key(&e.0);
        self.order.iter().filter(held).map(|e| e.1).sum()
    }
    fn move_to_end(&mut self, hash: &BlobHash) -> bool {
        match self.order.iter().position(|e| e.0 == *hash) {
            Some(i) => {
                let e = self.order.remove(i);
                self.order.push(e);
                true
            }
            None => false,
        }
    }
    fn touch(&mut self, hash: &BlobHash) -> bool {
        self.move_to_end(hash) || self.pinned.contains_key(hash)
    }
    fn admit(&mut self, hash: BlobHash, size: u64) -> Result<Vec<BlobHash>, Full> {
        if self.touch(&hash) {
            return Ok(vec![]);
        }
        let held = self.held_bytes();
        if held + size > self.cap {
            return Err(Full {
                needed: size,
                cap: self.cap,
                held,
            });
        }
        let mut victims = vec![];
        while self.used() + size > self.cap {
            let i = self
                .order
                .iter()
                .position(|e| !self.holds.contains_key(&e.0))
                .expect("the held check guarantees something is evictable");
            victims.push(self.order.remove(i).0);
        }
        self.order.push((hash, size));
        Ok(victims)
    }
    fn resident(&self, hash: &BlobHash) -> bool {
        self.pinned.contains_key(hash) || self.order.iter().any(|e| e.0 == *hash)
    }
    fn load(&mut self, hash: BlobHash, size: u64) {
        if !self.resident(&hash) {
            self.order.push((hash, size));
        }
    }
    fn stage(&mut self, hash: BlobHash, size: u64) -> bool {
        if let Some(c) = self.staged.get_mut(&hash) {
            *c += 1;
            return true;
        }
        if self.pinned.contains_key(&hash) {
            return false;
        }
        let size = match self.order.iter().position(|e| e.0 == hash) {
            Some(i) => self.order.remove(i).1,
            None => size,
        };
        self.pinned.insert(hash, size);
        self.staged.insert(hash, 1);
        true
    }
    fn unstage(&mut self, hash: &BlobHash) -> Option<u64> {
        let c = self.staged.get_mut(hash)?;
        *c -= 1;
        if *c > 0 {
            return None;
        }
        self.staged.remove(hash);
        self.pinned.remove(hash)
    }
    fn pin(&mut self, hash: &BlobHash) -> bool {
        if self.pinned.contains_key(hash) {
            self.staged.remove(hash);
            return true;
        }
        match self.order.iter().position(|e| e.0 == *hash) {
            Some(i) => {
                let (h, s) = self.order.remove(i);
                self.pinned.insert(h, s);
                true
            }
            None => false,
        }
    }
    fn release(&mut self, hash: &BlobHash) -> bool {
        match self.holds.get_mut(hash) {
            None => false,
            Some(c) => {
                *c -= 1;
                if *c == 0 {
                    self.holds.remove(hash);
                    self.move_to_end(hash);
                }
                true
            }
        }
    }
    fn remove(&mut self, hash: &BlobHash) -> Option<u64> {
        self.staged.remove(hash);
        if let Some(s) = self.pinned.remove(hash) {
            return Some(s);
        }
        let i = self.order.iter().position(|e| e.0 == *hash)?;
        Some(self.order.remove(i).1)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn matches_the_reference_model(cap in 0u64..150, ops in proptest::collection::vec(op(), 1..120)) {
        let mut lru = Lru::new(cap);
        let mut model = Model { cap, ..Default::default() };
        // Loads may leave the cache over its cap until a new blob is admitted.
        let mut may_exceed = false;
        for op in ops {
            match op {
                Op::Admit(i, s) => {
                    let before_pinned: Vec<_> = model.pinned.keys().copied().collect();
                    let new = !model.resident(&h(i));
                    let got = lru.admit(h(i), s);
                    prop_assert_eq!(&got, &model.admit(h(i), s), "admit({}, {})", i, s);
                    if new && got.is_ok() {
                        may_exceed = false;
                    }
                    for v in got.unwrap_or_default() {
                        prop_assert!(!model.holds.contains_key(&v), "evicted a held blob");
                        prop_assert!(!before_pinned.contains(&v), "evicted a pinned or staged blob");
                    }
                }
                Op::Load(i, s) => {
                    lru.load(h(i), s);
                    model.load(h(i), s);
                    may_exceed = true;
                }
                Op::Stage(i, s) => prop_assert_eq!(lru.stage(h(i), s), model.stage(h(i), s)),
                Op::Unstage(i) => prop_assert_eq!(lru.unstage(&h(i)), model.unstage(&h(i))),
                Op::InsertPinned(i, s) => {
                    lru.insert_pinned(h(i), s);
                    if !model.pin(&h(i)) {
                        model.pinned.insert(h(i), s);
                    }
                }
                Op::Pin(i) => prop_assert_eq!(lru.pin(&h(i)), model.pin(&h(i))),
                Op::Touch(i) => prop_assert_eq!(lru.touch(&h(i)), model.touch(&h(i))),
                Op::Hold(i) => {
                    lru.hold(&h(i));
                    *model.holds.entry(h(i)).or_insert(0) += 1;
                }
                Op::Release(i) => prop_assert_eq!(lru.release(&h(i)), model.release(&h(i))),
                Op::Remove(i) => prop_assert_eq!(lru.remove(&h(i)), model.remove(&h(i))),
            }
            prop_assert!(may_exceed || lru.cached_bytes() <= cap);
            prop_assert_eq!(lru.cached_bytes(), model.used());
            prop_assert_eq!(lru.held_bytes(), model.held_bytes());
            prop_assert_eq!(lru.pinned_bytes(), model.pinned.values().sum::<u64>());
            prop_assert_eq!(lru.len(), model.order.len() + model.pinned.len());
            for i in 0..8 {
                let staged = model.staged.contains_key(&h(i));
                prop_assert_eq!(lru.is_pinned(&h(i)), model.pinned.contains_key(&h(i)) && !staged);
                prop_assert_eq!(lru.is_staged(&h(i)), staged);
                let model_size = model.pinned.get(&h(i)).copied()
                    .or_else(|| model.order.iter().find(|e| e.0 == h(i)).map(|e| e.1));
                prop_assert_eq!(lru.size_of(&h(i)), model_size);
            }
        }
    }
}
