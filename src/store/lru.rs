//! LRU accounting (to be written).
