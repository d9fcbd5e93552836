//! glibc malloc settings for the portal's process: one arena, a fixed mmap threshold.
//!
//! * glibc gives threads that contend for the heap arenas of their own (up to eight per
//!   core) and keeps freed pages in each. The portal's threads (Tokio's workers, one per
//!   SQLite connection, the blocking pool) take turns on the same data, so extra arenas only
//!   hold memory.
//! * glibc raises its mmap threshold each time a large block is freed (up to 32 MB), so the
//!   quick sync's large buffers (the 10 000-guest reply, the parsed list) soon come from the
//!   heap and leave it fragmented. A fixed threshold (128 kB, glibc's starting value) keeps
//!   them in their own mappings, returned to the system as soon as they are freed.
//!
//! Measured with 10 000 VMs (`cargo bench -p server --bench portal_rss`): about 56–59 MB
//! with glibc's defaults, 40–45 MB with one arena, a steady 36 MB with both.
//!
//! Both must be set before the first allocation, through the environment; `mallopt` would
//! need `unsafe`, which the workspace forbids. So at start the binary executes itself once
//! more with `MALLOC_ARENA_MAX=1 MALLOC_MMAP_THRESHOLD_=131072`, unless either variable is
//! already set (set one to keep glibc's own choices, e.g. `MALLOC_ARENA_MAX=0`).

const ARENA_MAX: &str = "MALLOC_ARENA_MAX";
const MMAP_THRESHOLD: &str = "MALLOC_MMAP_THRESHOLD_";

/// Replaces this process with itself, the two variables added, when neither is set and the C
/// library is glibc. Returns (and the process goes on as it is) if that cannot be done.
pub fn tune() {
    if !cfg!(all(target_os = "linux", target_env = "gnu"))
        || std::env::var_os(ARENA_MAX).is_some()
        || std::env::var_os(MMAP_THRESHOLD).is_some()
    {
        return;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        // Only returns on failure (for instance, the binary was replaced on disk).
        let _ = std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env(ARENA_MAX, "1")
            .env(MMAP_THRESHOLD, "131072")
            .exec();
    }
}
