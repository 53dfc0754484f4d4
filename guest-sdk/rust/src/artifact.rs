//! The `artifact` capability (docs/ABI.md §4.2): read-only named blobs the
//! host grants. List "artifact" in [`Info::capabilities`](crate::Info).

/// The size of artifact `name` in bytes, or `None` if the host has no
/// artifact of that name for this factory.
pub fn size(name: &str) -> Option<u64> {
    let n = unsafe { crate::ffi::artifact_size(name.as_ptr(), name.len()) };
    if n < 0 {
        None
    } else {
        Some(n as u64)
    }
}

/// Copies up to `buf.len()` bytes of artifact `name` from byte `offset`
/// into `buf`, returning how many were copied (0 at or past the end), or
/// `None` if there is no such artifact.
pub fn read_at(name: &str, offset: u64, buf: &mut [u8]) -> Option<usize> {
    if offset > i64::MAX as u64 {
        return Some(0);
    }
    let n = unsafe { crate::ffi::artifact_read(name.as_ptr(), name.len(), offset as i64, buf.as_mut_ptr(), buf.len()) };
    if n < 0 {
        None
    } else {
        Some((n as usize).min(buf.len()))
    }
}

/// Reads all of artifact `name`, or `None` if there is no such artifact.
/// It reads in pieces, so an artifact that the host shortens or lengthens
/// meanwhile gives what was there, never more than its first size.
pub fn read(name: &str) -> Option<Vec<u8>> {
    let size = size(name)?;
    let size = usize::try_from(size).ok()?;
    let mut buf = Vec::new();
    buf.try_reserve_exact(size).ok()?;
    buf.resize(size, 0);
    let mut done = 0;
    while done < size {
        let n = read_at(name, done as u64, &mut buf[done..])?;
        if n == 0 {
            break;
        }
        done += n;
    }
    buf.truncate(done);
    Some(buf)
}
