//! Disk store (to be written).
pub struct DiskStore;
