//! Memory store (to be written).
pub struct MemStore;
