// A small JSON reader for configurations and requests: numbers, and
// arrays of numbers, found in a document it checks in full. Errors name
// the byte offset; it never traps on hostile input. Single-threaded.

export let jsonError: string = "";

class Reader {
  i: i32 = 0;
  constructor(public b: Uint8Array) {}
  ws(): void {
    while (this.i < this.b.length) {
      const c = this.b[this.i];
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
      this.i++;
    }
  }
  fail(reason: string): bool {
    jsonError = "malformed JSON at byte " + this.i.toString() + ": " + reason;
    return false;
  }
  digits(): i32 {
    const s = this.i;
    while (this.i < this.b.length && this.b[this.i] >= 0x30 && this.b[this.i] <= 0x39) this.i++;
    return this.i - s;
  }
  // number reads a number of JSON's grammar, or returns NaN.
  number(): f64 {
    const start = this.i;
    if (this.i < this.b.length && this.b[this.i] == 0x2d) this.i++;
    const intAt = this.i;
    const n = this.digits();
    if (n == 0 || (n > 1 && this.b[intAt] == 0x30)) return NaN;
    if (this.i < this.b.length && this.b[this.i] == 0x2e) {
      this.i++;
      if (this.digits() == 0) return NaN;
    }
    if (this.i < this.b.length && (this.b[this.i] == 0x65 || this.b[this.i] == 0x45)) {
      this.i++;
      if (this.i < this.b.length && (this.b[this.i] == 0x2b || this.b[this.i] == 0x2d)) this.i++;
      if (this.digits() == 0) return NaN;
    }
    return parseFloat(String.UTF8.decodeUnsafe(this.b.dataStart + start, this.i - start, false));
  }
}

/** Parses a JSON array of numbers; null on error (see jsonError). */
export function parseNumbers(b: Uint8Array): Float64Array | null {
  const r = new Reader(b);
  const out = new Array<f64>();
  r.ws();
  if (r.i >= b.length || b[r.i] != 0x5b) { r.fail("expected an array"); return null; }
  r.i++;
  r.ws();
  if (r.i < b.length && b[r.i] == 0x5d) { r.i++; }
  else {
    while (true) {
      r.ws();
      const v = r.number();
      if (!isFinite(v)) { r.fail("expected a finite number"); return null; }
      out.push(v);
      r.ws();
      if (r.i >= b.length) { r.fail("unterminated array"); return null; }
      if (b[r.i] == 0x2c) { r.i++; continue; }
      if (b[r.i] == 0x5d) { r.i++; break; }
      r.fail("expected ',' or ']'"); return null;
    }
  }
  r.ws();
  if (r.i != b.length) { r.fail("data after the JSON value"); return null; }
  const a = new Float64Array(out.length);
  for (let k = 0; k < out.length; k++) a[k] = out[k];
  return a;
}

/**
 * The number of field key of a flat JSON object whose values are numbers;
 * NaN on error (see jsonError), including a missing or repeated key.
 */
export function numberField(b: Uint8Array, key: string): f64 {
  const r = new Reader(b);
  r.ws();
  if (r.i >= b.length || b[r.i] != 0x7b) { r.fail("expected an object"); return NaN; }
  r.i++;
  let found: f64 = NaN;
  let seen = false;
  r.ws();
  if (r.i < b.length && b[r.i] == 0x7d) { r.i++; }
  else {
    while (true) {
      r.ws();
      if (r.i >= b.length || b[r.i] != 0x22) { r.fail("expected a string key"); return NaN; }
      const ks = ++r.i;
      while (r.i < b.length && b[r.i] != 0x22) { if (b[r.i] == 0x5c) { r.fail("escapes in keys are not supported"); return NaN; } r.i++; }
      if (r.i >= b.length) { r.fail("unterminated string"); return NaN; }
      const k = String.UTF8.decodeUnsafe(b.dataStart + ks, r.i - ks, false);
      r.i++;
      r.ws();
      if (r.i >= b.length || b[r.i] != 0x3a) { r.fail("expected ':'"); return NaN; }
      r.i++;
      r.ws();
      const v = r.number();
      if (!isFinite(v)) { r.fail("expected a finite number"); return NaN; }
      if (k == key) {
        if (seen) { jsonError = "field \"" + key + "\": appears more than once"; return NaN; }
        seen = true;
        found = v;
      }
      r.ws();
      if (r.i >= b.length) { r.fail("unterminated object"); return NaN; }
      if (b[r.i] == 0x2c) { r.i++; continue; }
      if (b[r.i] == 0x7d) { r.i++; break; }
      r.fail("expected ',' or '}'"); return NaN;
    }
  }
  r.ws();
  if (r.i != b.length) { r.fail("data after the JSON value"); return NaN; }
  if (!seen) { jsonError = "field \"" + key + "\": missing"; return NaN; }
  return found;
}
