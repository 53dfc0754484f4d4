/*
 * ccaps: the C SDK's test factory. It calls every capability client of
 * guest-sdk/c/wasmreg.h and exposes the SDK's output and JSON helpers, so
 * that examples/factories/c_sdk_test.go can check them under the real host.
 * It needs the clock, random and artifact grants.
 *
 * Build (c_sdk_test.go does it with internal/wasmbuild):
 *   clang --target=wasm32-wasi -mexec-model=reactor -O2 -Wall -Werror \
 *       -I guest-sdk/c -o ccaps.wasm examples/factories/testdata/ccaps/ccaps.c
 *
 * Config: {"seed": N} (optional; N an integer from 0 to 2^63 - 1, read with
 * wasmreg_json_int; no other field): wasmreg_factory_build seeds the random
 * stream with N and keeps 32 bytes of it, which the request "build-bytes"
 * returns. Requests are one command line, optionally followed by a newline
 * and a payload:
 *
 *   clock                 {"now":NS,"mono":[NS,NS]}
 *   seed SEED N           N bytes after wasmreg_random_seed(SEED), in hex
 *   seed-numbers SEED     random_u64 then random_double after seeding, "%llu %a"
 *   fill N                N unseeded random bytes, in hex
 *   build-bytes           the 32 bytes drawn at build time, in hex
 *   artifact NAME         the artifact's bytes, or an error if absent
 *   artifact-size NAME    wasmreg_artifact_size
 *   artifact-read NAME OFFSET LEN   one wasmreg_artifact_read: "RESULT HEX"
 *   log                   one line at each level
 *   fail                  returns code 7 without a message
 *   failf                 wasmreg_fail with a formatted message
 *   output-then-fail      writes output, then fails
 *   lines N               N lines "%08zu\n" with wasmreg_outputf
 *   chunk N               N bytes in one wasmreg_output call
 *   longf N               "<" N 'x' ">" in one wasmreg_outputf call
 *   numbers               payload: a JSON array; echoes it with output_json_numbers
 *   ints                  payload: a JSON array of integers, each read with
 *                         wasmreg_json_parse_int; echoes it with output_json_ints
 *   string                payload: a JSON string; its decoded bytes
 *   quote                 payload: raw bytes; output_json_string of them
 *   validate              payload: "ok" or "<code> <offset> <wasmreg_json_error()>"
 *   find KEY              payload: an object; the raw value of KEY, or the error
 *   iterate               payload: an array or object; one line per element
 */
#define WASMREG_IMPLEMENTATION
#include "wasmreg.h"

#include <inttypes.h>
#include <stdio.h>

WASMREG_INFO("{\"name\":\"ccaps\",\"version\":\"0.1.0\","
             "\"description\":\"Test factory of the C SDK: every capability client.\","
             "\"capabilities\":[\"clock\",\"random\",\"artifact\",\"log\"]}");

static unsigned char build_bytes[32];

static void output_hex(const unsigned char *b, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    wasmreg_outputf("%02x", b[i]);
}

int wasmreg_factory_build(const char *config, size_t len) {
  static const char *const fields[] = {"seed", NULL};
  int64_t seed;
  int err;
  if (wasmreg_json_check_keys(config, len, fields) != WASMREG_JSON_OK)
    return wasmreg_fail(2, "config: %s", wasmreg_json_error());
  /* An integer, exactly: a double would round seeds past 2^53. */
  err = wasmreg_json_int(config, len, "seed", 0, INT64_MAX, &seed);
  if (err == WASMREG_JSON_ENOTFOUND)
    return 0;
  if (err != WASMREG_JSON_OK)
    return wasmreg_fail(2, "config field \"seed\": %s", wasmreg_json_error());
  wasmreg_random_seed((uint64_t)seed);
  wasmreg_random_fill(build_bytes, sizeof build_bytes);
  return 0;
}

/* is reports whether the command line starts with the word w. */
static int is(const char *cmd, size_t cmd_len, const char *w) {
  size_t n = strlen(w);
  return cmd_len >= n && memcmp(cmd, w, n) == 0 && (cmd_len == n || cmd[n] == ' ');
}

int wasmreg_factory_predict(const char *input, size_t len) {
  const char *nl = memchr(input, '\n', len);
  size_t cmd_len = nl != NULL ? (size_t)(nl - input) : len;
  const char *payload = nl != NULL ? nl + 1 : input + len;
  size_t plen = len - (size_t)(payload - input);
  char name[128];
  unsigned long long seed;
  size_t n, i;

  if (is(input, cmd_len, "clock")) {
    int64_t now = wasmreg_clock_now(), m1 = wasmreg_clock_monotonic(), m2 = wasmreg_clock_monotonic();
    wasmreg_outputf("{\"now\":%" PRId64 ",\"mono\":[%" PRId64 ",%" PRId64 "]}", now, m1, m2);
    return 0;
  }
  if (is(input, cmd_len, "seed-numbers") && sscanf(input, "seed-numbers %llu", &seed) == 1) {
    uint64_t u;
    double d;
    wasmreg_random_seed(seed);
    u = wasmreg_random_u64();
    d = wasmreg_random_double();
    wasmreg_outputf("%" PRIu64 " %a", u, d);
    return 0;
  }
  if (is(input, cmd_len, "seed") && sscanf(input, "seed %llu %zu", &seed, &n) == 2) {
    unsigned char *b = malloc(n + 1);
    if (b == NULL)
      return wasmreg_fail(4, "out of memory");
    wasmreg_random_seed(seed);
    wasmreg_random_fill(b, n);
    output_hex(b, n);
    free(b);
    return 0;
  }
  if (is(input, cmd_len, "fill") && sscanf(input, "fill %zu", &n) == 1) {
    unsigned char *b = malloc(n + 1);
    if (b == NULL)
      return wasmreg_fail(4, "out of memory");
    wasmreg_random_fill(b, n);
    output_hex(b, n);
    free(b);
    return 0;
  }
  if (is(input, cmd_len, "build-bytes")) {
    output_hex(build_bytes, sizeof build_bytes);
    return 0;
  }
  if (is(input, cmd_len, "artifact-size") && sscanf(input, "artifact-size %127s", name) == 1) {
    wasmreg_outputf("%" PRId64, wasmreg_artifact_size(name));
    return 0;
  }
  if (is(input, cmd_len, "artifact-read")) {
    long long offset;
    unsigned char buf[64];
    int64_t got;
    if (sscanf(input, "artifact-read %127s %lld %zu", name, &offset, &n) != 3 || n > sizeof buf)
      return wasmreg_fail(2, "usage: artifact-read NAME OFFSET LEN (LEN <= %zu)", sizeof buf);
    got = wasmreg_artifact_read(name, offset, buf, n);
    wasmreg_outputf("%" PRId64 " ", got);
    if (got > 0)
      output_hex(buf, (size_t)got);
    return 0;
  }
  if (is(input, cmd_len, "artifact") && sscanf(input, "artifact %127s", name) == 1) {
    void *b = wasmreg_artifact_read_all(name, &n);
    if (b == NULL)
      return wasmreg_fail(4, "artifact \"%s\" is absent (size %" PRId64 ")", name, wasmreg_artifact_size(name));
    if (((const char *)b)[n] != 0)
      return wasmreg_fail(5, "artifact \"%s\" is not NUL-terminated", name);
    wasmreg_output(b, n);
    free(b);
    return 0;
  }
  if (is(input, cmd_len, "log")) {
    wasmreg_log(WASMREG_LOG_DEBUG, "ccaps log at level %d", WASMREG_LOG_DEBUG);
    wasmreg_log(WASMREG_LOG_INFO, "ccaps log at level %d", WASMREG_LOG_INFO);
    wasmreg_log(WASMREG_LOG_WARN, "ccaps log at level %d", WASMREG_LOG_WARN);
    wasmreg_log(WASMREG_LOG_ERROR, "ccaps log at level %d", WASMREG_LOG_ERROR);
    return 0;
  }
  if (is(input, cmd_len, "fail"))
    return 7;
  if (is(input, cmd_len, "failf"))
    return wasmreg_fail(5, "formatted %d %s", 42, "failure");
  if (is(input, cmd_len, "output-then-fail")) {
    wasmreg_output_str("discarded");
    return wasmreg_fail(6, "failed after output");
  }
  if (is(input, cmd_len, "lines") && sscanf(input, "lines %zu", &n) == 1) {
    for (i = 0; i < n; i++)
      wasmreg_outputf("%08zu\n", i);
    return 0;
  }
  if (is(input, cmd_len, "chunk") && sscanf(input, "chunk %zu", &n) == 1) {
    char *b = malloc(n + 1);
    if (b == NULL)
      return wasmreg_fail(4, "out of memory");
    for (i = 0; i < n; i++)
      b[i] = (char)('a' + i % 26);
    wasmreg_output_str("<");
    wasmreg_output(b, n);
    wasmreg_output_str(">");
    free(b);
    return 0;
  }
  if (is(input, cmd_len, "longf") && sscanf(input, "longf %zu", &n) == 1) {
    char *b = malloc(n + 1);
    if (b == NULL)
      return wasmreg_fail(4, "out of memory");
    memset(b, 'x', n);
    b[n] = 0;
    wasmreg_output_str("..."); /* so that the long text does not fit what is left */
    wasmreg_outputf("<%s>", b);
    free(b);
    return 0;
  }
  if (is(input, cmd_len, "numbers")) {
    double *x;
    int err = wasmreg_json_parse_numbers(payload, plen, NULL, 0, &n);
    if (err != WASMREG_JSON_OK)
      return wasmreg_fail(3, "%d %zu %s", err, n, wasmreg_json_error());
    if ((x = malloc(n * sizeof *x + 1)) == NULL)
      return wasmreg_fail(4, "out of memory");
    err = wasmreg_json_parse_numbers(payload, plen, x, n, &i);
    if (err != WASMREG_JSON_OK || i != n)
      return wasmreg_fail(5, "second pass: %d %zu %zu", err, i, n);
    wasmreg_output_json_numbers(x, n);
    free(x);
    return 0;
  }
  if (is(input, cmd_len, "ints")) {
    wasmreg_json_iter it;
    const char *v;
    size_t vlen;
    int64_t *x = NULL, *grown;
    int err;
    if ((err = wasmreg_json_array_begin(&it, payload, plen)) != WASMREG_JSON_OK)
      return wasmreg_fail(3, "%d %s", err, wasmreg_json_error());
    for (n = 0; (err = wasmreg_json_array_next(&it, &v, &vlen)) > 0; n++) {
      if ((grown = realloc(x, (n + 1) * sizeof *x)) == NULL) {
        free(x);
        return wasmreg_fail(4, "out of memory");
      }
      x = grown;
      if ((err = wasmreg_json_parse_int(v, vlen, INT64_MIN, INT64_MAX, &x[n])) != WASMREG_JSON_OK) {
        free(x);
        return wasmreg_fail(3, "%d element %zu %s", err, n, wasmreg_json_error());
      }
    }
    wasmreg_output_json_ints(x, n);
    free(x);
    return 0;
  }
  if (is(input, cmd_len, "string")) {
    char *s;
    int err = wasmreg_json_parse_string(payload, plen, NULL, 0, &n);
    if (err != WASMREG_JSON_OK)
      return wasmreg_fail(3, "%d %s", err, wasmreg_json_error());
    if ((s = malloc(n + 1)) == NULL)
      return wasmreg_fail(4, "out of memory");
    err = wasmreg_json_parse_string(payload, plen, s, n + 1, &i);
    if (err != WASMREG_JSON_OK || i != n || s[n] != 0)
      return wasmreg_fail(5, "second pass: %d %zu %zu", err, i, n);
    if (n > 0 && wasmreg_json_parse_string(payload, plen, s, n, &i) != WASMREG_JSON_ETOOMANY)
      return wasmreg_fail(5, "no ETOOMANY with a buffer one byte short");
    wasmreg_json_parse_string(payload, plen, s, n + 1, &i);
    wasmreg_output(s, n);
    free(s);
    return 0;
  }
  if (is(input, cmd_len, "quote")) {
    wasmreg_output_json_string(payload, plen);
    return 0;
  }
  if (is(input, cmd_len, "validate")) {
    size_t at = 0;
    int err = wasmreg_json_validate(payload, plen, &at);
    if (err == WASMREG_JSON_OK)
      wasmreg_output_str("ok");
    else
      wasmreg_outputf("%d %zu %s", err, at, wasmreg_json_error());
    return 0;
  }
  if (is(input, cmd_len, "find") && sscanf(input, "find %127s", name) == 1) {
    const char *v;
    size_t vlen;
    int err = wasmreg_json_find(payload, plen, name, &v, &vlen);
    if (err != WASMREG_JSON_OK)
      return wasmreg_fail(3, "%d %s", err, wasmreg_json_error());
    wasmreg_output(v, vlen);
    return 0;
  }
  if (is(input, cmd_len, "iterate")) {
    wasmreg_json_iter it;
    const char *k, *v;
    size_t klen, vlen;
    int err;
    if (wasmreg_json_type(payload, plen) == WASMREG_JSON_OBJECT) {
      if ((err = wasmreg_json_object_begin(&it, payload, plen)) != WASMREG_JSON_OK)
        return wasmreg_fail(3, "%d %s", err, wasmreg_json_error());
      while ((err = wasmreg_json_object_next(&it, &k, &klen, &v, &vlen)) > 0)
        wasmreg_outputf("%.*s=%.*s\n", (int)klen, k, (int)vlen, v);
    } else {
      if ((err = wasmreg_json_array_begin(&it, payload, plen)) != WASMREG_JSON_OK)
        return wasmreg_fail(3, "%d %s", err, wasmreg_json_error());
      while ((err = wasmreg_json_array_next(&it, &v, &vlen)) > 0)
        wasmreg_outputf("%s:%.*s\n", wasmreg_json_type_name(wasmreg_json_type(v, vlen)), (int)vlen, v);
    }
    if (err != 0)
      return wasmreg_fail(5, "iteration ended with %d", err);
    return 0;
  }
  return wasmreg_fail(2, "unknown command %.*s", (int)(cmd_len > 64 ? 64 : cmd_len), input);
}
