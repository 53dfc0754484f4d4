// A factory whose signature the SDK refuses (a dimension of -2): its
// wasmreg_info fails with the reason, so the host refuses it at Load.
import { Factory, Tensor, register, tensors } from "../assembly/index";
export { wasmreg_abi_version, wasmreg_info, wasmreg_build, wasmreg_predict } from "../assembly/index";

class BadSig extends Factory {
  info(): string {
    return '{"name":"badsig","version":"1.0.0",' +
      tensors([new Tensor("x", "FP32", [-1, -2])], [new Tensor("a\"b", "FP32", []), new Tensor("a\"b", "FP64", [])]) + "}";
  }
  build(config: Uint8Array): i32 { return 0; }
  predict(input: Uint8Array): i32 { return 0; }
}

register(new BadSig());
