/*
 * wasmreg_json.h: the JSON reader and writer of the wasmreg C SDK.
 *
 * wasmreg.h includes it, so a factory needs nothing more; it stands on its
 * own, with only the C standard library, so that it builds natively too:
 * its tests (test/json_test.c) run on the host machine under
 * AddressSanitizer and UndefinedBehaviorSanitizer, and its writer is
 * checked byte for byte against Go's encoding/json.
 *
 * Like wasmreg.h it is header-only: in exactly one C file, define
 * WASMREG_JSON_IMPLEMENTATION (wasmreg.h's WASMREG_IMPLEMENTATION does it)
 * before including it. Nothing here is thread-safe: the error detail is a
 * static buffer, as a wasm instance has one thread.
 */
#ifndef WASMREG_JSON_H
#define WASMREG_JSON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

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
  WASMREG_JSON_ENOMEM = -8,     /* malloc failed */
  WASMREG_JSON_EUNKNOWN = -9    /* a key that is not allowed (wasmreg_json_check_keys) */
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


/*
 * Checks and conversions for configs, each with an error detail that
 * names the problem in the user's terms (prefix it with the field):
 */

/* wasmreg_json_check_keys checks that json is an object whose keys are all
 * among allowed, a NULL-terminated list, each at most once, matched
 * exactly (case-sensitively):
 *
 *     static const char *const keys[] = {"factor", "bias", NULL};
 *     if ((err = wasmreg_json_check_keys(config, len, keys)) != WASMREG_JSON_OK)
 *       return wasmreg_fail(2, "config: %s", wasmreg_json_error());
 *
 * ETYPE if json is not an object; EUNKNOWN for a key not allowed
 * ("unknown field \"facter\" (fields are \"factor\", \"bias\")");
 * EDUPLICATE for a repeated one ("field \"factor\" appears more than once"). */
int wasmreg_json_check_keys(const char *json, size_t len, const char *const *allowed);

/* wasmreg_json_parse_int reads a value that must be an integer from min to
 * max: ETYPE if it is not a number or has a fraction ("is 2.5, want an
 * integer"), ERANGE if it is outside the range ("is 300, want 1 to 256").
 * Exponents are allowed when the value is integral (1e3). */
int wasmreg_json_parse_int(const char *json, size_t len, int64_t min, int64_t max, int64_t *out);

/*
 * wasmreg_json_parse_matrix reads an array of arrays of numbers, all of the
 * same length, such as [[1, 2], [3, 4]], into out row by row:
 * out[r * *cols + c]. *rows and *cols are set to its shape (0 and 0 for
 * []). ETYPE names the first element in the way ("element [1][0] is a
 * string, want a number", "row 1 has 3 numbers, row 0 has 2"); ETOOMANY if
 * it has more than max numbers. With out == NULL it only checks and
 * measures (max is ignored): call it so to size an allocation.
 */
int wasmreg_json_parse_matrix(const char *json, size_t len, double *out, size_t max, size_t *rows, size_t *cols);

/* Shortcuts: wasmreg_json_find, then parse the value. */
int wasmreg_json_int(const char *json, size_t len, const char *key, int64_t min, int64_t max, int64_t *out);
int wasmreg_json_matrix(const char *json, size_t len, const char *key, double *out, size_t max, size_t *rows,
                        size_t *cols);

/* ------------------------------------------------------------------------
 * JSON writer
 *
 * Each function writes through sink(ctx, bytes, n); wasmreg.h's
 * wasmreg_output_json_* functions write to the call's output with them.
 * Strings are escaped exactly as Go's encoding/json (json.Marshal)
 * escapes them: \" \\ \b \f \n \r \t, other control characters
 * as \u00XX, <, > and & as \u003c, \u003e and \u0026, U+2028 and
 * U+2029 as \u2028 and \u2029, and each byte of invalid UTF-8 as \ufffd,
 * so the output is always valid JSON, safe to embed in HTML.
 * ------------------------------------------------------------------------ */

typedef void (*wasmreg_json_sink)(void *ctx, const void *p, size_t n);

/* wasmreg_json_write_string writes the n bytes at s as a quoted string. */
void wasmreg_json_write_string(wasmreg_json_sink sink, void *ctx, const char *s, size_t n);

/* wasmreg_json_write_number writes v as a JSON number that parses back to
 * exactly v ("2", "0.1", "1e+300"); NaN and infinities, which JSON cannot
 * represent, are written as null. */
void wasmreg_json_write_number(wasmreg_json_sink sink, void *ctx, double v);

/* wasmreg_json_write_int writes v in decimal. */
void wasmreg_json_write_int(wasmreg_json_sink sink, void *ctx, int64_t v);

/* wasmreg_json_write_ints writes a JSON array of the n integers at v. */
void wasmreg_json_write_ints(wasmreg_json_sink sink, void *ctx, const int64_t *v, size_t n);

/* wasmreg_json_write_numbers writes a JSON array of the n numbers at v. */
void wasmreg_json_write_numbers(wasmreg_json_sink sink, void *ctx, const double *v, size_t n);

/*
 * An object being written, member by member:
 *
 *     wasmreg_json_object o;
 *     wasmreg_json_write_object_begin(sink, ctx, &o);            // {
 *     wasmreg_json_write_key(sink, ctx, &o, "label");            // "label":
 *     wasmreg_json_write_int(sink, ctx, 3);
 *     wasmreg_json_write_key(sink, ctx, &o, "scores");           // ,"scores":
 *     wasmreg_json_write_numbers(sink, ctx, scores, 3);
 *     wasmreg_json_write_object_end(sink, ctx, &o);              // }
 *
 * Keys are escaped as strings are; any value may follow a key, objects
 * included.
 */
typedef struct wasmreg_json_object {
  size_t members; /* keys written so far */
} wasmreg_json_object;

void wasmreg_json_write_object_begin(wasmreg_json_sink sink, void *ctx, wasmreg_json_object *o);
void wasmreg_json_write_key(wasmreg_json_sink sink, void *ctx, wasmreg_json_object *o, const char *key);
void wasmreg_json_write_object_end(wasmreg_json_sink sink, void *ctx, wasmreg_json_object *o);

#ifdef __cplusplus
}
#endif

#endif /* WASMREG_JSON_H */

/* ------------------------------------------------------------------------
 * Implementation
 * ------------------------------------------------------------------------ */

#if defined(WASMREG_JSON_IMPLEMENTATION) && !defined(WASMREG_JSON__IMPLEMENTED)
#define WASMREG_JSON__IMPLEMENTED

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

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
  case WASMREG_JSON_EUNKNOWN:
    return "unknown field";
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


/* ---- Checks and conversions ---- */

/* wasmreg__jclip_key copies the key span k (a JSON string, quotes
 * included) for a message, clipped. */
static void wasmreg__jclip_key(char *out, size_t cap, const char *k, size_t klen) {
  if (klen < cap) {
    memcpy(out, k, klen);
    out[klen] = 0;
    return;
  }
  snprintf(out, cap, "%.*s...\"", (int)(cap - 6), k);
}

/* wasmreg__jkeys_equal compares two checked JSON strings, decoded. */
static int wasmreg__jkeys_equal(const char *a, size_t alen, const char *b, size_t blen) {
  size_t aend = wasmreg__jstr_end(a, alen, 0), bend = wasmreg__jstr_end(b, blen, 0), i = 1, j = 1;
  while (i < aend && j < bend) {
    unsigned char ca[4], cb[4];
    size_t ka = wasmreg__jchar(a, aend, &i, ca), kb = wasmreg__jchar(b, bend, &j, cb);
    if (ka != kb || memcmp(ca, cb, ka) != 0)
      return 0;
  }
  return i >= aend && j >= bend;
}

int wasmreg_json_check_keys(const char *json, size_t len, const char *const *allowed) {
  wasmreg_json_iter it, again;
  const char *k, *v, *k2, *v2;
  size_t klen, vlen, k2len, v2len, i;
  int err;
  char shown[72];
  if ((err = wasmreg_json_object_begin(&it, json, len)) != WASMREG_JSON_OK)
    return err;
  while ((err = wasmreg_json_object_next(&it, &k, &klen, &v, &vlen)) > 0) {
    int known = 0, seen = 0;
    for (i = 0; allowed != NULL && allowed[i] != NULL; i++)
      if (wasmreg__jstr_eq(k, klen, 0, allowed[i]))
        known = 1;
    wasmreg__jclip_key(shown, sizeof shown, k, klen);
    if (!known) {
      char list[160];
      size_t at = 0;
      list[0] = 0;
      for (i = 0; allowed != NULL && allowed[i] != NULL && at < sizeof list; i++) {
        int w = snprintf(list + at, sizeof list - at, "%s\"%s\"", i > 0 ? ", " : "", allowed[i]);
        if (w < 0)
          break;
        at += (size_t)w;
      }
      if (at >= sizeof list)
        memcpy(list + sizeof list - 4, "...", 4);
      if (allowed == NULL || allowed[0] == NULL)
        return wasmreg__jfail(WASMREG_JSON_EUNKNOWN, "unknown field %s (it takes no fields)", shown);
      return wasmreg__jfail(WASMREG_JSON_EUNKNOWN, "unknown field %s (fields are %s)", shown, list);
    }
    /* Compare with the keys before it: configs have few keys. */
    wasmreg_json_object_begin(&again, json, len);
    while (!seen && wasmreg_json_object_next(&again, &k2, &k2len, &v2, &v2len) > 0 && k2 < k)
      seen = wasmreg__jkeys_equal(k, klen, k2, k2len);
    if (seen)
      return wasmreg__jfail(WASMREG_JSON_EDUPLICATE, "field %s appears more than once", shown);
  }
  return err < 0 ? err : WASMREG_JSON_OK;
}

int wasmreg_json_parse_int(const char *json, size_t len, int64_t min, int64_t max, int64_t *out) {
  size_t start, i, end;
  int err = wasmreg__jcheck_type(json, len, WASMREG_JSON_NUMBER, &start), neg = 0, exact = 1;
  wasmreg__jscan p;
  uint64_t mag = 0;
  int64_t v;
  if (err != WASMREG_JSON_OK)
    return err;
  p.s = json;
  p.n = len;
  p.i = start;
  p.depth = 0;
  p.why = NULL;
  wasmreg__jnumber(&p);
  end = p.i;
  i = start;
  if (json[i] == '-') {
    neg = 1;
    i++;
  }
  for (; i < end && wasmreg__jdigit(json[i]); i++) {
    if (mag > (UINT64_MAX - 9) / 10) {
      exact = 0;
      break;
    }
    mag = mag * 10 + (uint64_t)(json[i] - '0');
  }
  if (exact && i == end) { /* only digits: exact, whatever its size */
    if ((!neg && mag > (uint64_t)INT64_MAX) || (neg && mag > (uint64_t)INT64_MAX + 1) ||
        (neg ? (mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag) : (int64_t)mag) < min ||
        (neg ? (mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag) : (int64_t)mag) > max)
      return wasmreg__jfail(WASMREG_JSON_ERANGE, "is %.*s, want %lld to %lld", (int)(end - start > 40 ? 40 : end - start),
                            json + start, (long long)min, (long long)max);
    v = neg ? (mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
  } else {
    double d;
    if ((err = wasmreg__jnumber_at(json, len, start, &d)) != WASMREG_JSON_OK)
      return err;
    if (d != floor(d))
      return wasmreg__jfail(WASMREG_JSON_ETYPE, "is %.*s, want an integer", (int)(end - start > 40 ? 40 : end - start),
                            json + start);
    if (d < (double)min || d > (double)max || d < -9007199254740992.0 || d > 9007199254740992.0)
      return wasmreg__jfail(WASMREG_JSON_ERANGE, "is %.*s, want %lld to %lld", (int)(end - start > 40 ? 40 : end - start),
                            json + start, (long long)min, (long long)max);
    v = (int64_t)d;
    if (v < min || v > max)
      return wasmreg__jfail(WASMREG_JSON_ERANGE, "is %.*s, want %lld to %lld", (int)(end - start > 40 ? 40 : end - start),
                            json + start, (long long)min, (long long)max);
  }
  *out = v;
  return WASMREG_JSON_OK;
}

int wasmreg_json_parse_matrix(const char *json, size_t len, double *out, size_t max, size_t *rows, size_t *cols) {
  wasmreg_json_iter it, row;
  const char *v, *e;
  size_t vlen, elen, r = 0, width = 0, total = 0;
  int err;
  *rows = 0;
  *cols = 0;
  if ((err = wasmreg_json_array_begin(&it, json, len)) != WASMREG_JSON_OK) {
    if (err == WASMREG_JSON_ETYPE)
      return wasmreg__jfail(err, "is %s, want an array of arrays of numbers",
                            wasmreg_json_type_name(wasmreg_json_type(json, len)));
    return err;
  }
  while ((err = wasmreg_json_array_next(&it, &v, &vlen)) > 0) {
    size_t c = 0;
    int t = wasmreg__jtype_at(v, vlen, 0);
    if (t != WASMREG_JSON_ARRAY)
      return wasmreg__jfail(WASMREG_JSON_ETYPE, "row %zu is %s, want an array of numbers", r,
                            wasmreg_json_type_name(t));
    wasmreg_json_array_begin(&row, v, vlen);
    while ((err = wasmreg_json_array_next(&row, &e, &elen)) > 0) {
      double d;
      t = wasmreg__jtype_at(e, elen, 0);
      if (t != WASMREG_JSON_NUMBER)
        return wasmreg__jfail(WASMREG_JSON_ETYPE, "element [%zu][%zu] is %s, want a number", r, c,
                              wasmreg_json_type_name(t));
      if ((err = wasmreg__jnumber_at(e, elen, 0, &d)) != WASMREG_JSON_OK) {
        char why[sizeof wasmreg__jerr];
        memcpy(why, wasmreg__jerr, sizeof why);
        return wasmreg__jfail(err, "element [%zu][%zu]: %s", r, c, why);
      }
      if (out != NULL && total < max)
        out[total] = d;
      total++;
      c++;
    }
    if (err < 0)
      return err;
    if (r == 0)
      width = c;
    else if (c != width)
      return wasmreg__jfail(WASMREG_JSON_ETYPE, "row %zu has %zu number%s, row 0 has %zu", r, c, c == 1 ? "" : "s",
                            width);
    r++;
  }
  if (err < 0)
    return err;
  *rows = r;
  *cols = width;
  if (out != NULL && total > max)
    return wasmreg__jfail(WASMREG_JSON_ETOOMANY, "has %zu numbers, want at most %zu", total, max);
  return WASMREG_JSON_OK;
}

int wasmreg_json_int(const char *json, size_t len, const char *key, int64_t min, int64_t max, int64_t *out) {
  const char *v;
  size_t vlen;
  int err = wasmreg_json_find(json, len, key, &v, &vlen);
  return err != WASMREG_JSON_OK ? err : wasmreg_json_parse_int(v, vlen, min, max, out);
}

int wasmreg_json_matrix(const char *json, size_t len, const char *key, double *out, size_t max, size_t *rows,
                        size_t *cols) {
  const char *v;
  size_t vlen;
  int err = wasmreg_json_find(json, len, key, &v, &vlen);
  if (err != WASMREG_JSON_OK) {
    *rows = 0;
    *cols = 0;
    return err;
  }
  return wasmreg_json_parse_matrix(v, vlen, out, max, rows, cols);
}

/* ---- Writer ---- */

void wasmreg_json_write_string(wasmreg_json_sink sink, void *ctx, const char *str, size_t n) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0, run = 0; /* s[run..i) is copied as it is */
  sink(ctx, "\"", 1);
  while (i < n) {
    unsigned char c = s[i];
    char esc[6];
    size_t k = 1;
    if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' && c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0x80 && (k = wasmreg__utf8_len(s + i, n - i)) > 0) {
      /* U+2028 and U+2029 (E2 80 A8, E2 80 A9) end lines in JavaScript. */
      if (!(k == 3 && c == 0xE2 && s[i + 1] == 0x80 && (s[i + 2] == 0xA8 || s[i + 2] == 0xA9))) {
        i += k;
        continue;
      }
    }
    if (run < i)
      sink(ctx, s + run, i - run);
    if (c >= 0x80 && k == 3) {
      sink(ctx, s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
      i += 3;
      run = i;
      continue;
    }
    if (c >= 0x80) {
      sink(ctx, "\\ufffd", 6);
    } else if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      sink(ctx, esc, 2);
    } else if (c == '\b') {
      sink(ctx, "\\b", 2);
    } else if (c == '\f') {
      sink(ctx, "\\f", 2);
    } else if (c == '\n') {
      sink(ctx, "\\n", 2);
    } else if (c == '\r') {
      sink(ctx, "\\r", 2);
    } else if (c == '\t') {
      sink(ctx, "\\t", 2);
    } else {
      esc[0] = '\\';
      esc[1] = 'u';
      esc[2] = '0';
      esc[3] = '0';
      esc[4] = hex[c >> 4];
      esc[5] = hex[c & 15];
      sink(ctx, esc, 6);
    }
    run = ++i;
  }
  if (run < n)
    sink(ctx, s + run, n - run);
  sink(ctx, "\"", 1);
}

void wasmreg_json_write_number(wasmreg_json_sink sink, void *ctx, double v) {
  char b[32];
  int prec;
  if (!isfinite(v)) {
    sink(ctx, "null", 4);
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
  sink(ctx, b, strlen(b));
}

void wasmreg_json_write_int(wasmreg_json_sink sink, void *ctx, int64_t v) {
  char b[24];
  int n = snprintf(b, sizeof b, "%lld", (long long)v);
  sink(ctx, b, (size_t)n);
}

void wasmreg_json_write_ints(wasmreg_json_sink sink, void *ctx, const int64_t *v, size_t n) {
  size_t i;
  sink(ctx, "[", 1);
  for (i = 0; i < n; i++) {
    if (i > 0)
      sink(ctx, ",", 1);
    wasmreg_json_write_int(sink, ctx, v[i]);
  }
  sink(ctx, "]", 1);
}

void wasmreg_json_write_numbers(wasmreg_json_sink sink, void *ctx, const double *v, size_t n) {
  size_t i;
  sink(ctx, "[", 1);
  for (i = 0; i < n; i++) {
    if (i > 0)
      sink(ctx, ",", 1);
    wasmreg_json_write_number(sink, ctx, v[i]);
  }
  sink(ctx, "]", 1);
}

void wasmreg_json_write_object_begin(wasmreg_json_sink sink, void *ctx, wasmreg_json_object *o) {
  o->members = 0;
  sink(ctx, "{", 1);
}

void wasmreg_json_write_key(wasmreg_json_sink sink, void *ctx, wasmreg_json_object *o, const char *key) {
  if (o->members++ > 0)
    sink(ctx, ",", 1);
  wasmreg_json_write_string(sink, ctx, key, strlen(key));
  sink(ctx, ":", 1);
}

void wasmreg_json_write_object_end(wasmreg_json_sink sink, void *ctx, wasmreg_json_object *o) {
  (void)o;
  sink(ctx, "}", 1);
}

#ifdef __cplusplus
}
#endif

#endif /* WASMREG_JSON_IMPLEMENTATION */
