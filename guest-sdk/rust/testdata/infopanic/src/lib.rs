//! A test factory of the Rust SDK whose `info` panics, so that the module
//! traps while the host loads it: the panic hook sets the panic's message
//! as the call's error first, and the host reports it as the trap's
//! reason. cmd/wasmreg's tests check that `wasmreg validate` shows it.

use wasmreg::{Error, Factory, Info, Model};

struct Panics;
struct M;

impl Factory for Panics {
    type Model = M;
    fn info() -> Info {
        panic!("rustinfopanic: no metadata compiled in")
    }
    fn build(_: &[u8]) -> Result<M, Error> {
        Ok(M)
    }
}

impl Model for M {
    fn predict(&mut self, _: &[u8]) -> Result<Vec<u8>, Error> {
        Ok(Vec::new())
    }
}

wasmreg::export_factory!(Panics);
