// A test factory of the AssemblyScript SDK that aborts in its top-level
// code, which runs while the host instantiates the module: the abort
// handler sets the message as the error (refused there, but kept as the
// failure's reason) and traps. cmd/wasmreg's tests check that
// `wasmreg validate` shows it.
import { Factory, register } from "../assembly/index";
export { wasmreg_abi_version, wasmreg_info, wasmreg_build, wasmreg_predict } from "../assembly/index";

class StartAbort extends Factory {
  info(): string { return '{"name":"asstartabort","version":"1.0.0"}'; }
  build(config: Uint8Array): i32 { return 0; }
  predict(input: Uint8Array): i32 { return 0; }
}

register(new StartAbort());
assert(false, "asstartabort: no weights compiled in");
