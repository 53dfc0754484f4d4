//! A test factory of the Rust SDK's capability clients: each request is a
//! command ("clock", "seed S N", "fill N", "artifact NAME", "log",
//! "fail", "error-then-panic", "validate N NAMEVERSION"). The Go test examples/factories/rust_sdk_test.go
//! runs it under the real host.

use wasmreg::{artifact, clock, fail, level, random, Error, Factory, Info, Model};

struct Caps;
struct M;

fn hex(b: &[u8]) -> String {
    b.iter().map(|c| format!("{:02x}", c)).collect()
}

impl Factory for Caps {
    type Model = M;
    fn info() -> Info {
        Info {
            name: "rustcaps".into(),
            version: "1.0.0-test".into(),
            capabilities: vec!["artifact".into(), "clock".into(), "random".into()],
            ..Default::default()
        }
    }
    fn build(_: &[u8]) -> Result<M, Error> {
        Ok(M)
    }
}

impl Model for M {
    fn predict(&mut self, input: &[u8]) -> Result<Vec<u8>, Error> {
        // "validate" N name version: Info::validate of the name (N bytes)
        // and the version, for the SDK contract test.
        if let Some(rest) = input.strip_prefix(b"validate ") {
            let sp = rest.iter().position(|&c| c == b' ').ok_or_else(|| fail!(2, "validate: no length"))?;
            let n: usize = std::str::from_utf8(&rest[..sp]).ok().and_then(|s| s.parse().ok()).ok_or_else(|| fail!(2, "validate: bad length"))?;
            let body = &rest[sp + 1..];
            if n > body.len() {
                return Err(fail!(2, "validate: length past the end"));
            }
            let (name, version) = body.split_at(n);
            let (name, version) = match (std::str::from_utf8(name), std::str::from_utf8(version)) {
                (Ok(a), Ok(b)) => (a, b),
                _ => return Ok(b"invalid: not UTF-8".to_vec()),
            };
            let info = Info { name: name.into(), version: version.into(), ..Default::default() };
            return Ok(match info.validate() {
                Ok(()) => b"ok".to_vec(),
                Err(e) => format!("invalid: {}", e).into_bytes(),
            });
        }
        let cmd = String::from_utf8_lossy(input).into_owned();
        let args: Vec<&str> = cmd.split(' ').collect();
        let num = |i: usize| -> Result<u64, Error> {
            args.get(i).and_then(|a| a.parse().ok()).ok_or_else(|| fail!(2, "argument {} of {:?}", i, cmd))
        };
        let out = match args[0] {
            "clock" => format!("{} {} {}", clock::now(), clock::monotonic(), clock::monotonic()),
            "seed" => {
                random::seed(num(1)?);
                let mut b = vec![0u8; num(2)? as usize];
                random::fill(&mut b);
                hex(&b)
            }
            "fill" => {
                let mut b = vec![0u8; num(1)? as usize];
                random::fill(&mut b);
                hex(&b)
            }
            "artifact" => {
                let name = args.get(1).copied().unwrap_or("");
                match artifact::read(name) {
                    Some(b) => return Ok(b),
                    None => return Err(fail!(4, "artifact {:?} is absent (size {:?})", name, artifact::size(name))),
                }
            }
            "log" => {
                for l in [level::DEBUG, level::INFO, level::WARN, level::ERROR] {
                    wasmreg::log(l, &format!("rustcaps log at level {}", l));
                }
                String::new()
            }
            "fail" => return Err(Error::code(7)),
            "error-then-panic" => {
                wasmreg::set_error("set before the panic");
                panic!("panicked on purpose: {}", 42)
            }
            _ => return Err(fail!(2, "unknown command {}", cmd)),
        };
        Ok(out.into_bytes())
    }
}

wasmreg::export_factory!(Caps);
