//! The program's allocator: large buffers are mapped on their own, in huge
//! pages where the kernel allows, and unmapped when freed.
//!
//! A mount moves every blob through 2 MiB buffers (receive, plaintext, cache
//! write). With glibc's allocator three things went wrong at that size:
//! - a fresh 2 MiB buffer faults in 512 pages one by one, about 1.6 ms on
//!   this kind of VM, against 0.13 ms for one transparent huge page; the
//!   cold first byte paid it twice;
//! - freed buffers stayed in the arena of the thread that freed them, so a
//!   single streaming reader peaked 12-17 MiB above its live set;
//! - its chunks are not page-aligned, so each cache write with `O_DIRECT`
//!   first copied the blob into an aligned buffer.
//!
//! Allocations of at least [`LARGE`] (1.5 MiB) therefore get their own mapping,
//! aligned to 2 MiB when they are that large and advised `MADV_HUGEPAGE`;
//! `dealloc` unmaps them, so memory goes back as soon as a buffer does
//! (`blob::pool` keeps a few for reuse). Everything smaller goes to the
//! system allocator. Where huge pages are off the advice does nothing and
//! the buffers are ordinary page-aligned mappings.

use std::alloc::{GlobalAlloc, Layout, System};

/// Allocations at least this large are mapped on their own: blob buffers
/// (2 MiB) are, a read gathered across two blobs (at most 1 MiB, made and
/// freed once every other blob of a stream) is not: mapping and faulting
/// it in on every read cost more than glibc's reuse of it.
pub const LARGE: usize = 3 << 19;
/// A transparent huge page, and the alignment of mappings that can hold one.
const HUGE: usize = 2 << 20;
/// Mappings are at least page-aligned; larger alignments go to the system.
const PAGE: usize = 4096;

/// The allocator (`#[global_allocator]` in the binary).
pub struct LargeMapped;

fn is_large(layout: &Layout) -> bool {
    layout.size() >= LARGE && layout.align() <= PAGE
}

fn mapped_len(size: usize) -> usize {
    size.next_multiple_of(PAGE)
}

/// Maps `size` bytes of zeros, 2 MiB-aligned when they hold a huge page.
fn map(size: usize) -> *mut u8 {
    let len = mapped_len(size);
    let extra = if len >= HUGE { HUGE } else { 0 };
    // SAFETY: an anonymous private mapping at an address of the kernel's
    // choosing; nothing else is touched.
    let raw = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len + extra,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if raw == libc::MAP_FAILED {
        return std::ptr::null_mut();
    }
    if extra == 0 {
        return raw.cast();
    }
    let start = (raw as usize).next_multiple_of(HUGE);
    let head = start - raw as usize;
    let tail = extra - head;
    // SAFETY: the head and tail are parts of the mapping made above that
    // nothing refers to; the advice only concerns the aligned part we keep.
    unsafe {
        if head > 0 {
            libc::munmap(raw, head);
        }
        if tail > 0 {
            libc::munmap((start + len) as *mut libc::c_void, tail);
        }
        libc::madvise(start as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
    }
    start as *mut u8
}

unsafe impl GlobalAlloc for LargeMapped {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_large(&layout) {
            return map(layout.size());
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if is_large(&layout) {
            // A fresh anonymous mapping reads as zeros without being touched.
            return map(layout.size());
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if is_large(&layout) {
            // SAFETY: `ptr` came from `map` with this layout's size, which
            // gives the same length; the caller gives up the block.
            unsafe { libc::munmap(ptr.cast(), mapped_len(layout.size())) };
            return;
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's guarantees, and `new_size` keeps the alignment.
        let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        if !is_large(&layout) && !is_large(&new) {
            // SAFETY: forwarded with the caller's guarantees.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // SAFETY: a new block of the new layout, the common prefix copied,
        // the old block freed with its own layout (which side of `LARGE`
        // each is on is decided by its own size).
        unsafe {
            let to = self.alloc(new);
            if !to.is_null() {
                std::ptr::copy_nonoverlapping(ptr, to, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            to
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize) -> Layout {
        Layout::from_size_align(size, 1).expect("layout")
    }

    #[test]
    fn large_blocks_are_aligned_zeroed_writable_and_freed() {
        let a = LargeMapped;
        for size in [LARGE, HUGE, HUGE + 4096 + 5, 3 * HUGE + 1] {
            let l = layout(size);
            // SAFETY: a non-zero layout; the block is used within its size
            // and freed once with the same layout.
            unsafe {
                let p = a.alloc_zeroed(l);
                assert!(!p.is_null());
                assert_eq!(p as usize % PAGE, 0, "page-aligned for O_DIRECT");
                if size >= HUGE {
                    assert_eq!(p as usize % HUGE, 0, "huge-page-aligned");
                }
                let s = std::slice::from_raw_parts_mut(p, size);
                assert!(s.iter().all(|b| *b == 0));
                s.fill(7);
                a.dealloc(p, l);
            }
        }
    }

    #[test]
    fn growing_and_shrinking_across_the_threshold_keeps_the_bytes() {
        let a = LargeMapped;
        // SAFETY: each block is used within its current size and moved or
        // freed with the layout it has.
        unsafe {
            let small = layout(1000);
            let p = a.alloc(small);
            std::slice::from_raw_parts_mut(p, 1000).fill(3);
            let big = a.realloc(p, small, HUGE);
            assert_eq!(big as usize % HUGE, 0);
            assert!(std::slice::from_raw_parts(big, 1000)
                .iter()
                .all(|b| *b == 3));
            std::slice::from_raw_parts_mut(big, HUGE).fill(4);
            let bigger = a.realloc(big, layout(HUGE), 2 * HUGE);
            assert!(std::slice::from_raw_parts(bigger, HUGE)
                .iter()
                .all(|b| *b == 4));
            let back = a.realloc(bigger, layout(2 * HUGE), 10);
            assert!(std::slice::from_raw_parts(back, 10).iter().all(|b| *b == 4));
            a.dealloc(back, layout(10));
        }
    }

    #[test]
    fn over_aligned_and_small_blocks_go_to_the_system_allocator() {
        let a = LargeMapped;
        let l = Layout::from_size_align(HUGE, 2 * PAGE).expect("layout");
        assert!(!is_large(&l) && !is_large(&layout(LARGE - 1)));
        // SAFETY: allocated and freed with the same layout.
        unsafe {
            let p = a.alloc(l);
            assert_eq!(p as usize % (2 * PAGE), 0);
            a.dealloc(p, l);
        }
    }
}
