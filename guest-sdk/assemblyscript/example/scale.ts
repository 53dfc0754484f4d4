// Built from {"factor": 2}, answers a JSON array of numbers with the
// numbers multiplied by the factor. Request "abort" fails an assertion,
// to show the abort handler at work.
import { Factory, Tensor, register, fail, outputString, tensors, utf8 } from "../assembly/index";
import { parseNumbers, numberField, jsonError } from "../assembly/json";
export { wasmreg_abi_version, wasmreg_info, wasmreg_build, wasmreg_predict } from "../assembly/index";

let factor: f64 = 1;

class Scale extends Factory {
  info(): string {
    return '{"name":"scale-as","version":"1.0.0",' +
      '"description":"Multiplies a JSON array of numbers by the factor in its config.",' +
      '"config_schema":{"type":"object","required":["factor"],"properties":{"factor":{"type":"number"}}},' +
      // The tensor signature a server reports and checks: rows of numbers
      // in, each row scaled out.
      tensors([new Tensor("input", "FP32", [-1, -1])], [new Tensor("output", "FP64", [-1, -1])]) + "}";
  }
  build(config: Uint8Array): i32 {
    const f = numberField(config, "factor");
    if (isNaN(f)) return fail(2, "config: " + jsonError);
    factor = f;
    return 0;
  }
  predict(input: Uint8Array): i32 {
    if (utf8(input) == "abort") assert(false, "asked to abort");
    const xs = parseNumbers(input);
    if (xs == null) return fail(3, "request: " + jsonError + "; want a JSON array of numbers");
    let out = "[";
    for (let i = 0; i < xs.length; i++) {
      if (i > 0) out += ",";
      out += (xs[i] * factor).toString();
    }
    outputString(out + "]");
    return 0;
  }
}

register(new Scale());
