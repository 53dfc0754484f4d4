/*
 * json_test.c: native tests of wasmreg_json.h, built with the host's C
 * compiler under AddressSanitizer and UndefinedBehaviorSanitizer by
 * json_test.go (go test ./guest-sdk/c/test). Modes:
 *
 *   json_test selftest   checks the reader's helpers and the writer
 *   json_test quote      reads records (4-byte little-endian length, then
 *                        the bytes) from stdin and writes each as a JSON
 *                        string, one a line, for Go to compare with
 *                        encoding/json
 *   json_test read       reads records the same way and runs every reader
 *                        function on each, printing one line a record
 *                        (return codes), so that hostile input meets the
 *                        sanitizers
 */
#define WASMREG_JSON_IMPLEMENTATION
#include "wasmreg_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures, checks;

static void out_file(void *ctx, const void *p, size_t n) { fwrite(p, 1, n, (FILE *)ctx); }

/* A growing buffer, as a sink. */
typedef struct {
  char b[4096];
  size_t n;
} buf;

static void out_buf(void *ctx, const void *p, size_t n) {
  buf *b = (buf *)ctx;
  if (b->n + n < sizeof b->b) {
    memcpy(b->b + b->n, p, n);
    b->n += n;
    b->b[b->n] = 0;
  }
}

#define CHECK(cond, ...)                                                                                             \
  do {                                                                                                               \
    checks++;                                                                                                        \
    if (!(cond)) {                                                                                                   \
      failures++;                                                                                                    \
      fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                                                \
      fprintf(stderr, __VA_ARGS__);                                                                                  \
      fprintf(stderr, "\n");                                                                                         \
    }                                                                                                                \
  } while (0)

static void expect_err(const char *what, int got, int want, const char *detail) {
  CHECK(got == want, "%s: returned %d, want %d (%s)", what, got, want, wasmreg_json_error());
  if (detail != NULL && got != WASMREG_JSON_OK)
    CHECK(strcmp(wasmreg_json_error(), detail) == 0, "%s: detail \"%s\", want \"%s\"", what, wasmreg_json_error(),
          detail);
}

static void selftest_keys(void) {
  static const char *const keys[] = {"factor", "bias", NULL};
  static const char *const none[] = {NULL};
  struct {
    const char *json;
    int want;
    const char *detail;
  } tests[] = {
      {"{}", WASMREG_JSON_OK, NULL},
      {"{\"factor\": 2, \"bias\": 1}", WASMREG_JSON_OK, NULL},
      {"{\"f\\u0061ctor\": 2}", WASMREG_JSON_OK, NULL},
      {"{\"facter\": 2}", WASMREG_JSON_EUNKNOWN, "unknown field \"facter\" (fields are \"factor\", \"bias\")"},
      {"{\"Factor\": 2}", WASMREG_JSON_EUNKNOWN, "unknown field \"Factor\" (fields are \"factor\", \"bias\")"},
      {"{\"factor\": 1, \"bias\": 0, \"factor\": 2}", WASMREG_JSON_EDUPLICATE, "field \"factor\" appears more than once"},
      {"{\"factor\": 1, \"f\\u0061ctor\": 2}", WASMREG_JSON_EDUPLICATE,
       "field \"f\\u0061ctor\" appears more than once"},
      {"[1]", WASMREG_JSON_ETYPE, "is an array, want an object"},
      {"{\"factor\": }", WASMREG_JSON_ESYNTAX, NULL},
  };
  size_t i;
  for (i = 0; i < sizeof tests / sizeof tests[0]; i++)
    expect_err(tests[i].json, wasmreg_json_check_keys(tests[i].json, strlen(tests[i].json), keys), tests[i].want,
               tests[i].detail);
  expect_err("no fields", wasmreg_json_check_keys("{\"a\":1}", 7, none), WASMREG_JSON_EUNKNOWN,
             "unknown field \"a\" (it takes no fields)");
  {
    char long_key[400];
    memset(long_key, 'k', sizeof long_key);
    memcpy(long_key, "{\"", 2);
    memcpy(long_key + sizeof long_key - 5, "\":1}", 4);
    long_key[sizeof long_key - 1] = 0;
    int err = wasmreg_json_check_keys(long_key, strlen(long_key), keys);
    CHECK(err == WASMREG_JSON_EUNKNOWN && strlen(wasmreg_json_error()) < 200, "long key: %d %s", err,
          wasmreg_json_error());
  }
}

static void selftest_int(void) {
  struct {
    const char *json;
    int64_t min, max;
    int want;
    int64_t value;
    const char *detail;
  } tests[] = {
      {"3", 1, 10, WASMREG_JSON_OK, 3, NULL},
      {" -7 ", -10, 10, WASMREG_JSON_OK, -7, NULL},
      {"1e2", 0, 1000, WASMREG_JSON_OK, 100, NULL},
      {"4.0", 0, 10, WASMREG_JSON_OK, 4, NULL},
      {"9223372036854775807", INT64_MIN, INT64_MAX, WASMREG_JSON_OK, INT64_MAX, NULL},
      {"-9223372036854775808", INT64_MIN, INT64_MAX, WASMREG_JSON_OK, INT64_MIN, NULL},
      {"9223372036854775808", INT64_MIN, INT64_MAX, WASMREG_JSON_ERANGE, 0,
       "is 9223372036854775808, want -9223372036854775808 to 9223372036854775807"},
      {"99999999999999999999999", 0, 10, WASMREG_JSON_ERANGE, 0, "is 99999999999999999999999, want 0 to 10"},
      {"300", 1, 256, WASMREG_JSON_ERANGE, 0, "is 300, want 1 to 256"},
      {"0", 1, 256, WASMREG_JSON_ERANGE, 0, "is 0, want 1 to 256"},
      {"2.5", 0, 10, WASMREG_JSON_ETYPE, 0, "is 2.5, want an integer"},
      {"1e-3", 0, 10, WASMREG_JSON_ETYPE, 0, "is 1e-3, want an integer"},
      {"1e400", 0, 10, WASMREG_JSON_ERANGE, 0, "number 1e400 is too large for a double"},
      {"1e300", 0, 10, WASMREG_JSON_ERANGE, 0, "is 1e300, want 0 to 10"},
      {"\"3\"", 0, 10, WASMREG_JSON_ETYPE, 0, "is a string, want a number"},
  };
  size_t i;
  for (i = 0; i < sizeof tests / sizeof tests[0]; i++) {
    int64_t v = -1;
    int err = wasmreg_json_parse_int(tests[i].json, strlen(tests[i].json), tests[i].min, tests[i].max, &v);
    expect_err(tests[i].json, err, tests[i].want, tests[i].detail);
    if (err == WASMREG_JSON_OK)
      CHECK(v == tests[i].value, "%s: got %lld", tests[i].json, (long long)v);
  }
  {
    int64_t v = 0;
    const char *cfg = "{\"layers\": 4}";
    expect_err("int by key", wasmreg_json_int(cfg, strlen(cfg), "layers", 1, 8, &v), WASMREG_JSON_OK, NULL);
    CHECK(v == 4, "int by key: %lld", (long long)v);
    expect_err("int by key, missing", wasmreg_json_int(cfg, strlen(cfg), "depth", 1, 8, &v), WASMREG_JSON_ENOTFOUND,
               "missing");
  }
}

static void selftest_matrix(void) {
  double m[4];
  size_t rows, cols;
  struct {
    const char *json;
    int want;
    size_t rows, cols;
    const char *detail;
  } tests[] = {
      {"[[1, 2], [3, 4]]", WASMREG_JSON_OK, 2, 2, NULL},
      {"[]", WASMREG_JSON_OK, 0, 0, NULL},
      {"[[]]", WASMREG_JSON_OK, 1, 0, NULL},
      {"[[1], [2, 3]]", WASMREG_JSON_ETYPE, 0, 0, "row 1 has 2 numbers, row 0 has 1"},
      {"[[1, 2], 3]", WASMREG_JSON_ETYPE, 0, 0, "row 1 is a number, want an array of numbers"},
      {"[[1, 2], [3, \"x\"]]", WASMREG_JSON_ETYPE, 0, 0, "element [1][1] is a string, want a number"},
      {"[[1, 1e999]]", WASMREG_JSON_ERANGE, 0, 0, "element [0][1]: number 1e999 is too large for a double"},
      {"[[1, 2, 3], [4, 5, 6]]", WASMREG_JSON_ETOOMANY, 2, 3, "has 6 numbers, want at most 4"},
      {"{}", WASMREG_JSON_ETYPE, 0, 0, "is an object, want an array of arrays of numbers"},
      {"[[1,]]", WASMREG_JSON_ESYNTAX, 0, 0, NULL},
  };
  size_t i;
  for (i = 0; i < sizeof tests / sizeof tests[0]; i++) {
    int err = wasmreg_json_parse_matrix(tests[i].json, strlen(tests[i].json), m, 4, &rows, &cols);
    expect_err(tests[i].json, err, tests[i].want, tests[i].detail);
    if (err == WASMREG_JSON_OK || err == WASMREG_JSON_ETOOMANY)
      CHECK(rows == tests[i].rows && cols == tests[i].cols, "%s: %zux%zu", tests[i].json, rows, cols);
  }
  wasmreg_json_parse_matrix("[[1, 2], [3, 4]]", 16, m, 4, &rows, &cols);
  CHECK(m[0] == 1 && m[1] == 2 && m[2] == 3 && m[3] == 4, "matrix values %g %g %g %g", m[0], m[1], m[2], m[3]);
  expect_err("measure", wasmreg_json_parse_matrix("[[1,2,3],[4,5,6]]", 17, NULL, 0, &rows, &cols), WASMREG_JSON_OK,
             NULL);
  CHECK(rows == 2 && cols == 3, "measure: %zux%zu", rows, cols);
  {
    const char *cfg = "{\"centroids\": [[0, 0], [1, 1]]}";
    expect_err("matrix by key", wasmreg_json_matrix(cfg, strlen(cfg), "centroids", m, 4, &rows, &cols),
               WASMREG_JSON_OK, NULL);
    CHECK(rows == 2 && cols == 2 && m[3] == 1, "matrix by key");
  }
}

static void selftest_writer(void) {
  buf b = {{0}, 0};
  wasmreg_json_object o, inner;
  int64_t ints[] = {1, -2, INT64_MAX, INT64_MIN};
  double nums[] = {0.1, 2, 1e300};
  wasmreg_json_write_ints(out_buf, &b, ints, 4);
  CHECK(strcmp(b.b, "[1,-2,9223372036854775807,-9223372036854775808]") == 0, "ints: %s", b.b);
  b.n = 0;
  wasmreg_json_write_ints(out_buf, &b, NULL, 0);
  CHECK(strcmp(b.b, "[]") == 0, "no ints: %s", b.b);
  b.n = 0;
  wasmreg_json_write_object_begin(out_buf, &b, &o);
  wasmreg_json_write_key(out_buf, &b, &o, "label");
  wasmreg_json_write_int(out_buf, &b, 3);
  wasmreg_json_write_key(out_buf, &b, &o, "scores");
  wasmreg_json_write_numbers(out_buf, &b, nums, 3);
  wasmreg_json_write_key(out_buf, &b, &o, "a \"b\"<");
  wasmreg_json_write_object_begin(out_buf, &b, &inner);
  wasmreg_json_write_object_end(out_buf, &b, &inner);
  wasmreg_json_write_object_end(out_buf, &b, &o);
  CHECK(strcmp(b.b, "{\"label\":3,\"scores\":[0.1,2,1e+300],\"a \\\"b\\\"\\u003c\":{}}") == 0, "object: %s", b.b);
  expect_err("object is valid JSON", wasmreg_json_validate(b.b, b.n, NULL), WASMREG_JSON_OK, NULL);
}

/* read_record reads one length-prefixed record into a new buffer. */
static char *read_record(size_t *n) {
  unsigned char len[4];
  char *p;
  if (fread(len, 1, 4, stdin) != 4)
    return NULL;
  *n = (size_t)len[0] | (size_t)len[1] << 8 | (size_t)len[2] << 16 | (size_t)len[3] << 24;
  /* exactly n bytes, not NUL-terminated: the sanitizers catch a read past them */
  p = (char *)malloc(*n > 0 ? *n : 1);
  if (p == NULL || fread(p, 1, *n, stdin) != *n) {
    fprintf(stderr, "short record\n");
    exit(2);
  }
  return p;
}

static void read_all(const char *s, size_t n) {
  static const char *const keys[] = {"a", "b", NULL};
  double d, nums[8], m[8];
  int64_t v;
  char str[16];
  size_t k, rows, cols;
  wasmreg_json_iter it;
  const char *key, *val;
  size_t klen, vlen;
  int e;
  printf("%d", wasmreg_json_validate(s, n, &k));
  printf(" %d", wasmreg_json_type(s, n));
  printf(" %d", wasmreg_json_check_keys(s, n, keys));
  printf(" %d", wasmreg_json_parse_int(s, n, -5, 5, &v));
  printf(" %d", wasmreg_json_parse_number(s, n, &d));
  printf(" %d", wasmreg_json_parse_numbers(s, n, nums, 8, &k));
  printf(" %d", wasmreg_json_parse_matrix(s, n, m, 8, &rows, &cols));
  printf(" %d", wasmreg_json_parse_string(s, n, str, sizeof str, &k));
  printf(" %d", wasmreg_json_string_equals(s, n, "a"));
  printf(" %d", wasmreg_json_int(s, n, "a", 0, 9, &v));
  printf(" %d", wasmreg_json_matrix(s, n, "b", m, 8, &rows, &cols));
  printf(" %d", wasmreg_json_string(s, n, "a", str, sizeof str, &k));
  if (wasmreg_json_object_begin(&it, s, n) == WASMREG_JSON_OK)
    while ((e = wasmreg_json_object_next(&it, &key, &klen, &val, &vlen)) > 0)
      printf(" k%zu:%zu", klen, vlen);
  if (wasmreg_json_array_begin(&it, s, n) == WASMREG_JSON_OK)
    while ((e = wasmreg_json_array_next(&it, &val, &vlen)) > 0)
      printf(" e%zu", vlen);
  printf("\n");
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  if (strcmp(mode, "selftest") == 0) {
    selftest_keys();
    selftest_int();
    selftest_matrix();
    selftest_writer();
    printf("%d checks, %d failed\n", checks, failures);
    return failures > 0;
  }
  if (strcmp(mode, "quote") == 0 || strcmp(mode, "read") == 0) {
    size_t n;
    char *p;
    while ((p = read_record(&n)) != NULL) {
      if (mode[0] == 'q') {
        wasmreg_json_write_string(out_file, stdout, p, n);
        fputc('\n', stdout);
      } else {
        read_all(p, n);
      }
      free(p);
    }
    return 0;
  }
  fprintf(stderr, "usage: json_test selftest|quote|read\n");
  return 2;
}
