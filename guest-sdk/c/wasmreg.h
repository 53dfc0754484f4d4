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
 * JSON reader
 *
 * A small reader for configs and requests: RFC 8259 JSON, checked in full
 * before any value is used, with every access bounds-checked, so malformed
 * input of any kind gives an error code, never an out-of-bounds read. Input
 * is (pointer, length) and need not be NUL-terminated. Nesting deeper than
 * WASMREG_JSON_MAX_DEPTH is refused (the reader recurses).
 *
 * Every function returns WASMREG_JSON_OK (0) or a negative error code.
 * After an error, wasmreg_json_error() describes it in words meant for the
 * user, such as "malformed JSON at byte 7 ('}'): expected a value" or
 * "is a string, want a number"; prefix it with what was being read:
 *
 *     double factor;
 *     int err = wasmreg_json_number(config, len, "factor", &factor);
 *     if (err != WASMREG_JSON_OK)
 *       return wasmreg_fail(2, "config field \"factor\": %s", wasmreg_json_error());
 *
 * Values found inside a document (by wasmreg_json_find or the iterators)
 * are spans (pointer, length) into it, and are themselves JSON documents
 * that every function here accepts.
 * ------------------------------------------------------------------------ */

#ifndef WASMREG_JSON_MAX_DEPTH
#define WASMREG_JSON_MAX_DEPTH 128
#endif

/* Error codes. */
enum {
  WASMREG_JSON_OK = 0,
  WASMREG_JSON_ENOTFOUND = -1,  /* the key is not in the object */
  WASMREG_JSON_ESYNTAX = -2,    /* not valid JSON */
  WASMREG_JSON_ETYPE = -3,      /* a value of another type than asked for */
  WASMREG_JSON_ERANGE = -4,     /* a number too large for a double */
  WASMREG_JSON_ETOOMANY = -5,   /* more values, or a longer string, than room for */
  WASMREG_JSON_EDEPTH = -6,     /* nested deeper than WASMREG_JSON_MAX_DEPTH */
  WASMREG_JSON_EDUPLICATE = -7, /* the key appears more than once */
  WASMREG_JSON_ENOMEM = -8      /* malloc failed */
};

/* Types, as wasmreg_json_type returns them. */
enum {
  WASMREG_JSON_NONE = 0, /* empty or not JSON */
  WASMREG_JSON_NULL,
  WASMREG_JSON_BOOL,
  WASMREG_JSON_NUMBER,
  WASMREG_JSON_STRING,
  WASMREG_JSON_ARRAY,
  WASMREG_JSON_OBJECT
};

/* wasmreg_json_error describes the last error of a wasmreg_json function. */
const char *wasmreg_json_error(void);

/* wasmreg_json_strerror names an error code ("missing", "malformed JSON"…). */
const char *wasmreg_json_strerror(int err);

/* wasmreg_json_validate checks that json is one valid JSON value,
 * optionally surrounded by whitespace. On ESYNTAX or EDEPTH, *offset (if
 * offset is not NULL) is the byte where it went wrong. */
int wasmreg_json_validate(const char *json, size_t len, size_t *offset);

/* wasmreg_json_type returns the type of the value json starts with (after
 * whitespace), judging by its first byte only: WASMREG_JSON_NONE if empty
 * or if that byte cannot start a value. */
int wasmreg_json_type(const char *json, size_t len);

/* wasmreg_json_type_name names a type with its article, for messages:
 * "a number", "an array", "null", "nothing"... */
const char *wasmreg_json_type_name(int type);

/* wasmreg_json_find finds key among the members of the top-level object of
 * json and sets *val, *val_len to its value. ETYPE if json is not an
 * object, ENOTFOUND if key is absent, EDUPLICATE if it appears twice. */
int wasmreg_json_find(const char *json, size_t len, const char *key, const char **val, size_t *val_len);

/* wasmreg_json_parse_number reads a value that must be a number. ERANGE if
 * it does not fit a double (1e999); tiny numbers round to 0. */
int wasmreg_json_parse_number(const char *json, size_t len, double *out);

/*
 * wasmreg_json_parse_numbers reads an array of numbers, such as a request
 * [5.1, 3.5, 1.4, 0.2], into out[0..max). *n is set to:
 *   - on success, the number of elements;
 *   - on ETOOMANY (more than max elements), the number of elements;
 *   - on ETYPE or ERANGE of an element, that element's index (0-based).
 * With out == NULL it only counts and checks the elements (max is
 * ignored): call it so to size an allocation, then again to fill it.
 */
int wasmreg_json_parse_numbers(const char *json, size_t len, double *out, size_t max, size_t *n);

/* wasmreg_json_parse_string decodes a value that must be a string into out,
 * NUL-terminated, and sets *n to its length in bytes (escapes decoded;
 * invalid UTF-8 and lone surrogates become U+FFFD, as Go does). ETOOMANY if
 * it needs more than cap bytes with the NUL; *n is then the length needed.
 * With out == NULL it only measures. */
int wasmreg_json_parse_string(const char *json, size_t len, char *out, size_t cap, size_t *n);

/* wasmreg_json_string_equals returns 1 if json is a JSON string whose
 * decoded value is s, else 0. */
int wasmreg_json_string_equals(const char *json, size_t len, const char *s);

/* Shortcuts: wasmreg_json_find, then parse the value. */
int wasmreg_json_number(const char *json, size_t len, const char *key, double *out);
int wasmreg_json_numbers(const char *json, size_t len, const char *key, double *out, size_t max, size_t *n);
int wasmreg_json_string(const char *json, size_t len, const char *key, char *out, size_t cap, size_t *n);

/*
 * Iterators over the elements of an array or the members of an object:
 *
 *     wasmreg_json_iter it;
 *     const char *v; size_t vlen;
 *     int err = wasmreg_json_array_begin(&it, json, len);   // ETYPE if not an array
 *     while ((err = wasmreg_json_array_next(&it, &v, &vlen)) > 0) { ... }
 *     // err is 0 at the end
 *
 * begin checks the whole document first, so next cannot meet malformed
 * input: it returns 1 with the next value, or 0 at the end. An object's
 * key is returned as a span that is a JSON string, quotes included: compare
 * it with wasmreg_json_string_equals, decode it with
 * wasmreg_json_parse_string, or print it as it is (it is valid JSON).
 */
typedef struct wasmreg_json_iter {
  const char *json; /* the document */
  size_t len;       /* its length */
  size_t pos;       /* where the next element starts, or its separator */
  int started;      /* an element has been returned */
  int done;         /* the closing bracket was reached */
} wasmreg_json_iter;

int wasmreg_json_array_begin(wasmreg_json_iter *it, const char *json, size_t len);
int wasmreg_json_array_next(wasmreg_json_iter *it, const char **val, size_t *val_len);
int wasmreg_json_object_begin(wasmreg_json_iter *it, const char *json, size_t len);
int wasmreg_json_object_next(wasmreg_json_iter *it, const char **key, size_t *key_len, const char **val,
                             size_t *val_len);

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

void wasmreg_output_json_number(double v) {
  char b[32];
  int prec;
  if (!isfinite(v)) {
    wasmreg_output("null", 4);
    return;
  }
  /* The shortest of 15, 16 or 17 significant digits that reads back as v;
   * 17 always does. %g never prints inf or nan here, and its "1e+300" is
   * valid JSON. */
  for (prec = 15; prec < 17; prec++) {
    snprintf(b, sizeof b, "%.*g", prec, v);
    if (strtod(b, NULL) == v)
      break;
  }
  if (prec == 17)
    snprintf(b, sizeof b, "%.17g", v);
  wasmreg_output(b, strlen(b));
}

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

/* wasmreg__utf8_len returns the length of the valid UTF-8 sequence at s
 * (at most n bytes), or 0 if s does not start with one. */
static size_t wasmreg__utf8_len(const unsigned char *s, size_t n) {
  unsigned char c = s[0], lo = 0x80, hi = 0xBF;
  size_t k, i;
  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF)
    k = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    k = 3;
    if (c == 0xE0)
      lo = 0xA0; /* no overlong forms */
    if (c == 0xED)
      hi = 0x9F; /* no surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    k = 4;
    if (c == 0xF0)
      lo = 0x90;
    if (c == 0xF4)
      hi = 0x8F; /* nothing above U+10FFFF */
  } else
    return 0;
  if (n < k || s[1] < lo || s[1] > hi)
    return 0;
  for (i = 2; i < k; i++)
    if (s[i] < 0x80 || s[i] > 0xBF)
      return 0;
  return k;
}

void wasmreg_output_json_string(const char *str, size_t n) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0, run = 0; /* s[run..i) is copied as it is */
  wasmreg_output("\"", 1);
  while (i < n) {
    unsigned char c = s[i];
    char esc[6];
    size_t k;
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0x80 && (k = wasmreg__utf8_len(s + i, n - i)) > 0) {
      i += k;
      continue;
    }
    wasmreg_output(s + run, i - run);
    if (c >= 0x80) {
      wasmreg_output("\\ufffd", 6);
    } else if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      wasmreg_output(esc, 2);
    } else if (c == '\n') {
      wasmreg_output("\\n", 2);
    } else if (c == '\r') {
      wasmreg_output("\\r", 2);
    } else if (c == '\t') {
      wasmreg_output("\\t", 2);
    } else {
      esc[0] = '\\';
      esc[1] = 'u';
      esc[2] = '0';
      esc[3] = '0';
      esc[4] = hex[c >> 4];
      esc[5] = hex[c & 15];
      wasmreg_output(esc, 6);
    }
    run = ++i;
  }
  wasmreg_output(s + run, n - run);
  wasmreg_output("\"", 1);
}

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

/* ---- JSON ---- */

static char wasmreg__jerr[200]; /* the detail wasmreg_json_error returns */

const char *wasmreg_json_error(void) { return wasmreg__jerr; }

__attribute__((format(printf, 2, 3))) static int wasmreg__jfail(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(wasmreg__jerr, sizeof wasmreg__jerr, fmt, ap);
  va_end(ap);
  return code;
}

const char *wasmreg_json_strerror(int err) {
  switch (err) {
  case WASMREG_JSON_OK:
    return "ok";
  case WASMREG_JSON_ENOTFOUND:
    return "missing";
  case WASMREG_JSON_ESYNTAX:
    return "malformed JSON";
  case WASMREG_JSON_ETYPE:
    return "wrong type";
  case WASMREG_JSON_ERANGE:
    return "number out of range";
  case WASMREG_JSON_ETOOMANY:
    return "too many values";
  case WASMREG_JSON_EDEPTH:
    return "nested too deeply";
  case WASMREG_JSON_EDUPLICATE:
    return "appears more than once";
  case WASMREG_JSON_ENOMEM:
    return "out of memory";
  }
  return "unknown error";
}

const char *wasmreg_json_type_name(int type) {
  switch (type) {
  case WASMREG_JSON_NULL:
    return "null";
  case WASMREG_JSON_BOOL:
    return "a boolean";
  case WASMREG_JSON_NUMBER:
    return "a number";
  case WASMREG_JSON_STRING:
    return "a string";
  case WASMREG_JSON_ARRAY:
    return "an array";
  case WASMREG_JSON_OBJECT:
    return "an object";
  }
  return "nothing";
}

/* A scan of a document: s[0..n), at i. */
typedef struct {
  const char *s;
  size_t n, i;
  int depth;
  const char *why; /* why the scan stopped, on error */
} wasmreg__jscan;

static int wasmreg__jdigit(char c) { return c >= '0' && c <= '9'; }

static int wasmreg__jhex(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static void wasmreg__jws(wasmreg__jscan *p) {
  while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
    p->i++;
}

static int wasmreg__jsyntax(wasmreg__jscan *p, const char *why) {
  p->why = why;
  return WASMREG_JSON_ESYNTAX;
}

static int wasmreg__jvalue(wasmreg__jscan *p);

/* wasmreg__jstring scans a string; p->s[p->i] is its opening quote. */
static int wasmreg__jstring(wasmreg__jscan *p) {
  p->i++;
  for (;;) {
    unsigned char c;
    if (p->i >= p->n)
      return wasmreg__jsyntax(p, "unterminated string");
    c = (unsigned char)p->s[p->i];
    if (c == '"') {
      p->i++;
      return WASMREG_JSON_OK;
    }
    if (c < 0x20)
      return wasmreg__jsyntax(p, "control character in a string (escape it)");
    if (c != '\\') {
      p->i++;
      continue;
    }
    if (p->i + 1 >= p->n) {
      p->i++;
      return wasmreg__jsyntax(p, "unterminated string");
    }
    switch (p->s[p->i + 1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
      p->i += 2;
      break;
    case 'u': {
      int k;
      for (k = 2; k < 6; k++) {
        if (p->i + (size_t)k >= p->n || wasmreg__jhex(p->s[p->i + (size_t)k]) < 0) {
          p->i += (size_t)k;
          return wasmreg__jsyntax(p, "expected 4 hexadecimal digits after \\u");
        }
      }
      p->i += 6;
      break;
    }
    default:
      p->i++;
      return wasmreg__jsyntax(p, "invalid escape");
    }
  }
}

static int wasmreg__jnumber(wasmreg__jscan *p) {
  size_t i = p->i;
  const char *s = p->s;
  if (i < p->n && s[i] == '-')
    i++;
  if (i >= p->n || !wasmreg__jdigit(s[i])) {
    p->i = i;
    return wasmreg__jsyntax(p, "expected a digit");
  }
  if (s[i] == '0')
    i++;
  else
    while (i < p->n && wasmreg__jdigit(s[i]))
      i++;
  if (i < p->n && s[i] == '.') {
    i++;
    if (i >= p->n || !wasmreg__jdigit(s[i])) {
      p->i = i;
      return wasmreg__jsyntax(p, "expected a digit after the decimal point");
    }
    while (i < p->n && wasmreg__jdigit(s[i]))
      i++;
  }
  if (i < p->n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < p->n && (s[i] == '+' || s[i] == '-'))
      i++;
    if (i >= p->n || !wasmreg__jdigit(s[i])) {
      p->i = i;
      return wasmreg__jsyntax(p, "expected a digit in the exponent");
    }
    while (i < p->n && wasmreg__jdigit(s[i]))
      i++;
  }
  p->i = i;
  return WASMREG_JSON_OK;
}

static int wasmreg__jliteral(wasmreg__jscan *p, const char *lit) {
  size_t k;
  for (k = 0; lit[k] != 0; k++, p->i++)
    if (p->i >= p->n || p->s[p->i] != lit[k])
      return wasmreg__jsyntax(p, "expected a value");
  return WASMREG_JSON_OK;
}

static int wasmreg__jarray(wasmreg__jscan *p) {
  int err;
  if (++p->depth > WASMREG_JSON_MAX_DEPTH)
    return WASMREG_JSON_EDEPTH;
  p->i++;
  wasmreg__jws(p);
  if (p->i < p->n && p->s[p->i] == ']') {
    p->i++;
    p->depth--;
    return WASMREG_JSON_OK;
  }
  for (;;) {
    if ((err = wasmreg__jvalue(p)) != WASMREG_JSON_OK)
      return err;
    wasmreg__jws(p);
    if (p->i >= p->n)
      return wasmreg__jsyntax(p, "unterminated array");
    if (p->s[p->i] == ']') {
      p->i++;
      p->depth--;
      return WASMREG_JSON_OK;
    }
    if (p->s[p->i] != ',')
      return wasmreg__jsyntax(p, "expected ',' or ']' in an array");
    p->i++;
  }
}

static int wasmreg__jobject(wasmreg__jscan *p) {
  int err;
  if (++p->depth > WASMREG_JSON_MAX_DEPTH)
    return WASMREG_JSON_EDEPTH;
  p->i++;
  wasmreg__jws(p);
  if (p->i < p->n && p->s[p->i] == '}') {
    p->i++;
    p->depth--;
    return WASMREG_JSON_OK;
  }
  for (;;) {
    wasmreg__jws(p);
    if (p->i >= p->n)
      return wasmreg__jsyntax(p, "unterminated object");
    if (p->s[p->i] != '"')
      return wasmreg__jsyntax(p, "expected a string key in an object");
    if ((err = wasmreg__jstring(p)) != WASMREG_JSON_OK)
      return err;
    wasmreg__jws(p);
    if (p->i >= p->n || p->s[p->i] != ':')
      return wasmreg__jsyntax(p, "expected ':' after an object key");
    p->i++;
    if ((err = wasmreg__jvalue(p)) != WASMREG_JSON_OK)
      return err;
    wasmreg__jws(p);
    if (p->i >= p->n)
      return wasmreg__jsyntax(p, "unterminated object");
    if (p->s[p->i] == '}') {
      p->i++;
      p->depth--;
      return WASMREG_JSON_OK;
    }
    if (p->s[p->i] != ',')
      return wasmreg__jsyntax(p, "expected ',' or '}' in an object");
    p->i++;
  }
}

/* wasmreg__jvalue scans one value, after optional whitespace. */
static int wasmreg__jvalue(wasmreg__jscan *p) {
  char c;
  wasmreg__jws(p);
  if (p->i >= p->n)
    return wasmreg__jsyntax(p, "expected a value");
  c = p->s[p->i];
  switch (c) {
  case '{':
    return wasmreg__jobject(p);
  case '[':
    return wasmreg__jarray(p);
  case '"':
    return wasmreg__jstring(p);
  case 't':
    return wasmreg__jliteral(p, "true");
  case 'f':
    return wasmreg__jliteral(p, "false");
  case 'n':
    return wasmreg__jliteral(p, "null");
  }
  if (c == '-' || wasmreg__jdigit(c))
    return wasmreg__jnumber(p);
  return wasmreg__jsyntax(p, "expected a value");
}

/* wasmreg__jcheck checks that s[0..n) is one value with optional
 * whitespace around it, and sets the error detail if not. On success
 * *start is the offset of the value's first byte. */
static int wasmreg__jcheck(const char *s, size_t n, size_t *start, size_t *offset) {
  wasmreg__jscan p = {s, n, 0, 0, NULL};
  int err;
  wasmreg__jws(&p);
  *start = p.i;
  err = wasmreg__jvalue(&p);
  if (err == WASMREG_JSON_OK) {
    wasmreg__jws(&p);
    if (p.i < n)
      err = wasmreg__jsyntax(&p, "data after the JSON value");
  }
  if (offset != NULL)
    *offset = p.i;
  if (err == WASMREG_JSON_EDEPTH)
    return wasmreg__jfail(err, "JSON nested deeper than %d levels at byte %zu", WASMREG_JSON_MAX_DEPTH, p.i);
  if (err != WASMREG_JSON_OK) {
    char at[16];
    unsigned char c = p.i < n ? (unsigned char)s[p.i] : 0;
    if (p.i >= n)
      snprintf(at, sizeof at, "end of input");
    else if (c > 0x20 && c < 0x7f)
      snprintf(at, sizeof at, "'%c'", c);
    else
      snprintf(at, sizeof at, "byte 0x%02x", c);
    if (n == 0 || *start == n)
      return wasmreg__jfail(err, "empty");
    return wasmreg__jfail(err, "malformed JSON at byte %zu (%s): %s", p.i, at, p.why);
  }
  return WASMREG_JSON_OK;
}

int wasmreg_json_validate(const char *json, size_t len, size_t *offset) {
  size_t start;
  return wasmreg__jcheck(json, len, &start, offset);
}

static int wasmreg__jtype_at(const char *s, size_t n, size_t i) {
  if (i >= n)
    return WASMREG_JSON_NONE;
  switch (s[i]) {
  case '{':
    return WASMREG_JSON_OBJECT;
  case '[':
    return WASMREG_JSON_ARRAY;
  case '"':
    return WASMREG_JSON_STRING;
  case 't':
  case 'f':
    return WASMREG_JSON_BOOL;
  case 'n':
    return WASMREG_JSON_NULL;
  }
  if (s[i] == '-' || wasmreg__jdigit(s[i]))
    return WASMREG_JSON_NUMBER;
  return WASMREG_JSON_NONE;
}

int wasmreg_json_type(const char *json, size_t len) {
  wasmreg__jscan p = {json, len, 0, 0, NULL};
  wasmreg__jws(&p);
  return wasmreg__jtype_at(json, len, p.i);
}

/* wasmreg__jcheck_type checks the document and the type of its value. */
static int wasmreg__jcheck_type(const char *s, size_t n, int want, size_t *start) {
  int err = wasmreg__jcheck(s, n, start, NULL), got;
  if (err != WASMREG_JSON_OK)
    return err;
  got = wasmreg__jtype_at(s, n, *start);
  if (got != want)
    return wasmreg__jfail(WASMREG_JSON_ETYPE, "is %s, want %s", wasmreg_json_type_name(got),
                          wasmreg_json_type_name(want));
  return WASMREG_JSON_OK;
}

/* wasmreg__jchar decodes the character at s[*i] of a checked string whose
 * closing quote is at s[end], into out (1 to 4 bytes, returned), and
 * advances *i past it. */
static size_t wasmreg__jchar(const char *s, size_t end, size_t *i, unsigned char out[4]) {
  uint32_t cp;
  size_t k;
  if (s[*i] != '\\') {
    k = wasmreg__utf8_len((const unsigned char *)s + *i, end - *i);
    if (k == 0) {
      *i += 1;
      cp = 0xFFFD;
      goto encode;
    }
    memcpy(out, s + *i, k);
    *i += k;
    return k;
  }
  switch (s[*i + 1]) {
  case 'b':
    cp = '\b';
    break;
  case 'f':
    cp = '\f';
    break;
  case 'n':
    cp = '\n';
    break;
  case 'r':
    cp = '\r';
    break;
  case 't':
    cp = '\t';
    break;
  case 'u':
    cp = (uint32_t)(wasmreg__jhex(s[*i + 2]) << 12 | wasmreg__jhex(s[*i + 3]) << 8 | wasmreg__jhex(s[*i + 4]) << 4 |
                    wasmreg__jhex(s[*i + 5]));
    *i += 6;
    if (cp >= 0xD800 && cp < 0xDC00 && *i + 6 <= end && s[*i] == '\\' && s[*i + 1] == 'u') {
      uint32_t lo = (uint32_t)(wasmreg__jhex(s[*i + 2]) << 12 | wasmreg__jhex(s[*i + 3]) << 8 |
                               wasmreg__jhex(s[*i + 4]) << 4 | wasmreg__jhex(s[*i + 5]));
      if (lo >= 0xDC00 && lo < 0xE000) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        *i += 6;
      }
    }
    if (cp >= 0xD800 && cp < 0xE000)
      cp = 0xFFFD; /* a lone surrogate, as Go's encoding/json */
    goto encode;
  default: /* '"', '\\', '/' */
    cp = (unsigned char)s[*i + 1];
    break;
  }
  *i += 2;
encode:
  if (cp < 0x80) {
    out[0] = (unsigned char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (unsigned char)(0xC0 | cp >> 6);
    out[1] = (unsigned char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (unsigned char)(0xE0 | cp >> 12);
    out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    out[2] = (unsigned char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (unsigned char)(0xF0 | cp >> 18);
  out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
  out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
  out[3] = (unsigned char)(0x80 | (cp & 0x3F));
  return 4;
}

/* wasmreg__jstr_end returns the offset of the closing quote of the checked
 * string whose opening quote is at s[start]. */
static size_t wasmreg__jstr_end(const char *s, size_t n, size_t start) {
  wasmreg__jscan p = {s, n, start, 0, NULL};
  wasmreg__jstring(&p);
  return p.i - 1;
}

/* wasmreg__jstr_eq compares the checked string at s[start] with key. */
static int wasmreg__jstr_eq(const char *s, size_t n, size_t start, const char *key) {
  size_t end = wasmreg__jstr_end(s, n, start), i = start + 1, klen = strlen(key), at = 0;
  while (i < end) {
    unsigned char c[4];
    size_t k = wasmreg__jchar(s, end, &i, c);
    if (k > klen - at || memcmp(c, key + at, k) != 0)
      return 0;
    at += k;
  }
  return at == klen;
}

int wasmreg_json_string_equals(const char *json, size_t len, const char *s) {
  size_t start;
  if (wasmreg__jcheck_type(json, len, WASMREG_JSON_STRING, &start) != WASMREG_JSON_OK)
    return 0;
  return wasmreg__jstr_eq(json, len, start, s);
}

int wasmreg_json_parse_string(const char *json, size_t len, char *out, size_t cap, size_t *n) {
  size_t start, end, i, total = 0;
  int err = wasmreg__jcheck_type(json, len, WASMREG_JSON_STRING, &start);
  if (n != NULL)
    *n = 0;
  if (err != WASMREG_JSON_OK)
    return err;
  end = wasmreg__jstr_end(json, len, start);
  for (i = start + 1; i < end;) {
    unsigned char c[4];
    size_t k = wasmreg__jchar(json, end, &i, c);
    if (out != NULL && total + k < cap)
      memcpy(out + total, c, k);
    total += k;
  }
  if (n != NULL)
    *n = total;
  if (out == NULL)
    return WASMREG_JSON_OK;
  if (cap > 0)
    out[total < cap ? total : cap - 1] = 0;
  if (total >= cap)
    return wasmreg__jfail(WASMREG_JSON_ETOOMANY, "is a string of %zu bytes, want at most %zu", total,
                          cap > 0 ? cap - 1 : 0);
  return WASMREG_JSON_OK;
}

/* wasmreg__jto_double converts the checked number s[0..k). */
static int wasmreg__jto_double(const char *s, size_t k, double *out) {
  char small[64], *buf = small;
  double v;
  if (k >= sizeof small && (buf = (char *)malloc(k + 1)) == NULL)
    return wasmreg__jfail(WASMREG_JSON_ENOMEM, "out of memory for a %zu-digit number", k);
  memcpy(buf, s, k);
  buf[k] = 0;
  v = strtod(buf, NULL);
  if (buf != small)
    free(buf);
  if (isinf(v))
    return wasmreg__jfail(WASMREG_JSON_ERANGE, "number %.*s%s is too large for a double", (int)(k > 40 ? 40 : k), s,
                          k > 40 ? "..." : "");
  *out = v;
  return WASMREG_JSON_OK;
}

/* wasmreg__jnumber_at converts the checked number at s[i]. */
static int wasmreg__jnumber_at(const char *s, size_t n, size_t i, double *out) {
  wasmreg__jscan p = {s, n, i, 0, NULL};
  wasmreg__jnumber(&p);
  return wasmreg__jto_double(s + i, p.i - i, out);
}

int wasmreg_json_parse_number(const char *json, size_t len, double *out) {
  size_t start;
  int err = wasmreg__jcheck_type(json, len, WASMREG_JSON_NUMBER, &start);
  if (err != WASMREG_JSON_OK)
    return err;
  return wasmreg__jnumber_at(json, len, start, out);
}

/* Iterators. pos is where the next element, or the separator before it,
 * starts. */

static int wasmreg__jbegin(wasmreg_json_iter *it, const char *json, size_t len, int want) {
  size_t start;
  int err;
  it->json = json;
  it->len = len;
  it->pos = len;
  it->started = 0;
  it->done = 1;
  if ((err = wasmreg__jcheck_type(json, len, want, &start)) != WASMREG_JSON_OK)
    return err;
  it->pos = start + 1;
  it->done = 0;
  return WASMREG_JSON_OK;
}

/* wasmreg__jnext moves to the start of the next element, and reports
 * whether there is one. */
static int wasmreg__jnext(wasmreg_json_iter *it, wasmreg__jscan *p) {
  p->s = it->json;
  p->n = it->len;
  p->i = it->pos;
  p->depth = 0;
  p->why = NULL;
  if (it->done)
    return 0;
  wasmreg__jws(p);
  if (p->i >= p->n || p->s[p->i] == ']' || p->s[p->i] == '}') {
    it->done = 1;
    return 0;
  }
  if (it->started) {
    p->i++; /* the ',' */
    wasmreg__jws(p);
  }
  it->started = 1;
  return 1;
}

int wasmreg_json_array_begin(wasmreg_json_iter *it, const char *json, size_t len) {
  return wasmreg__jbegin(it, json, len, WASMREG_JSON_ARRAY);
}

int wasmreg_json_array_next(wasmreg_json_iter *it, const char **val, size_t *val_len) {
  wasmreg__jscan p;
  size_t start;
  if (!wasmreg__jnext(it, &p))
    return 0;
  start = p.i;
  if (wasmreg__jvalue(&p) != WASMREG_JSON_OK) { /* only if the iterator was misused */
    it->done = 1;
    return wasmreg__jfail(WASMREG_JSON_ESYNTAX, "malformed JSON at byte %zu", p.i);
  }
  *val = it->json + start;
  *val_len = p.i - start;
  it->pos = p.i;
  return 1;
}

int wasmreg_json_object_begin(wasmreg_json_iter *it, const char *json, size_t len) {
  return wasmreg__jbegin(it, json, len, WASMREG_JSON_OBJECT);
}

int wasmreg_json_object_next(wasmreg_json_iter *it, const char **key, size_t *key_len, const char **val,
                             size_t *val_len) {
  wasmreg__jscan p;
  size_t kstart, kend, vstart;
  if (!wasmreg__jnext(it, &p))
    return 0;
  kstart = p.i;
  if (p.i >= p.n || p.s[p.i] != '"' || wasmreg__jstring(&p) != WASMREG_JSON_OK)
    goto misused;
  kend = p.i;
  wasmreg__jws(&p);
  if (p.i >= p.n || p.s[p.i] != ':')
    goto misused;
  p.i++;
  wasmreg__jws(&p);
  vstart = p.i;
  if (wasmreg__jvalue(&p) != WASMREG_JSON_OK)
    goto misused;
  *key = it->json + kstart;
  *key_len = kend - kstart;
  *val = it->json + vstart;
  *val_len = p.i - vstart;
  it->pos = p.i;
  return 1;
misused: /* only if the iterator was misused */
  it->done = 1;
  return wasmreg__jfail(WASMREG_JSON_ESYNTAX, "malformed JSON at byte %zu", p.i);
}

int wasmreg_json_find(const char *json, size_t len, const char *key, const char **val, size_t *val_len) {
  wasmreg_json_iter it;
  const char *k, *v;
  size_t klen, vlen;
  int err, found = 0;
  if ((err = wasmreg_json_object_begin(&it, json, len)) != WASMREG_JSON_OK)
    return err;
  while ((err = wasmreg_json_object_next(&it, &k, &klen, &v, &vlen)) > 0) {
    if (!wasmreg__jstr_eq(k, klen, 0, key))
      continue;
    if (found)
      return wasmreg__jfail(WASMREG_JSON_EDUPLICATE, "appears more than once");
    found = 1;
    *val = v;
    *val_len = vlen;
  }
  if (err < 0)
    return err;
  if (!found)
    return wasmreg__jfail(WASMREG_JSON_ENOTFOUND, "missing");
  return WASMREG_JSON_OK;
}

int wasmreg_json_parse_numbers(const char *json, size_t len, double *out, size_t max, size_t *n) {
  wasmreg_json_iter it;
  const char *v;
  size_t vlen, count = 0;
  int err;
  if (n != NULL)
    *n = 0;
  if ((err = wasmreg_json_array_begin(&it, json, len)) != WASMREG_JSON_OK)
    return err;
  while ((err = wasmreg_json_array_next(&it, &v, &vlen)) > 0) {
    double d;
    int t = wasmreg__jtype_at(v, vlen, 0);
    if (n != NULL)
      *n = count;
    if (t != WASMREG_JSON_NUMBER)
      return wasmreg__jfail(WASMREG_JSON_ETYPE, "element %zu is %s, want a number", count, wasmreg_json_type_name(t));
    if ((err = wasmreg__jnumber_at(v, vlen, 0, &d)) != WASMREG_JSON_OK) {
      char why[sizeof wasmreg__jerr];
      memcpy(why, wasmreg__jerr, sizeof why);
      return wasmreg__jfail(err, "element %zu: %s", count, why);
    }
    if (out != NULL && count < max)
      out[count] = d;
    count++;
  }
  if (n != NULL)
    *n = count;
  if (err < 0)
    return err;
  if (out != NULL && count > max)
    return wasmreg__jfail(WASMREG_JSON_ETOOMANY, "has %zu number%s, want at most %zu", count, count == 1 ? "" : "s",
                          max);
  return WASMREG_JSON_OK;
}

int wasmreg_json_number(const char *json, size_t len, const char *key, double *out) {
  const char *v;
  size_t vlen;
  int err = wasmreg_json_find(json, len, key, &v, &vlen);
  return err != WASMREG_JSON_OK ? err : wasmreg_json_parse_number(v, vlen, out);
}

int wasmreg_json_numbers(const char *json, size_t len, const char *key, double *out, size_t max, size_t *n) {
  const char *v;
  size_t vlen;
  int err = wasmreg_json_find(json, len, key, &v, &vlen);
  if (err != WASMREG_JSON_OK) {
    if (n != NULL)
      *n = 0;
    return err;
  }
  return wasmreg_json_parse_numbers(v, vlen, out, max, n);
}

int wasmreg_json_string(const char *json, size_t len, const char *key, char *out, size_t cap, size_t *n) {
  const char *v;
  size_t vlen;
  int err = wasmreg_json_find(json, len, key, &v, &vlen);
  if (err != WASMREG_JSON_OK) {
    if (n != NULL)
      *n = 0;
    return err;
  }
  return wasmreg_json_parse_string(v, vlen, out, cap, n);
}

#ifdef __cplusplus
}
#endif

#endif /* WASMREG_IMPLEMENTATION */
