/*
 * wasmreg.h: the header-only C SDK for wasmreg factories, guest ABI v1.
 *
 * The contract is docs/ABI.md in the wasmreg repository; this header only
 * saves typing. A factory is one or more C files compiled with
 *
 *     clang --target=wasm32-wasi -mexec-model=reactor -O2 -o f.wasm f.c
 *
 * In exactly one of them, define WASMREG_IMPLEMENTATION before including
 * this header; that file then holds the ABI's exports. The factory itself
 * provides the metadata and two functions:
 *
 *     #define WASMREG_IMPLEMENTATION
 *     #include "wasmreg.h"
 *
 *     WASMREG_INFO("{\"name\":\"scale\",\"version\":\"1.0.0\"}");
 *
 *     int wasmreg_factory_build(const char *config, size_t len) { ... return 0; }
 *     int wasmreg_factory_predict(const char *input, size_t len) {
 *         wasmreg_output_str("...");   // the response
 *         return 0;
 *     }
 *
 * What the header does for you:
 *
 *   - exports wasmreg_abi_version, wasmreg_info, wasmreg_build and
 *     wasmreg_predict (clang exports the memory, and -mexec-model=reactor
 *     provides _initialize, which runs C constructors);
 *   - fetches each call's input into a fresh buffer of len+1 bytes,
 *     NUL-terminated for convenience (the input may itself contain NUL
 *     bytes: trust len), and frees it when your function returns. Copy what
 *     you keep: the config buffer is gone after wasmreg_factory_build;
 *   - buffers output (WASMREG_OUTPUT_BUFFER bytes) and sends it when your
 *     function returns 0; output of a failing call is discarded, as the ABI
 *     says;
 *   - gives typed clients for the capabilities (clock, random, artifact).
 *     They are static inline, so a module imports a capability only if it
 *     calls one of its functions: a factory that never calls
 *     wasmreg_clock_now does not need the clock grant. The SDK itself
 *     imports only wasmreg.input, wasmreg.output and wasmreg.error (and
 *     wasmreg.log if you log);
 *   - a small, bounds-checked JSON reader for configs and requests.
 *
 * Return codes: 0 is success; anything else fails the call. Set a message
 * with wasmreg_fail: `return wasmreg_fail(2, "config field \"k\": %s", why);`.
 * A non-zero return without a message makes the host report
 * "export wasmreg_predict returned code N".
 *
 * The host calls one export of an instance at a time, so nothing here is
 * thread-safe and nothing needs to be: the SDK keeps its state (the output
 * buffer, the JSON error detail) in plain static variables.
 */
#ifndef WASMREG_H
#define WASMREG_H

#if !defined(__wasm32__)
#error "wasmreg.h targets WebAssembly: compile with clang --target=wasm32-wasi -mexec-model=reactor"
#endif

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version this header speaks; wasmreg_abi_version returns it. */
#define WASMREG_ABI_VERSION 1

/* ------------------------------------------------------------------------
 * What the factory implements
 * ------------------------------------------------------------------------ */

/*
 * wasmreg_factory_build is called once per model with the build
 * configuration (JSON; "{}" when the user gave none). Return 0 to accept
 * it; the state you leave in memory is the model. Runs in a fresh instance
 * for every model.
 */
int wasmreg_factory_build(const char *config, size_t len);

/*
 * wasmreg_factory_predict is called for every request to a built model.
 * Write the response with the wasmreg_output functions and return 0.
 * A failed prediction leaves the model usable.
 */
int wasmreg_factory_predict(const char *input, size_t len);

/*
 * wasmreg_factory_info writes the metadata JSON (docs/ABI.md §5) with the
 * wasmreg_output functions and returns 0. WASMREG_INFO defines it from a
 * string literal; define it yourself instead to compute the metadata.
 */
int wasmreg_factory_info(void);

/*
 * WASMREG_INFO(json) defines wasmreg_factory_info from a string literal:
 *
 *     WASMREG_INFO("{\"name\":\"scale\",\"version\":\"1.0.0\","
 *                  "\"description\":\"scales numbers\"}");
 *
 * Fields: name and version (required), description, config_schema (a JSON
 * object), capabilities (any of "log", "clock", "random", "artifact"),
 * tensors (a tensor signature, see WASMREG_TENSOR).
 * The host refuses unknown fields, so a typo shows at the first load.
 */
#define WASMREG_INFO(json)                                                    \
  int wasmreg_factory_info(void) {                                            \
    wasmreg_output("" json, sizeof("" json) - 1);                             \
    return 0;                                                                 \
  }                                                                           \
  extern int wasmreg__info_defined /* swallows the caller's semicolon */

/*
 * WASMREG_TENSOR(name, DATATYPE, dims...) is the string literal of one
 * tensor of a signature (docs/ABI.md §5), for the "tensors" field of
 * WASMREG_INFO: a name (a string literal: 1 to 128 bytes, no control
 * characters or quotes), a datatype token (BOOL, UINT8, UINT16, UINT32,
 * UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64, BYTES) and the
 * dimensions, -1 for a variable one (none for a scalar):
 *
 *     WASMREG_INFO("{\"name\":\"digits\",\"version\":\"1.0.0\","
 *                  "\"tensors\":{\"inputs\":[" WASMREG_TENSOR("pixels", FP32, -1, 64) "],"
 *                  "\"outputs\":[" WASMREG_TENSOR("class", INT64, -1) ","
 *                                  WASMREG_TENSOR("probabilities", FP32, -1, 10) "]}}");
 *
 * A misspelt datatype does not compile (WASMREG__DT_FP33 is undeclared);
 * the host checks the rest at Load: at most 1 input and 16 outputs, names
 * unique per side, at most 16 dimensions, each -1 or 0 to 16777216.
 */
#define WASMREG_TENSOR(name, datatype, ...)                                   \
  "{\"name\":\"" name "\",\"datatype\":" WASMREG__DT_##datatype             \
  ",\"shape\":[" #__VA_ARGS__ "]}"

#define WASMREG__DT_BOOL "\"BOOL\""
#define WASMREG__DT_UINT8 "\"UINT8\""
#define WASMREG__DT_UINT16 "\"UINT16\""
#define WASMREG__DT_UINT32 "\"UINT32\""
#define WASMREG__DT_UINT64 "\"UINT64\""
#define WASMREG__DT_INT8 "\"INT8\""
#define WASMREG__DT_INT16 "\"INT16\""
#define WASMREG__DT_INT32 "\"INT32\""
#define WASMREG__DT_INT64 "\"INT64\""
#define WASMREG__DT_FP16 "\"FP16\""
#define WASMREG__DT_FP32 "\"FP32\""
#define WASMREG__DT_FP64 "\"FP64\""
#define WASMREG__DT_BYTES "\"BYTES\""

/* ------------------------------------------------------------------------
 * The wasmreg import module (docs/ABI.md §4). Use the functions below
 * rather than these; they are declared here so that the static inline
 * clients can reach them, and clang only imports the ones a module calls.
 * ------------------------------------------------------------------------ */

#define WASMREG__IMPORT(name) __attribute__((import_module("wasmreg"), import_name(name)))

WASMREG__IMPORT("input") void wasmreg__input(void *ptr);
WASMREG__IMPORT("output") void wasmreg__output(const void *ptr, size_t len);
WASMREG__IMPORT("error") void wasmreg__error(const void *ptr, size_t len);
WASMREG__IMPORT("log") void wasmreg__log(int32_t level, const void *ptr, size_t len);
WASMREG__IMPORT("clock_now") int64_t wasmreg__clock_now(void);
WASMREG__IMPORT("clock_monotonic") int64_t wasmreg__clock_monotonic(void);
WASMREG__IMPORT("random_fill") void wasmreg__random_fill(void *ptr, size_t len);
WASMREG__IMPORT("random_seed") void wasmreg__random_seed(int64_t seed);
WASMREG__IMPORT("artifact_size") int64_t wasmreg__artifact_size(const char *name, size_t name_len);
WASMREG__IMPORT("artifact_read")
int64_t wasmreg__artifact_read(const char *name, size_t name_len, int64_t offset, void *ptr, size_t len);

/* ------------------------------------------------------------------------
 * Output and errors (always available)
 * ------------------------------------------------------------------------ */

/* Bytes of output the SDK collects before it calls the output import. */
#ifndef WASMREG_OUTPUT_BUFFER
#define WASMREG_OUTPUT_BUFFER 65536
#endif

/* wasmreg_output appends n bytes at p to the current call's response. */
void wasmreg_output(const void *p, size_t n);

/* wasmreg_output_str appends the NUL-terminated string s. */
void wasmreg_output_str(const char *s);

/* wasmreg_outputf appends printf-formatted text, of any length. */
void wasmreg_outputf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* wasmreg_output_json_number appends v as a JSON number that parses back
 * to exactly v ("2", "0.1", "1e+300"); NaN and infinities, which JSON
 * cannot represent, are written as null. */
void wasmreg_output_json_number(double v);

/* wasmreg_output_json_numbers appends a JSON array of the n numbers at v. */
void wasmreg_output_json_numbers(const double *v, size_t n);

/* wasmreg_output_json_string appends the n bytes at s as a quoted JSON
 * string, escaping quotes, backslashes and control characters and
 * replacing invalid UTF-8 with U+FFFD, so the result is always valid. */
void wasmreg_output_json_string(const char *s, size_t n);

/*
 * wasmreg_fail sets the current call's error message (printf-formatted)
 * and returns code, so that a factory fails with one statement:
 *
 *     return wasmreg_fail(2, "config field \"factor\": %s", wasmreg_json_error());
 *
 * code must be non-zero (0 would mean success and drop the message); a 0
 * is turned into 1. The host keeps the first 4 KiB of the message. Call it
 * only from within wasmreg_factory_build, _predict or _info: the error
 * import fails an instantiation if called from a constructor.
 */
int wasmreg_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * wasmreg_trap sets the current call's error message (printf-formatted),
 * as wasmreg_fail does, and traps: the way to fail from anywhere, however
 * deep, when returning a code is impractical. The host reports the message
 * as the trap's reason and closes the instance (its model fails for good).
 * Called from a constructor, the message cannot be set (see wasmreg_fail):
 * write it to stderr first, whose last lines are the reason then.
 */
_Noreturn void wasmreg_trap(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* wasmreg__vformat formats into a new malloc'd string of *n bytes
 * (NUL-terminated), or returns NULL. Internal: wasmreg_log uses it. */
char *wasmreg__vformat(size_t *n, const char *fmt, va_list ap);

/* ------------------------------------------------------------------------
 * Logging (the "log" capability, always granted)
 * ------------------------------------------------------------------------ */

/* Levels, as Go's log/slog; values in between are allowed. */
enum {
  WASMREG_LOG_DEBUG = -4,
  WASMREG_LOG_INFO = 0,
  WASMREG_LOG_WARN = 4,
  WASMREG_LOG_ERROR = 8
};

/* wasmreg_log writes one printf-formatted line to the host's log. The host
 * truncates long lines (4 KiB by default), escapes control characters and
 * keeps at most 1000 lines per call. It works everywhere, constructors
 * included. List "log" in the metadata's capabilities if you use it. */
static inline __attribute__((format(printf, 2, 3))) void wasmreg_log(int level, const char *fmt, ...) {
  va_list ap;
  size_t n = 0;
  char *s;
  va_start(ap, fmt);
  s = wasmreg__vformat(&n, fmt, ap);
  va_end(ap);
  if (s == NULL) {
    wasmreg__log(level, fmt, strlen(fmt)); /* out of memory: the format is better than nothing */
    return;
  }
  wasmreg__log(level, s, n);
  free(s);
}

/* ------------------------------------------------------------------------
 * Capability "clock" (grant: clock)
 * ------------------------------------------------------------------------ */

/* wasmreg_clock_now returns the wall-clock time in nanoseconds since
 * 1970-01-01T00:00:00Z. */
static inline int64_t wasmreg_clock_now(void) { return wasmreg__clock_now(); }

/* wasmreg_clock_monotonic returns nanoseconds since an arbitrary origin
 * fixed for the host's life; it never decreases. Use it for durations. */
static inline int64_t wasmreg_clock_monotonic(void) { return wasmreg__clock_monotonic(); }

/* ------------------------------------------------------------------------
 * Capability "random" (grant: random)
 *
 * Every export call has its own stream. After wasmreg_random_seed(s), and
 * until the current call returns, the stream is ChaCha8 keyed by s (Go's
 * math/rand/v2 ChaCha8 with the seed as 8 little-endian bytes then 24 zero
 * bytes): the same seed gives the same numbers on every host.
 * ------------------------------------------------------------------------ */

/* wasmreg_random_fill fills n bytes at p with the next bytes of the stream. */
static inline void wasmreg_random_fill(void *p, size_t n) { wasmreg__random_fill(p, n); }

/* wasmreg_random_seed restarts this call's stream from seed. */
static inline void wasmreg_random_seed(uint64_t seed) { wasmreg__random_seed((int64_t)seed); }

/* wasmreg_random_u64 returns the next 8 bytes of the stream, little-endian. */
static inline uint64_t wasmreg_random_u64(void) {
  unsigned char b[8];
  uint64_t v = 0;
  int i;
  wasmreg__random_fill(b, sizeof b);
  for (i = 7; i >= 0; i--)
    v = v << 8 | b[i];
  return v;
}

/* wasmreg_random_double returns a uniform double in [0, 1) with 53 random
 * bits: (wasmreg_random_u64() >> 11) * 2^-53. */
static inline double wasmreg_random_double(void) { return (double)(wasmreg_random_u64() >> 11) * 0x1.0p-53; }

/* ------------------------------------------------------------------------
 * Capability "artifact" (grant: artifact; the CLI: --grant artifact=NAME=FILE)
 * ------------------------------------------------------------------------ */

/* wasmreg_artifact_size returns the size in bytes of the artifact name, or
 * -1 if the host has no artifact of that name. */
static inline int64_t wasmreg_artifact_size(const char *name) { return wasmreg__artifact_size(name, strlen(name)); }

/* wasmreg_artifact_read copies up to len bytes of artifact name, from byte
 * offset on, to buf. It returns the number of bytes copied (0 at or past
 * the end), -1 if there is no such artifact, -2 if offset is negative. */
static inline int64_t wasmreg_artifact_read(const char *name, int64_t offset, void *buf, size_t len) {
  return wasmreg__artifact_read(name, strlen(name), offset, buf, len);
}

/* wasmreg_artifact_read_all returns the whole artifact in a malloc'd buffer
 * (free it), with a NUL byte after its *len bytes for convenience. It
 * returns NULL if the artifact is absent or memory runs out; tell the two
 * apart with wasmreg_artifact_size. len may be NULL. */
static inline void *wasmreg_artifact_read_all(const char *name, size_t *len) {
  size_t name_len = strlen(name), got = 0;
  int64_t size = wasmreg__artifact_size(name, name_len);
  unsigned char *buf;
  if (len != NULL)
    *len = 0;
  if (size < 0 || (uint64_t)size >= (uint64_t)SIZE_MAX)
    return NULL;
  buf = (unsigned char *)malloc((size_t)size + 1);
  if (buf == NULL)
    return NULL;
  while (got < (size_t)size) {
    int64_t k = wasmreg__artifact_read(name, name_len, (int64_t)got, buf + got, (size_t)size - got);
    if (k < 0) {
      free(buf);
      return NULL;
    }
    if (k == 0)
      break; /* shorter than announced: keep what there is */
    got += (size_t)k;
  }
  buf[got] = 0;
  if (len != NULL)
    *len = got;
  return buf;
}

/* ------------------------------------------------------------------------
 * JSON: the reader and writer are in wasmreg_json.h, next to this file.
 * ------------------------------------------------------------------------ */

#include "wasmreg_json.h"

/* wasmreg_output_json_int appends v in decimal. */
void wasmreg_output_json_int(int64_t v);

/* wasmreg_output_json_ints appends a JSON array of the n integers at v. */
void wasmreg_output_json_ints(const int64_t *v, size_t n);

/*
 * Objects, member by member (see wasmreg_json_object in wasmreg_json.h):
 *
 *     wasmreg_json_object o;
 *     wasmreg_output_json_object_begin(&o);
 *     wasmreg_output_json_key(&o, "label");
 *     wasmreg_output_json_int(3);
 *     wasmreg_output_json_key(&o, "scores");
 *     wasmreg_output_json_numbers(scores, 3);
 *     wasmreg_output_json_object_end(&o);      // {"label":3,"scores":[...]}
 */
void wasmreg_output_json_object_begin(wasmreg_json_object *o);
void wasmreg_output_json_key(wasmreg_json_object *o, const char *key);
void wasmreg_output_json_object_end(wasmreg_json_object *o);

#ifdef __cplusplus
}
#endif

#endif /* WASMREG_H */

/* ========================================================================
 * Implementation: compiled in the one file that defines
 * WASMREG_IMPLEMENTATION.
 * ======================================================================== */
#if defined(WASMREG_IMPLEMENTATION) && !defined(WASMREG__IMPLEMENTED)
#define WASMREG__IMPLEMENTED

#define WASMREG_JSON_IMPLEMENTATION
#include "wasmreg_json.h"

#include <math.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Output ---- */

static char wasmreg__obuf[WASMREG_OUTPUT_BUFFER];
static size_t wasmreg__olen;  /* bytes in wasmreg__obuf */
static int wasmreg__onomem;   /* output was lost for lack of memory */

static void wasmreg__flush(void) {
  if (wasmreg__olen > 0)
    wasmreg__output(wasmreg__obuf, wasmreg__olen);
  wasmreg__olen = 0;
}

void wasmreg_output(const void *p, size_t n) {
  if (n > sizeof wasmreg__obuf - wasmreg__olen) {
    wasmreg__flush();
    if (n >= sizeof wasmreg__obuf) {
      wasmreg__output(p, n);
      return;
    }
  }
  if (n > 0)
    memcpy(wasmreg__obuf + wasmreg__olen, p, n);
  wasmreg__olen += n;
}

void wasmreg_output_str(const char *s) { wasmreg_output(s, strlen(s)); }

void wasmreg_outputf(const char *fmt, ...) {
  va_list ap, again;
  size_t room = sizeof wasmreg__obuf - wasmreg__olen;
  int k;
  va_start(ap, fmt);
  va_copy(again, ap);
  k = vsnprintf(wasmreg__obuf + wasmreg__olen, room, fmt, ap);
  va_end(ap);
  if (k < 0) {
    /* an encoding error: nothing is written */
  } else if ((size_t)k < room) {
    wasmreg__olen += (size_t)k;
  } else if ((size_t)k < sizeof wasmreg__obuf) {
    wasmreg__flush();
    vsnprintf(wasmreg__obuf, sizeof wasmreg__obuf, fmt, again);
    wasmreg__olen = (size_t)k;
  } else {
    char *s = (char *)malloc((size_t)k + 1);
    if (s == NULL) {
      wasmreg__onomem = 1;
    } else {
      vsnprintf(s, (size_t)k + 1, fmt, again);
      wasmreg_output(s, (size_t)k);
      free(s);
    }
  }
  va_end(again);
}

static void wasmreg__sink(void *ctx, const void *p, size_t n) {
  (void)ctx;
  wasmreg_output(p, n);
}

void wasmreg_output_json_number(double v) { wasmreg_json_write_number(wasmreg__sink, NULL, v); }

void wasmreg_output_json_int(int64_t v) { wasmreg_json_write_int(wasmreg__sink, NULL, v); }

void wasmreg_output_json_ints(const int64_t *v, size_t n) { wasmreg_json_write_ints(wasmreg__sink, NULL, v, n); }

void wasmreg_output_json_object_begin(wasmreg_json_object *o) { wasmreg_json_write_object_begin(wasmreg__sink, NULL, o); }

void wasmreg_output_json_key(wasmreg_json_object *o, const char *key) {
  wasmreg_json_write_key(wasmreg__sink, NULL, o, key);
}

void wasmreg_output_json_object_end(wasmreg_json_object *o) { wasmreg_json_write_object_end(wasmreg__sink, NULL, o); }

void wasmreg_output_json_numbers(const double *v, size_t n) {
  size_t i;
  wasmreg_output("[", 1);
  for (i = 0; i < n; i++) {
    if (i > 0)
      wasmreg_output(",", 1);
    wasmreg_output_json_number(v[i]);
  }
  wasmreg_output("]", 1);
}

void wasmreg_output_json_string(const char *s, size_t n) { wasmreg_json_write_string(wasmreg__sink, NULL, s, n); }

char *wasmreg__vformat(size_t *n, const char *fmt, va_list ap) {
  char small[256], *s;
  va_list again;
  int k;
  va_copy(again, ap);
  k = vsnprintf(small, sizeof small, fmt, ap);
  if (k < 0 || (s = (char *)malloc((size_t)k + 1)) == NULL) {
    va_end(again);
    return NULL;
  }
  if ((size_t)k < sizeof small)
    memcpy(s, small, (size_t)k + 1);
  else
    vsnprintf(s, (size_t)k + 1, fmt, again);
  va_end(again);
  *n = (size_t)k;
  return s;
}

int wasmreg_fail(int code, const char *fmt, ...) {
  va_list ap;
  size_t n = 0;
  char *s;
  va_start(ap, fmt);
  s = wasmreg__vformat(&n, fmt, ap);
  va_end(ap);
  if (s == NULL) {
    wasmreg__error(fmt, strlen(fmt));
  } else {
    wasmreg__error(s, n);
    free(s);
  }
  return code != 0 ? code : 1;
}

_Noreturn void wasmreg_trap(const char *fmt, ...) {
  va_list ap;
  size_t n = 0;
  char *s;
  va_start(ap, fmt);
  s = wasmreg__vformat(&n, fmt, ap);
  va_end(ap);
  if (s == NULL)
    wasmreg__error(fmt, strlen(fmt));
  else
    wasmreg__error(s, n);
  __builtin_trap();
}

/* ---- The ABI's exports ---- */

/* wasmreg__end finishes an export call: it sends the buffered output if
 * the call succeeded, and drops it otherwise (the host would). */
static int32_t wasmreg__end(int rc) {
  if (rc == 0 && wasmreg__onomem)
    rc = wasmreg_fail(1, "wasmreg.h: out of memory while formatting the output");
  if (rc == 0)
    wasmreg__flush();
  wasmreg__olen = 0;
  wasmreg__onomem = 0;
  return rc;
}

/* wasmreg__with_input runs fn with the call's input, len bytes, in a
 * NUL-terminated buffer that lives for the call. */
static int32_t wasmreg__with_input(int (*fn)(const char *, size_t), int32_t len32) {
  size_t len = (uint32_t)len32;
  char *buf;
  int rc;
  wasmreg__olen = 0;
  wasmreg__onomem = 0;
  if (len == SIZE_MAX || (buf = (char *)malloc(len + 1)) == NULL)
    return wasmreg__end(wasmreg_fail(1, "wasmreg.h: out of memory for the %zu-byte input", len));
  if (len > 0)
    wasmreg__input(buf);
  buf[len] = 0;
  rc = fn(buf, len);
  free(buf);
  return wasmreg__end(rc);
}

int32_t wasmreg__export_abi_version(void);
int32_t wasmreg__export_info(void);
int32_t wasmreg__export_build(int32_t len);
int32_t wasmreg__export_predict(int32_t len);

__attribute__((export_name("wasmreg_abi_version"))) int32_t wasmreg__export_abi_version(void) {
  return WASMREG_ABI_VERSION;
}

__attribute__((export_name("wasmreg_info"))) int32_t wasmreg__export_info(void) {
  wasmreg__olen = 0;
  wasmreg__onomem = 0;
  return wasmreg__end(wasmreg_factory_info());
}

__attribute__((export_name("wasmreg_build"))) int32_t wasmreg__export_build(int32_t len) {
  return wasmreg__with_input(wasmreg_factory_build, len);
}

__attribute__((export_name("wasmreg_predict"))) int32_t wasmreg__export_predict(int32_t len) {
  return wasmreg__with_input(wasmreg_factory_predict, len);
}

#ifdef __cplusplus
}
#endif

#endif /* WASMREG_IMPLEMENTATION */
