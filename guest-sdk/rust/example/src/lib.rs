//! Built from `{"factor": 2}`, answers a JSON array of numbers with the
//! numbers multiplied by the factor. Request "panic" panics, to show the
//! panic hook at work.

use wasmreg::json::{self, Value};
use wasmreg::{fail, Error, Factory, Info, Model};

struct Scale;

struct Scaled {
    factor: f64,
}

impl Factory for Scale {
    type Model = Scaled;

    fn info() -> Info {
        Info {
            name: "scale-rs".into(),
            version: "1.0.0".into(),
            description: "Multiplies a JSON array of numbers by the factor in its config.".into(),
            config_schema: r#"{"type":"object","required":["factor"],"properties":{"factor":{"type":"number"}},"additionalProperties":false}"#.into(),
            capabilities: vec!["log".into()],
            // The tensor signature a server reports and checks: rows of
            // numbers in, each row scaled out.
            inputs: vec![wasmreg::Tensor::new("input", "FP32", &[-1, -1])],
            outputs: vec![wasmreg::Tensor::new("output", "FP64", &[-1, -1])],
        }
    }

    fn build(config: &[u8]) -> Result<Scaled, Error> {
        let cfg = json::parse(config).map_err(|e| fail!(2, "config: {}", e))?;
        let factor = match cfg.get("factor") {
            Some(Value::Number(n)) => *n,
            Some(v) => return Err(fail!(2, "config field \"factor\": is {}, want a number", v.kind())),
            None => return Err(fail!(2, "config field \"factor\": missing")),
        };
        wasmreg::log(wasmreg::level::INFO, &format!("scale-rs built with factor {}", factor));
        Ok(Scaled { factor })
    }
}

impl Model for Scaled {
    fn predict(&mut self, input: &[u8]) -> Result<Vec<u8>, Error> {
        if input == b"panic" {
            panic!("asked to panic");
        }
        let v = json::parse(input).map_err(|e| fail!(3, "request: {}; want a JSON array of numbers", e))?;
        let xs = v.as_array().ok_or_else(|| fail!(3, "request: is {}, want an array", v.kind()))?;
        if xs.is_empty() {
            return Err(Error::code(1));
        }
        let mut out = String::from("[");
        for (i, x) in xs.iter().enumerate() {
            let n = x.as_f64().ok_or_else(|| fail!(3, "request: element {} is {}, want a number", i, x.kind()))?;
            if i > 0 {
                out.push(',');
            }
            json::write_number(&mut out, n * self.factor);
        }
        out.push(']');
        Ok(out.into_bytes())
    }
}

wasmreg::export_factory!(Scale);
