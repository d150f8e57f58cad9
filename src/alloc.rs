//! Memory-allocator settings for tensor workloads.
//!
//! A transformer pass allocates and frees the same few-megabyte activation buffers over and
//! over. glibc serves blocks above its mmap threshold with fresh `mmap`s and gives freed heap
//! tops back to the kernel, so every step pays page faults to zero those pages again (17% of a
//! training step of multilingual-e5-small here). Keeping such blocks on the heap removes that.

/// Keeps blocks up to 32 MiB on the heap and freed memory in the process (glibc only; a no-op
/// elsewhere). Call once at program start, before threads start.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
