//! The `random` capability (docs/ABI.md §4.2): list "random" in
//! [`Info::capabilities`](crate::Info) and have the host grant it.

/// Fills `buf` with the next bytes of this build's or prediction's stream.
pub fn fill(buf: &mut [u8]) {
    unsafe { crate::ffi::random_fill(buf.as_mut_ptr(), buf.len()) }
}

/// Restarts this build's or prediction's stream from `seed`: from then on,
/// until the call ends, the stream is ChaCha8 keyed by the seed, the same
/// on every host.
pub fn seed(seed: u64) {
    unsafe { crate::ffi::random_seed(seed as i64) }
}

/// The next 8 bytes of the stream as a little-endian u64.
pub fn u64() -> u64 {
    let mut b = [0u8; 8];
    fill(&mut b);
    u64::from_le_bytes(b)
}

/// A uniform f64 in [0, 1) made of the top 53 bits of [`u64`].
pub fn f64() -> f64 {
    (u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}
