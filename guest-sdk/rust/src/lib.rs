//! Guest SDK for wasmreg factories: WebAssembly modules that speak the
//! guest ABI v1 of docs/ABI.md, build models from a JSON configuration and
//! answer predictions with them.
//!
//! Implement [`Factory`] (metadata and a build function) and [`Model`]
//! (predict), then call [`export_factory!`] once: it defines every export
//! of the ABI. Build for `wasm32-wasi` (Rust 1.63, Debian) or
//! `wasm32-wasip1` (newer toolchains) as a `cdylib`.
//!
//! A guest instance is single-threaded: the host never runs two of its
//! calls at once, so nothing in this crate is safe for concurrent use, and
//! nothing needs to be.

use std::fmt;

pub mod artifact;
pub mod clock;
mod ffi;
pub mod json;
pub mod random;

/// serde_json, re-exported when the `serde_json` feature is on.
#[cfg(feature = "serde_json")]
pub use serde_json;

/// The guest ABI version the SDK speaks (docs/ABI.md).
pub const ABI_VERSION: i32 = 1;

/// The capability names of ABI v1 (docs/ABI.md §4.2), sorted: what
/// [`Info::capabilities`] may list. A test of the wasmreg module checks
/// that this copy agrees with the host's.
pub const CAPABILITIES: [&str; 4] = ["artifact", "clock", "log", "random"];

const MAX_NAME_LEN: usize = 128;

/// The tensor datatypes of ABI v1 (docs/ABI.md §5), in the Open Inference
/// Protocol's order: what [`Tensor::datatype`] may be. A test of the
/// wasmreg module checks that this copy agrees with the host's.
pub const DATATYPES: [&str; 13] = [
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES",
];

// The limits of a declared signature, as wasmreg hosts check them.
const MAX_INPUTS: usize = 1;
const MAX_OUTPUTS: usize = 16;
const MAX_RANK: usize = 16;
const MAX_DIM: i64 = 1 << 24;
const MAX_TENSOR_NAME: usize = 128;

/// One tensor of a declared signature (docs/ABI.md §5): a name, an Open
/// Inference Protocol datatype (one of [`DATATYPES`]) and a shape, where -1
/// is a variable dimension (`[-1, 64]`: any number of rows of 64 values).
/// A plain value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tensor {
    /// 1 to 128 bytes, no control characters.
    pub name: String,
    /// One of [`DATATYPES`].
    pub datatype: String,
    /// At most 16 dimensions, each -1 or 0 to 2^24; empty for a scalar.
    pub shape: Vec<i64>,
}

impl Tensor {
    /// A tensor of that name, datatype and shape.
    pub fn new(name: &str, datatype: &str, shape: &[i64]) -> Tensor {
        Tensor { name: name.into(), datatype: datatype.into(), shape: shape.to_vec() }
    }

    fn validate(&self) -> Result<(), String> {
        if self.name.is_empty() {
            return Err("empty name".into());
        }
        if self.name.len() > MAX_TENSOR_NAME {
            return Err(format!("name of {} bytes, more than {}", self.name.len(), MAX_TENSOR_NAME));
        }
        if let Some((i, c)) = self.name.char_indices().find(|(_, c)| c.is_control()) {
            return Err(format!("name {:?} has control character U+{:04X} at byte {}", self.name, c as u32, i));
        }
        if !DATATYPES.contains(&self.datatype.as_str()) {
            return Err(format!(
                "tensor {:?}: datatype {:?} is not one of {}",
                self.name,
                self.datatype,
                DATATYPES.join(", ")
            ));
        }
        if self.shape.len() > MAX_RANK {
            return Err(format!("tensor {:?}: shape has {} dimensions, at most {}", self.name, self.shape.len(), MAX_RANK));
        }
        if let Some((i, d)) = self.shape.iter().enumerate().find(|(_, d)| **d < -1 || **d > MAX_DIM) {
            return Err(format!(
                "tensor {:?}: shape[{}] is {}, want -1 (variable) or 0 to {}",
                self.name, i, d, MAX_DIM
            ));
        }
        Ok(())
    }

    fn write_json(&self, s: &mut String) {
        s.push_str("{\"name\":");
        json::write_string(s, &self.name);
        s.push_str(",\"datatype\":");
        json::write_string(s, &self.datatype);
        s.push_str(",\"shape\":[");
        for (i, d) in self.shape.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(&d.to_string());
        }
        s.push_str("]}");
    }
}

/// A factory's metadata, reported by `wasmreg_info` (docs/ABI.md §5). A
/// plain value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Info {
    /// 1 to 128 ASCII letters, digits, '.', '_' or '-'.
    pub name: String,
    /// A semantic version MAJOR.MINOR.PATCH[-PRERELEASE], no leading "v".
    pub version: String,
    /// One line for listings; may be empty.
    pub description: String,
    /// A JSON Schema of the build configuration as JSON text of an object;
    /// may be empty.
    pub config_schema: String,
    /// Any of "log", "clock", "random", "artifact".
    pub capabilities: Vec<String>,
    /// The declared input tensor, at most one: with `outputs`, the
    /// factory's tensor signature, which servers report and check requests
    /// against (docs/SERVE.md). Empty: the generic mapping.
    pub inputs: Vec<Tensor>,
    /// The declared output tensors, at most 16.
    pub outputs: Vec<Tensor>,
}

impl Info {
    /// Reports what a wasmreg host would refuse in the name, version,
    /// schema or capabilities, so that a factory whose Info validates is
    /// not refused for its metadata at load. Native tests can call it.
    pub fn validate(&self) -> Result<(), String> {
        check_name(&self.name).map_err(|e| format!("Info.name {:?}: {}", self.name, e))?;
        check_version(&self.version).map_err(|e| format!("Info.version {:?}: {}", self.version, e))?;
        let schema = self.config_schema.trim();
        if !schema.is_empty() {
            json::parse(schema.as_bytes())
                .map_err(|e| format!("Info.config_schema of {:?} is not valid JSON: {}", self.name, e))?;
            if !schema.starts_with('{') {
                return Err(format!(
                    "Info.config_schema of {:?} is not a JSON object (a JSON Schema is an object)",
                    self.name
                ));
            }
        }
        for (i, c) in self.capabilities.iter().enumerate() {
            if !CAPABILITIES.contains(&c.as_str()) {
                return Err(format!(
                    "Info.capabilities of {:?}: unknown capability {:?} (known: {})",
                    self.name,
                    c,
                    CAPABILITIES.join(", ")
                ));
            }
            if self.capabilities[..i].contains(c) {
                return Err(format!("Info.capabilities of {:?}: {:?} listed twice", self.name, c));
            }
        }
        if self.inputs.len() > MAX_INPUTS {
            return Err(format!(
                "Info.inputs of {:?}: {} tensors, at most {} (a request is one tensor)",
                self.name,
                self.inputs.len(),
                MAX_INPUTS
            ));
        }
        if self.outputs.len() > MAX_OUTPUTS {
            return Err(format!("Info.outputs of {:?}: {} tensors, at most {}", self.name, self.outputs.len(), MAX_OUTPUTS));
        }
        for (field, list) in [("inputs", &self.inputs), ("outputs", &self.outputs)] {
            for (i, t) in list.iter().enumerate() {
                t.validate().map_err(|e| format!("Info.{}[{}] of {:?}: {}", field, i, self.name, e))?;
                if list[..i].iter().any(|p| p.name == t.name) {
                    return Err(format!("Info.{}[{}] of {:?}: name {:?} declared twice", field, i, self.name, t.name));
                }
            }
        }
        Ok(())
    }

    /// Validates the metadata and returns its JSON (docs/ABI.md §5).
    pub fn to_json(&self) -> Result<String, String> {
        self.validate()?;
        let mut s = String::from("{\"name\":");
        json::write_string(&mut s, &self.name);
        s.push_str(",\"version\":");
        json::write_string(&mut s, &self.version);
        if !self.description.is_empty() {
            s.push_str(",\"description\":");
            json::write_string(&mut s, &self.description);
        }
        let schema = self.config_schema.trim();
        if !schema.is_empty() {
            s.push_str(",\"config_schema\":");
            s.push_str(schema);
        }
        if !self.capabilities.is_empty() {
            s.push_str(",\"capabilities\":[");
            for (i, c) in self.capabilities.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                json::write_string(&mut s, c);
            }
            s.push(']');
        }
        if !self.inputs.is_empty() || !self.outputs.is_empty() {
            s.push_str(",\"tensors\":{");
            let mut first = true;
            for (key, list) in [("inputs", &self.inputs), ("outputs", &self.outputs)] {
                if list.is_empty() {
                    continue;
                }
                if !first {
                    s.push(',');
                }
                first = false;
                s.push_str(&format!("\"{}\":[", key));
                for (i, t) in list.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    t.write_json(&mut s);
                }
                s.push(']');
            }
            s.push('}');
        }
        s.push('}');
        Ok(s)
    }
}

fn check_name(n: &str) -> Result<(), String> {
    if n.is_empty() {
        return Err("empty name".into());
    }
    if n.len() > MAX_NAME_LEN {
        return Err(format!("{} bytes, more than {}", n.len(), MAX_NAME_LEN));
    }
    for (i, c) in n.char_indices() {
        if !(c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-') {
            return Err(format!(
                "{:?} at byte {}; allowed are ASCII letters, digits, '.', '_' and '-'",
                c, i
            ));
        }
    }
    Ok(())
}

fn numeric(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
}

fn check_version(v: &str) -> Result<(), String> {
    const WANT: &str = "want a semantic version MAJOR.MINOR.PATCH[-PRERELEASE]";
    if v.is_empty() {
        return Err(format!("empty version; {}", WANT));
    }
    if v.starts_with('v') || v.starts_with('V') {
        return Err(format!("leading {:?}; {}, such as {:?}", &v[..1], WANT, &v[1..]));
    }
    if let Some(i) = v.find('+') {
        return Err(format!("build metadata ({:?}) is refused by wasmreg hosts; {}", &v[i..], WANT));
    }
    let (core, pre) = match v.find('-') {
        Some(i) => (&v[..i], Some(&v[i + 1..])),
        None => (v, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() != 3 {
        return Err(format!("{} dot-separated numbers; {}", parts.len(), WANT));
    }
    for p in parts {
        if !numeric(p) {
            return Err(format!("{:?} is not a number without leading zeros; {}", p, WANT));
        }
        // Hosts read each number as a u64 to order versions.
        if p.parse::<u64>().is_err() {
            return Err(format!("{:?} is larger than {}; {}", p, u64::MAX, WANT));
        }
    }
    if let Some(pre) = pre {
        for id in pre.split('.') {
            if id.is_empty() {
                return Err(format!("empty pre-release identifier; {}", WANT));
            }
            if let Some(c) = id.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
                return Err(format!(
                    "pre-release identifier {:?} has {:?}; allowed are ASCII letters, digits and '-'",
                    id, c
                ));
            }
            if id.bytes().all(|c| c.is_ascii_digit()) && !numeric(id) {
                return Err(format!("numeric pre-release identifier {:?} has a leading zero", id));
            }
        }
    }
    Ok(())
}

/// A failure of a build or a prediction: the export returns `code` (0 is
/// taken as 1) and, unless `message` is empty, the host reports the message.
/// A plain value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub code: i32,
    pub message: String,
}

impl Error {
    /// An error with return code `code` and `message`.
    pub fn new(code: i32, message: impl Into<String>) -> Error {
        Error { code, message: message.into() }
    }
    /// An error with only a return code: the host reports
    /// "export wasmreg_predict returned code N".
    pub fn code(code: i32) -> Error {
        Error { code, message: String::new() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "error code {}", self.code)
        } else {
            f.write_str(&self.message)
        }
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(message: String) -> Error {
        Error::new(1, message)
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Error {
        Error::new(1, message)
    }
}

/// Returns an [`Error`] with a code and a `format!` message.
#[macro_export]
macro_rules! fail {
    ($code:expr, $($arg:tt)*) => { $crate::Error::new($code, format!($($arg)*)) };
}

/// A built model. The host calls `predict` one request at a time; the
/// request and response formats are the factory's to choose and document.
pub trait Model {
    fn predict(&mut self, input: &[u8]) -> Result<Vec<u8>, Error>;
}

/// A factory: metadata and a build function, exported by [`export_factory!`].
pub trait Factory {
    type Model: Model + 'static;
    /// The factory's metadata; called at Load.
    fn info() -> Info;
    /// Builds a model from the configuration: JSON text, `{}` when the
    /// user gave none.
    fn build(config: &[u8]) -> Result<Self::Model, Error>;
}

/// Log levels, as Go's log/slog numbers them.
pub mod level {
    pub const DEBUG: i32 = -4;
    pub const INFO: i32 = 0;
    pub const WARN: i32 = 4;
    pub const ERROR: i32 = 8;
}

/// Writes one log line at `level` ([`level`]) to the host's log; works
/// everywhere, even outside an export call.
pub fn log(level: i32, message: &str) {
    unsafe { ffi::log(level, message.as_ptr(), message.len()) }
}

/// Sets the current call's error message; a non-zero return then fails
/// the call with it. Calling it and then trapping (as the panic hook does)
/// is how to fail with a message from anywhere.
pub fn set_error(message: &str) {
    unsafe { ffi::error(message.as_ptr(), message.len()) }
}

/// Appends `b` to the current call's result. The exports call it with
/// what `info`, `build` and `predict` return; a factory rarely needs it.
pub fn output(b: &[u8]) {
    unsafe { ffi::output(b.as_ptr(), b.len()) }
}

/// Copies the current call's input, `len` bytes, into a new buffer.
pub fn input(len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len];
    if len > 0 {
        unsafe { ffi::input(b.as_mut_ptr()) }
    }
    b
}

/// Machinery of [`export_factory!`]; not part of the API.
#[doc(hidden)]
pub mod __private {
    use super::*;
    use std::cell::UnsafeCell;

    struct Slot(UnsafeCell<Option<Box<dyn Model>>>);
    // A guest instance has one thread; the host never calls two exports of
    // an instance at once.
    unsafe impl Sync for Slot {}
    static MODEL: Slot = Slot(UnsafeCell::new(None));
    static HOOK: std::sync::Once = std::sync::Once::new();

    /// Installs the panic hook: the panic's message goes to the host's
    /// error (and its log), then the panic traps (panic=abort on wasm32).
    pub fn install_hook() {
        HOOK.call_once(|| {
            std::panic::set_hook(Box::new(|p| {
                let msg = if let Some(s) = p.payload().downcast_ref::<&str>() {
                    (*s).to_string()
                } else if let Some(s) = p.payload().downcast_ref::<String>() {
                    s.clone()
                } else {
                    "Box<dyn Any>".to_string()
                };
                let text = match p.location() {
                    Some(l) => format!("panicked at {}:{}:{}: {}", l.file(), l.line(), l.column(), msg),
                    None => format!("panicked: {}", msg),
                };
                log(level::ERROR, &text);
                // error traps when called outside an export (from
                // _initialize); the log line is written first.
                set_error(&text);
            }));
        });
    }

    fn finish(r: Result<Vec<u8>, Error>) -> i32 {
        match r {
            Ok(out) => {
                if !out.is_empty() {
                    output(&out);
                }
                0
            }
            Err(e) => {
                if !e.message.is_empty() {
                    set_error(&e.message);
                }
                if e.code == 0 {
                    1
                } else {
                    e.code
                }
            }
        }
    }

    pub fn info<F: Factory>() -> i32 {
        install_hook();
        finish(F::info().to_json().map(String::into_bytes).map_err(|e| Error::new(1, format!("wasmreg_info: {}", e))))
    }

    pub fn build<F: Factory>(len: i32) -> i32 {
        install_hook();
        let config = input(len as u32 as usize);
        finish(F::build(&config).map(|m| {
            unsafe { *MODEL.0.get() = Some(Box::new(m)) };
            Vec::new()
        }))
    }

    pub fn predict(len: i32) -> i32 {
        install_hook();
        let req = input(len as u32 as usize);
        let model = unsafe { &mut *MODEL.0.get() };
        match model {
            Some(m) => finish(m.predict(&req)),
            None => finish(Err(Error::new(1, "wasmreg_predict before a successful wasmreg_build"))),
        }
    }
}

/// Defines the exports of the ABI (`wasmreg_abi_version`, `wasmreg_info`,
/// `wasmreg_build`, `wasmreg_predict`) for the [`Factory`] type given.
/// Use it once, in a `cdylib` crate.
#[macro_export]
macro_rules! export_factory {
    ($factory:ty) => {
        #[no_mangle]
        pub extern "C" fn wasmreg_abi_version() -> i32 {
            $crate::ABI_VERSION
        }
        #[no_mangle]
        pub extern "C" fn wasmreg_info() -> i32 {
            $crate::__private::info::<$factory>()
        }
        #[no_mangle]
        pub extern "C" fn wasmreg_build(len: i32) -> i32 {
            $crate::__private::build::<$factory>(len)
        }
        #[no_mangle]
        pub extern "C" fn wasmreg_predict(len: i32) -> i32 {
            $crate::__private::predict(len)
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate() {
        let ok = Info { name: "m".into(), version: "1.0.0".into(), ..Default::default() };
        assert!(ok.validate().is_ok());
        for (name, version) in [("", "1.0.0"), ("a b", "1.0.0"), ("m", "v1.0.0"), ("m", "1.0"), ("m", "1.0.0+b"), ("m", "01.0.0")] {
            let i = Info { name: name.into(), version: version.into(), ..Default::default() };
            assert!(i.validate().is_err(), "{} {}", name, version);
        }
        let caps = Info { capabilities: vec!["net".into()], ..ok.clone() };
        assert!(caps.validate().unwrap_err().contains("unknown capability"));
        let schema = Info { config_schema: "[1]".into(), ..ok };
        assert!(schema.validate().is_err());
    }

    #[test]
    fn signature() {
        let ok = Info {
            name: "digits".into(),
            version: "1.0.0".into(),
            inputs: vec![Tensor::new("pixels", "FP32", &[-1, 64])],
            outputs: vec![Tensor::new("class", "INT64", &[-1]), Tensor::new("any", "BYTES", &[])],
            ..Default::default()
        };
        assert_eq!(
            ok.to_json().unwrap(),
            r#"{"name":"digits","version":"1.0.0","tensors":{"inputs":[{"name":"pixels","datatype":"FP32","shape":[-1,64]}],"outputs":[{"name":"class","datatype":"INT64","shape":[-1]},{"name":"any","datatype":"BYTES","shape":[]}]}}"#
        );
        let outputs_only = Info { inputs: vec![], ..ok.clone() };
        assert!(outputs_only.to_json().unwrap().contains(r#""tensors":{"outputs":["#));
        let t = |n: &str, d: &str, s: &[i64]| Tensor::new(n, d, s);
        for (inputs, outputs, want) in [
            (vec![t("a", "FP32", &[]), t("b", "FP32", &[])], vec![], "Info.inputs of \"digits\": 2 tensors, at most 1"),
            (vec![], vec![t("a", "FP32", &[]); 17], "17 tensors, at most 16"),
            (vec![], vec![t("a", "FP32", &[]), t("a", "FP64", &[])], "Info.outputs[1] of \"digits\": name \"a\" declared twice"),
            (vec![t("", "FP32", &[])], vec![], "Info.inputs[0] of \"digits\": empty name"),
            (vec![t(&"n".repeat(129), "FP32", &[])], vec![], "name of 129 bytes, more than 128"),
            (vec![t("a\u{7f}", "FP32", &[])], vec![], "control character U+007F at byte 1"),
            (vec![t("x", "float32", &[])], vec![], "tensor \"x\": datatype \"float32\" is not one of BOOL"),
            (vec![t("x", "FP32", &[-1, -2])], vec![], "tensor \"x\": shape[1] is -2, want -1 (variable) or 0 to 16777216"),
            (vec![t("x", "FP32", &[(1 << 24) + 1])], vec![], "shape[0] is"),
            (vec![t("x", "FP32", &[1; 17])], vec![], "shape has 17 dimensions, at most 16"),
        ] {
            let i = Info { inputs, outputs, ..ok.clone() };
            let err = i.validate().unwrap_err();
            assert!(err.contains(want), "{} does not contain {}", err, want);
            assert!(i.to_json().is_err());
        }
    }
}
