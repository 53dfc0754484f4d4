//! The imports of docs/ABI.md §4. Outside wasm32 they panic (input,
//! output, error, the capabilities) or write to standard error (log), so
//! that factory logic compiles and can be tested natively.

#[cfg(target_arch = "wasm32")]
#[link(wasm_import_module = "wasmreg")]
extern "C" {
    pub fn input(ptr: *mut u8);
    pub fn output(ptr: *const u8, len: usize);
    pub fn error(ptr: *const u8, len: usize);
    pub fn log(level: i32, ptr: *const u8, len: usize);
    pub fn clock_now() -> i64;
    pub fn clock_monotonic() -> i64;
    pub fn random_fill(ptr: *mut u8, len: usize);
    pub fn random_seed(seed: i64);
    pub fn artifact_size(name: *const u8, name_len: usize) -> i64;
    pub fn artifact_read(name: *const u8, name_len: usize, offset: i64, ptr: *mut u8, len: usize) -> i64;
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    fn outside(what: &str) -> ! {
        panic!("wasmreg: {} is only available inside a wasmreg host (target wasm32-wasi)", what)
    }
    pub unsafe fn input(_: *mut u8) { outside("input") }
    pub unsafe fn output(_: *const u8, _: usize) { outside("output") }
    pub unsafe fn error(_: *const u8, _: usize) { outside("error") }
    pub unsafe fn log(level: i32, ptr: *const u8, len: usize) {
        let b = std::slice::from_raw_parts(ptr, len);
        eprintln!("wasmreg log {}: {}", level, String::from_utf8_lossy(b));
    }
    pub unsafe fn clock_now() -> i64 {
        let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        d.as_nanos() as i64
    }
    pub unsafe fn clock_monotonic() -> i64 {
        use std::sync::Once;
        static START: Once = Once::new();
        static mut ORIGIN: Option<std::time::Instant> = None;
        START.call_once(|| ORIGIN = Some(std::time::Instant::now()));
        ORIGIN.map(|o| o.elapsed().as_nanos() as i64).unwrap_or(0)
    }
    pub unsafe fn random_fill(_: *mut u8, _: usize) { outside("random_fill") }
    pub unsafe fn random_seed(_: i64) { outside("random_seed") }
    pub unsafe fn artifact_size(_: *const u8, _: usize) -> i64 { outside("artifact_size") }
    pub unsafe fn artifact_read(_: *const u8, _: usize, _: i64, _: *mut u8, _: usize) -> i64 {
        outside("artifact_read")
    }
}
#[cfg(not(target_arch = "wasm32"))]
pub use native::*;
