// AssemblyScript guest SDK for wasmreg factories (guest ABI v1,
// docs/ABI.md). Extend Factory, call register() at the top level of your
// entry file, and re-export the four wasmreg_ functions from it:
//
//   export { wasmreg_abi_version, wasmreg_info, wasmreg_build, wasmreg_predict } from "../assembly/index";
//
// Build with --use abort=assembly/index/wasmregAbort (asc's default
// abort import, env.abort, is refused by the host). A guest instance is
// single-threaded: nothing here is safe for concurrent use, and the host
// never needs it to be.

@external("wasmreg", "input") declare function hostInput(ptr: usize): void;
@external("wasmreg", "output") declare function hostOutput(ptr: usize, len: usize): void;
@external("wasmreg", "error") declare function hostError(ptr: usize, len: usize): void;
@external("wasmreg", "log") declare function hostLog(level: i32, ptr: usize, len: usize): void;
@external("wasmreg", "clock_now") declare function hostClockNow(): i64;
@external("wasmreg", "clock_monotonic") declare function hostClockMonotonic(): i64;
@external("wasmreg", "random_fill") declare function hostRandomFill(ptr: usize, len: usize): void;
@external("wasmreg", "random_seed") declare function hostRandomSeed(seed: i64): void;
@external("wasmreg", "artifact_size") declare function hostArtifactSize(name: usize, nameLen: usize): i64;
@external("wasmreg", "artifact_read") declare function hostArtifactRead(name: usize, nameLen: usize, offset: i64, ptr: usize, len: usize): i64;

export const LEVEL_DEBUG: i32 = -4;
export const LEVEL_INFO: i32 = 0;
export const LEVEL_WARN: i32 = 4;
export const LEVEL_ERROR: i32 = 8;

/** Writes one log line at level to the host's log; works everywhere. */
export function log(level: i32, message: string): void {
  const b = String.UTF8.encode(message);
  hostLog(level, changetype<usize>(b), b.byteLength);
}

/** Sets the current call's error message (UTF-8). */
export function setError(message: string): void {
  const b = String.UTF8.encode(message);
  hostError(changetype<usize>(b), b.byteLength);
}

/** Sets the error message and returns code (0 taken as 1): `return fail(2, "...")`. */
export function fail(code: i32, message: string): i32 {
  setError(message);
  return code == 0 ? 1 : code;
}

/** Appends bytes to the current call's result. */
export function output(b: Uint8Array): void {
  hostOutput(b.dataStart, b.byteLength);
}

/** Appends a string, UTF-8, to the current call's result. */
export function outputString(s: string): void {
  const b = String.UTF8.encode(s);
  hostOutput(changetype<usize>(b), b.byteLength);
}

function readInput(len: i32): Uint8Array {
  const b = new Uint8Array(len);
  if (len > 0) hostInput(b.dataStart);
  return b;
}

/** Decodes UTF-8 bytes (invalid sequences replaced). */
export function utf8(b: Uint8Array): string {
  return String.UTF8.decodeUnsafe(b.dataStart, b.byteLength, false);
}

/** The `clock` capability. */
export function clockNow(): i64 { return hostClockNow(); }
export function clockMonotonic(): i64 { return hostClockMonotonic(); }

/** The `random` capability. */
export function randomFill(b: Uint8Array): void { hostRandomFill(b.dataStart, b.byteLength); }
export function randomSeed(seed: u64): void { hostRandomSeed(<i64>seed); }

/** The `artifact` capability: the size of artifact name, or -1 if absent. */
export function artifactSize(name: string): i64 {
  const n = String.UTF8.encode(name);
  return hostArtifactSize(changetype<usize>(n), n.byteLength);
}

/** Reads all of artifact name, or null if the host has none of that name. */
export function artifactRead(name: string): Uint8Array | null {
  const n = String.UTF8.encode(name);
  const size = hostArtifactSize(changetype<usize>(n), n.byteLength);
  if (size < 0 || size > 0x7fffffff) return null;
  const b = new Uint8Array(<i32>size);
  let done: i32 = 0;
  while (done < b.length) {
    const got = hostArtifactRead(changetype<usize>(n), n.byteLength, done, b.dataStart + done, b.length - done);
    if (got < 0) return null;
    if (got == 0) break;
    done += <i32>got;
  }
  return b.subarray(0, done);
}

/**
 * The tensor datatypes of ABI v1 (docs/ABI.md §5), in the Open Inference
 * Protocol's order: what a Tensor's datatype may be. A test of the wasmreg
 * module checks that this copy agrees with the host's.
 */
export const DATATYPES: string[] = ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
  "FP16", "FP32", "FP64", "BYTES"];

/**
 * One tensor of a declared signature (docs/ABI.md §5): a name, a datatype
 * (one of DATATYPES) and a shape, where -1 is a variable dimension
 * ([-1, 64]: any number of rows of 64 values; [] a scalar).
 */
export class Tensor {
  constructor(public name: string, public datatype: string, public shape: i64[]) {}
}

// What tensors() refused, reported by wasmreg_info; "" if nothing.
let signatureError = "";

function checkTensor(where: string, t: Tensor, prev: Tensor[]): string {
  if (t.name.length == 0) return where + ": empty name";
  const n = String.UTF8.byteLength(t.name);
  if (n > 128) return where + ": name of " + n.toString() + " bytes, more than 128";
  for (let i = 0; i < t.name.length; i++) {
    const c = t.name.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return where + ": name " + jsonString(t.name) + " has control character " + c.toString() + " at index " + i.toString();
  }
  for (let i = 0; i < prev.length; i++) {
    if (prev[i].name == t.name) return where + ": name " + jsonString(t.name) + " declared twice";
  }
  if (!DATATYPES.includes(t.datatype)) return where + " " + jsonString(t.name) + ": datatype " + jsonString(t.datatype) + " is not one of " + DATATYPES.join(", ");
  if (t.shape.length > 16) return where + " " + jsonString(t.name) + ": shape has " + t.shape.length.toString() + " dimensions, at most 16";
  for (let i = 0; i < t.shape.length; i++) {
    const d = t.shape[i];
    if (d < -1 || d > (1 << 24)) return where + " " + jsonString(t.name) + ": shape[" + i.toString() + "] is " + d.toString() + ", want -1 (variable) or 0 to 16777216";
  }
  return "";
}

function tensorList(key: string, list: Tensor[], max: i32): string {
  if (list.length > max) {
    signatureError = key + ": " + list.length.toString() + " tensors, at most " + max.toString();
    return "";
  }
  let s = '"' + key + '":[';
  for (let i = 0; i < list.length; i++) {
    const err = checkTensor(key + "[" + i.toString() + "]", list[i], list.slice(0, i));
    if (err.length > 0 && signatureError.length == 0) signatureError = err;
    const t = list[i];
    if (i > 0) s += ",";
    s += '{"name":' + jsonString(t.name) + ',"datatype":' + jsonString(t.datatype) + ',"shape":[';
    for (let j = 0; j < t.shape.length; j++) {
      if (j > 0) s += ",";
      s += t.shape[j].toString();
    }
    s += "]}";
  }
  return s + "]";
}

/**
 * tensors returns the metadata's "tensors" field, key included, declaring
 * the factory's tensor signature (at most 1 input, 16 outputs; either
 * list may be empty), for info() to splice into its JSON:
 *
 *   return '{"name":"m","version":"1.0.0",' +
 *     tensors([new Tensor("x", "FP32", [-1, 64])], [new Tensor("class", "INT64", [-1])]) + "}";
 *
 * It checks the tensors as a wasmreg host does; what it refuses fails
 * wasmreg_info, and so the Load, with the reason.
 */
export function tensors(inputs: Tensor[], outputs: Tensor[]): string {
  signatureError = "";
  let s = '"tensors":{';
  const ins = inputs.length > 0 ? tensorList("inputs", inputs, 1) : "";
  const outs = outputs.length > 0 ? tensorList("outputs", outputs, 16) : "";
  if (inputs.length == 0 && outputs.length == 0) signatureError = "no tensors: give an input or an output";
  s += ins;
  if (ins.length > 0 && outs.length > 0) s += ",";
  return s + outs + "}";
}

/** jsonString returns s as a JSON string literal. */
export function jsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22) out += '\\"';
    else if (c == 0x5c) out += "\\\\";
    else if (c < 0x20) out += "\\u00" + (c < 0x10 ? "0" : "") + c.toString(16);
    else out += String.fromCharCode(c);
  }
  return out + '"';
}

/**
 * A factory. info() returns the metadata JSON (docs/ABI.md §5); build()
 * and predict() return 0 on success or a code, with fail() for a message.
 */
export abstract class Factory {
  abstract info(): string;
  abstract build(config: Uint8Array): i32;
  abstract predict(input: Uint8Array): i32;
}

let factory: Factory | null = null;

/** Registers the factory the exports call; call it once, at top level. */
export function register(f: Factory): void {
  factory = f;
}

export function wasmreg_abi_version(): i32 { return 1; }

export function wasmreg_info(): i32 {
  const f = factory;
  if (f == null) return fail(1, "wasmreg: no factory registered (call register at top level)");
  const md = f.info();
  if (signatureError.length > 0) return fail(1, "wasmreg_info: tensors: " + signatureError);
  outputString(md);
  return 0;
}

export function wasmreg_build(len: i32): i32 {
  const f = factory;
  if (f == null) return fail(1, "wasmreg: no factory registered");
  return f.build(readInput(len));
}

export function wasmreg_predict(len: i32): i32 {
  const f = factory;
  if (f == null) return fail(1, "wasmreg: no factory registered");
  return f.predict(readInput(len));
}

/**
 * The abort handler: pass --use abort=assembly/index/wasmregAbort to asc.
 * It logs and sets the message as the call's error, then traps.
 */
export function wasmregAbort(message: string | null = null, file: string | null = null, line: u32 = 0, column: u32 = 0): void {
  let text = "abort: " + (message != null ? message : "(no message)");
  if (file != null) text += " at " + file + ":" + line.toString() + ":" + column.toString();
  log(LEVEL_ERROR, text);
  setError(text);
  unreachable();
}
