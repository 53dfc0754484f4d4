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
  outputString(f.info());
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
