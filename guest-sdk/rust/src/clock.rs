//! The `clock` capability (docs/ABI.md §4.2): list "clock" in
//! [`Info::capabilities`](crate::Info) and have the host grant it.

/// Wall-clock time in nanoseconds since 1970-01-01T00:00:00Z.
pub fn now() -> i64 {
    unsafe { crate::ffi::clock_now() }
}

/// Nanoseconds since an origin fixed for the host's life; never decreases.
/// Use it to measure durations.
pub fn monotonic() -> i64 {
    unsafe { crate::ffi::clock_monotonic() }
}
