//! The time, in Unix seconds (the unit of every time column). A leaf: every module that
//! stamps a row reads the clock here, so none of them needs `auth` (or anything else) for it;
//! the server functions and the CLI read it too.

/// Now, in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
