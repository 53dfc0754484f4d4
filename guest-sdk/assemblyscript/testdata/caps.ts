// A test factory of the AssemblyScript SDK's capability clients: each
// request is a command ("clock", "seed S N", "artifact NAME", "log",
// "error-then-abort"). examples/factories/as_sdk_test.go runs it.
import { Factory, register, fail, output, outputString, utf8, log, setError,
  clockNow, clockMonotonic, randomFill, randomSeed, artifactRead, artifactSize,
  LEVEL_DEBUG, LEVEL_INFO, LEVEL_WARN, LEVEL_ERROR } from "../assembly/index";
export { wasmreg_abi_version, wasmreg_info, wasmreg_build, wasmreg_predict } from "../assembly/index";

function hex(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += (<u32>b[i] < 16 ? "0" : "") + (<u32>b[i]).toString(16);
  return s;
}

class Caps extends Factory {
  info(): string {
    return '{"name":"ascaps","version":"1.0.0","capabilities":["artifact","clock","random"]}';
  }
  build(config: Uint8Array): i32 { return 0; }
  predict(input: Uint8Array): i32 {
    const args = utf8(input).split(" ");
    const cmd = args[0];
    if (cmd == "clock") {
      outputString(clockNow().toString() + " " + clockMonotonic().toString() + " " + clockMonotonic().toString());
    } else if (cmd == "seed" && args.length == 3) {
      randomSeed(U64.parseInt(args[1]));
      const b = new Uint8Array(I32.parseInt(args[2]));
      randomFill(b);
      outputString(hex(b));
    } else if (cmd == "artifact" && args.length == 2) {
      const b = artifactRead(args[1]);
      if (b == null) return fail(4, "artifact " + args[1] + " is absent (size " + artifactSize(args[1]).toString() + ")");
      output(b);
    } else if (cmd == "log") {
      log(LEVEL_DEBUG, "ascaps log at level -4");
      log(LEVEL_INFO, "ascaps log at level 0");
      log(LEVEL_WARN, "ascaps log at level 4");
      log(LEVEL_ERROR, "ascaps log at level 8");
    } else if (cmd == "error-then-abort") {
      setError("set before the abort");
      abort("aborted on purpose");
    } else {
      return fail(2, "unknown command " + utf8(input));
    }
    return 0;
  }
}

register(new Caps());
