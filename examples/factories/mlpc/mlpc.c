/*
 * mlpc: the digits-style multi-layer perceptron factory in C, with the
 * wasmreg C SDK. It runs trained networks in mlpnet's weights format
 * (examples/mlpnet/doc.go) and answers exactly as the Go mlp factory
 * (examples/factories/mlp) does: the same JSON, and the same float32
 * probabilities bit for bit, because the forward pass keeps mlpnet's
 * summation order and its own exp.
 *
 * Config:   {"weights": "digits"}      (an artifact the host grants)
 * Request:  [0, 0, 5, 13, ...]         (one sample)
 *           {"inputs": [[...], ...]}   (a batch)
 * Response: {"class":3,"label":"3","probabilities":[...]}
 *           {"outputs":[{"class":...}, ...]}
 *
 * Build (from the repository root; -msimd128 turns on the f32x4 dense
 * layers, -DMLPC_SCALAR forces the scalar ones even then):
 *   clang --target=wasm32-wasi -mexec-model=reactor -O2 -msimd128 -Wall -Werror \
 *       -Wl,--stack-first -Wl,--strip-debug -I guest-sdk/c \
 *       -o mlpc.wasm examples/factories/mlpc/mlpc.c
 */
#define WASMREG_IMPLEMENTATION
#include "wasmreg.h"

#include <float.h>
#include <math.h>
#include <stdio.h>

#if defined(__wasm_simd128__) && !defined(MLPC_SCALAR)
#define MLPC_SIMD 1
#include <wasm_simd128.h>
#else
#define MLPC_SIMD 0
#endif

/* mlpnet rounds every product before it adds it; so does C without FMA
 * contraction, which wasm32 has no instruction for anyway. Say it. */
#pragma STDC FP_CONTRACT OFF

#define CONFIG_ERROR 2
#define REQUEST_ERROR 3
#define RESPONSE_ERROR 4
#define NOMEM_ERROR 5

/* mlpnet's limits (examples/mlpnet/mlpnet.go, encoding.go). */
#define MAX_PARAMS (16u << 20)
#define MAX_LAYERS 64
#define MAX_HEADER (1u << 20)
#define MAGIC "WRMLP\0v1"
#define MAGIC_LEN 8
#define PREAMBLE (MAGIC_LEN + 4)

WASMREG_INFO("{\"name\":\"mlpc\",\"version\":\"1.0.0\","
             "\"description\":\"Trained multi-layer perceptrons in mlpnet's weights format, in C with wasm SIMD; "
             "answers as the mlp factory does.\","
             "\"capabilities\":[\"log\",\"artifact\"],"
             "\"config_schema\":{\"type\":\"object\",\"required\":[\"weights\"],\"additionalProperties\":false,"
             "\"properties\":{\"weights\":{\"type\":\"string\",\"minLength\":1,"
             "\"description\":\"name of a granted artifact in mlpnet's weights format, such as \\\"digits\\\"\"}}},"
             /* The signature: rows of the network's inputs (64 for the
              * digits), and the fields of each answer. The sizes depend
              * on the weights, so they are variable; a network answers
              * either probabilities or values, and label only if the
              * file has labels: a server leaves out the outputs that no
              * answer holds. */
             "\"tensors\":{\"inputs\":[" WASMREG_TENSOR("input", FP32, -1, -1) "],"
             "\"outputs\":[" WASMREG_TENSOR("class", INT64, -1) "," WASMREG_TENSOR("label", BYTES, -1) ","
             WASMREG_TENSOR("probabilities", FP32, -1, -1) "," WASMREG_TENSOR("values", FP32, -1, -1) "]}}");

enum { FN_RELU, FN_TANH, FN_SIGMOID, FN_SOFTMAX, FN_LINEAR };
static const char *const activations[] = {"relu", "tanh", "sigmoid"};
static const char *const outputs[] = {"softmax", "sigmoid", "linear"};

/* ------------------------------------------------------------------------
 * The model: what wasmreg_factory_build leaves in this private instance.
 * ------------------------------------------------------------------------ */

typedef struct {
  uint32_t in, out;
  const float *w; /* out rows of in weights, row-major */
  const float *b; /* out biases */
} layer;

static layer layers[MAX_LAYERS];
static uint32_t nlayers, nin, nout, nparams;
static int activation, output_fn;
static float input_scale = 1;
static float *params;        /* every W and B, in file order */
static float *act[2];        /* ping-pong layer outputs, the widest layer each */
static double *exps;         /* softmax's exponentials, nout */
static double *parsed;       /* a request row as doubles, nin (slow path) */
static char *labels;         /* the labels, each already a JSON string, quotes included */
static size_t *label_at;     /* label i is labels[label_at[i] .. label_at[i+1]) */
static uint32_t nlabels;
static float *rows;          /* the inputs of a request (scaled), rows_cap rows of nin */
static size_t rows_cap;

/* ------------------------------------------------------------------------
 * Small helpers for messages
 * ------------------------------------------------------------------------ */

static char why[1024]; /* the detail of a decoding error */

__attribute__((format(printf, 1, 2))) static int bad(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  return -1;
}

/* quote writes s[0..n) as Go's %q would, roughly: quotes, escapes for
 * quotes, backslashes and control bytes, \xNN for the rest of non-ASCII;
 * cut with "..." to fit in cap bytes (cap >= 16). */
static const char *quote(char *dst, size_t cap, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  size_t i, k = 0;
  dst[k++] = '"';
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char e = 0;
    if (k + 8 > cap) {
      memcpy(dst + k, "...", 3);
      k += 3;
      break;
    }
    switch (c) {
    case '"': e = '"'; break;
    case '\\': e = '\\'; break;
    case '\n': e = 'n'; break;
    case '\r': e = 'r'; break;
    case '\t': e = 't'; break;
    }
    if (e) {
      dst[k++] = '\\';
      dst[k++] = e;
    } else if (c < 0x20 || c >= 0x7f) {
      dst[k++] = '\\';
      dst[k++] = 'x';
      dst[k++] = hex[c >> 4];
      dst[k++] = hex[c & 15];
    } else {
      dst[k++] = (char)c;
    }
  }
  dst[k++] = '"';
  dst[k] = 0;
  return dst;
}

/* shortest_double writes v as Go's %g does in the common cases: the
 * shortest of 15, 16 or 17 significant digits that reads back as v. */
static const char *shortest_double(char b[32], double v) {
  int prec;
  for (prec = 15; prec <= 17; prec++) {
    snprintf(b, 32, "%.*g", prec, v);
    if (strtod(b, NULL) == v)
      break;
  }
  return b;
}

/* float_name names a non-finite float32 as Go's %v does. */
static const char *float_name(float f) {
  if (isnan(f))
    return "NaN";
  return f > 0 ? "+Inf" : "-Inf";
}

/* key_is reports whether the JSON string key (quotes included) decodes to
 * name, ignoring ASCII case as Go's encoding/json matches struct fields. */
static int key_is(const char *key, size_t klen, const char *name) {
  char buf[32];
  size_t n, i;
  if (wasmreg_json_parse_string(key, klen, buf, sizeof buf, &n) != WASMREG_JSON_OK || n != strlen(name))
    return 0;
  for (i = 0; i < n; i++) {
    char c = buf[i];
    if (c >= 'A' && c <= 'Z')
      c = (char)(c - 'A' + 'a');
    if (c != name[i])
      return 0;
  }
  return 1;
}

/* ------------------------------------------------------------------------
 * Decoding the weights file (mlpnet's binary format, version 1), with
 * mlpnet.Decode's checks and messages. Every error leaves its detail in
 * why and returns -1.
 * ------------------------------------------------------------------------ */

#define BADF "mlpnet: bad weights file: "
#define INVALID "mlpnet: invalid network: "

static uint32_t le32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* sizes_text writes a shape as Go's %v writes a []int: [64 32 10]. */
static const char *sizes_text(char *dst, size_t cap, const int64_t *sizes, size_t n) {
  size_t k = 0, i;
  k += (size_t)snprintf(dst + k, cap - k, "[");
  for (i = 0; i < n && k + 24 < cap; i++)
    k += (size_t)snprintf(dst + k, cap - k, i ? " %lld" : "%lld", (long long)sizes[i]);
  snprintf(dst + k, cap - k, i < n ? " ...]" : "]");
  return dst;
}

/* count_params is mlpnet.CountParams: it checks a shape and counts its
 * weights and biases. n is the number of sizes; only the first
 * MAX_LAYERS + 2 are stored (more is an error anyway). */
static int count_params(const int64_t *sizes, size_t n, uint32_t *total) {
  char text[256];
  uint64_t sum = 0;
  size_t i;
  if (n < 2)
    return bad(BADF "header field \"sizes\": " INVALID "sizes %s: want at least 2 sizes, [inputs, …, outputs]",
               sizes_text(text, sizeof text, sizes, n));
  if (n - 1 > MAX_LAYERS)
    return bad(BADF "header field \"sizes\": " INVALID "%zu sizes make %zu layers, the limit is %d", n, n - 1,
               MAX_LAYERS);
  for (i = 0; i < n; i++)
    if (sizes[i] < 1 || sizes[i] > MAX_PARAMS)
      return bad(BADF "header field \"sizes\": " INVALID "sizes[%zu] is %lld, want 1 to %u", i, (long long)sizes[i],
                 MAX_PARAMS);
  for (i = 0; i + 1 < n; i++) {
    sum += (uint64_t)sizes[i] * (uint64_t)sizes[i + 1] + (uint64_t)sizes[i + 1];
    if (sum > MAX_PARAMS)
      return bad(BADF "header field \"sizes\": " INVALID "sizes %s have more than %u parameters",
                 sizes_text(text, sizeof text, sizes, n), MAX_PARAMS);
  }
  *total = (uint32_t)sum;
  return 0;
}

/* header is the parsed JSON header. */
typedef struct {
  int64_t sizes[MAX_LAYERS + 2];
  size_t nsizes;
  int has_sizes;
  const char *activation, *output, *scale, *labels; /* value spans, NULL if absent or null */
  size_t activation_len, output_len, scale_len, labels_len;
} header;

static int is_null(const char *v, size_t n) { return wasmreg_json_type(v, n) == WASMREG_JSON_NULL; }

static int parse_sizes(header *h, const char *v, size_t vlen) {
  wasmreg_json_iter it;
  const char *e;
  size_t elen, i, k;
  if (wasmreg_json_array_begin(&it, v, vlen) != WASMREG_JSON_OK)
    return bad(BADF "header field \"sizes\": %s", wasmreg_json_error());
  h->nsizes = 0;
  h->has_sizes = 1;
  for (i = 0; wasmreg_json_array_next(&it, &e, &elen) > 0; i++) {
    int64_t s = 0;
    int neg = 0;
    if (wasmreg_json_type(e, elen) != WASMREG_JSON_NUMBER)
      return bad(BADF "header field \"sizes\": element %zu is %s, want an integer", i,
                 wasmreg_json_type_name(wasmreg_json_type(e, elen)));
    neg = e[0] == '-';
    for (k = (size_t)neg; k < elen; k++) {
      if (e[k] < '0' || e[k] > '9' || elen - (size_t)neg > 18) /* 18 digits fit an int64 */
        return bad(BADF "header field \"sizes\": element %zu is %.*s, want an integer", i, (int)(elen > 40 ? 40 : elen),
                   e);
      s = s * 10 + (e[k] - '0');
    }
    if (h->nsizes < sizeof h->sizes / sizeof h->sizes[0])
      h->sizes[h->nsizes] = neg ? -s : s;
    h->nsizes++;
  }
  return 0;
}

/* parse_header reads the JSON header: Go's decoding into mlpnet's header
 * struct (unknown fields refused, keys matched ignoring case, the last of
 * duplicate keys wins). */
static int parse_header(header *h, const char *json, size_t len) {
  wasmreg_json_iter it;
  const char *k, *v;
  size_t klen, vlen;
  int t;
  memset(h, 0, sizeof *h);
  if (wasmreg_json_validate(json, len, NULL) != WASMREG_JSON_OK)
    return bad(BADF "header: %s", wasmreg_json_error());
  if ((t = wasmreg_json_type(json, len)) != WASMREG_JSON_OBJECT)
    return bad(BADF "header: is %s, want an object", wasmreg_json_type_name(t));
  wasmreg_json_object_begin(&it, json, len);
  while (wasmreg_json_object_next(&it, &k, &klen, &v, &vlen) > 0) {
    int null = is_null(v, vlen);
    if (key_is(k, klen, "sizes")) {
      h->has_sizes = 0;
      if (!null && parse_sizes(h, v, vlen) < 0)
        return -1;
    } else if (key_is(k, klen, "activation")) {
      h->activation = null ? NULL : v;
      h->activation_len = vlen;
    } else if (key_is(k, klen, "output")) {
      h->output = null ? NULL : v;
      h->output_len = vlen;
    } else if (key_is(k, klen, "input_scale")) {
      h->scale = null ? NULL : v;
      h->scale_len = vlen;
    } else if (key_is(k, klen, "labels")) {
      h->labels = null ? NULL : v;
      h->labels_len = vlen;
    } else {
      return bad(BADF "header: unknown field %.*s", (int)(klen > 64 ? 64 : klen), k);
    }
  }
  if (!h->has_sizes)
    return bad(BADF "header: field \"sizes\" is missing");
  return 0;
}

/* parse_name finds which of names[0..n) the string value v is; "" if
 * absent. */
static int parse_name(const char *field, const char *v, size_t vlen, const char *const *names, int n, int *out) {
  char buf[64], list[128];
  size_t got = 0, k = 0;
  int i;
  if (v != NULL) {
    int t = wasmreg_json_type(v, vlen);
    if (t != WASMREG_JSON_STRING)
      return bad(BADF "header field \"%s\": is %s, want a string", field, wasmreg_json_type_name(t));
    if (wasmreg_json_parse_string(v, vlen, buf, sizeof buf, &got) != WASMREG_JSON_OK)
      got = sizeof buf - 1;
  } else {
    buf[0] = 0;
  }
  for (i = 0; i < n; i++)
    if (strlen(names[i]) == got && memcmp(buf, names[i], got) == 0) {
      *out = i;
      return 0;
    }
  list[0] = 0;
  for (i = 0; i < n; i++)
    k += (size_t)snprintf(list + k, sizeof list - k, i ? " \"%s\"" : "\"%s\"", names[i]);
  {
    char q[96];
    return bad(BADF "header: " INVALID "%s %s: want one of [%s]", field, quote(q, sizeof q, buf, got), list);
  }
}

/* append_json_string appends s[0..n) to dst as Go's encoding/json writes a
 * string: quoted; \", \\, \b, \f, \n, \r, \t; other control characters,
 * <, > and & as \u00XX; U+2028 and U+2029 escaped. s is valid UTF-8 (the
 * SDK's decoder has replaced invalid bytes by U+FFFD, as Go's does). dst
 * has room for 6n+2 bytes. */
static size_t append_json_string(char *dst, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  size_t i, k = 0;
  dst[k++] = '"';
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char e = 0;
    switch (c) {
    case '"': e = '"'; break;
    case '\\': e = '\\'; break;
    case '\b': e = 'b'; break;
    case '\f': e = 'f'; break;
    case '\n': e = 'n'; break;
    case '\r': e = 'r'; break;
    case '\t': e = 't'; break;
    }
    if (e) {
      dst[k++] = '\\';
      dst[k++] = e;
    } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
      memcpy(dst + k, "\\u00", 4);
      dst[k + 4] = hex[c >> 4];
      dst[k + 5] = hex[c & 15];
      k += 6;
    } else if (c == 0xE2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
               ((unsigned char)s[i + 2] == 0xA8 || (unsigned char)s[i + 2] == 0xA9)) {
      memcpy(dst + k, (unsigned char)s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
      k += 6;
      i += 2;
    } else {
      dst[k++] = (char)c;
    }
  }
  dst[k++] = '"';
  return k;
}

/* parse_labels keeps the labels, one per output, as JSON strings ready to
 * be written. */
static int parse_labels(const char *v, size_t vlen) {
  wasmreg_json_iter it;
  const char *e;
  size_t elen, n = 0, total = 0, i, got, longest = 0;
  char *tmp;
  int t;
  if ((t = wasmreg_json_type(v, vlen)) != WASMREG_JSON_ARRAY)
    return bad(BADF "header field \"labels\": is %s, want an array of strings", wasmreg_json_type_name(t));
  wasmreg_json_array_begin(&it, v, vlen);
  while (wasmreg_json_array_next(&it, &e, &elen) > 0) {
    if ((t = wasmreg_json_type(e, elen)) != WASMREG_JSON_STRING)
      return bad(BADF "header field \"labels\": element %zu is %s, want a string", n, wasmreg_json_type_name(t));
    wasmreg_json_parse_string(e, elen, NULL, 0, &got);
    total += 6 * got + 2; /* the longest escape is 6 bytes for 1 */
    if (got > longest)
      longest = got;
    n++;
  }
  if (n != nout)
    return bad(BADF "header field \"labels\" has %zu labels for %u outputs", n, nout);
  labels = malloc(total + 16); /* + 16: write_result copies 16 bytes at a time */
  label_at = malloc((n + 1) * sizeof *label_at);
  tmp = malloc(longest + 1);
  if (labels == NULL || label_at == NULL || tmp == NULL) {
    free(tmp);
    return bad("out of memory for %zu labels", n);
  }
  wasmreg_json_array_begin(&it, v, vlen);
  label_at[0] = 0;
  for (i = 0; wasmreg_json_array_next(&it, &e, &elen) > 0; i++) {
    wasmreg_json_parse_string(e, elen, tmp, longest + 1, &got);
    label_at[i + 1] = label_at[i] + append_json_string(labels + label_at[i], tmp, got);
  }
  free(tmp);
  nlabels = (uint32_t)n;
  return 0;
}

/* decode is mlpnet.Decode on the artifact's bytes, which it takes over:
 * the weights are moved to the front of blob, which becomes params. */
static int decode(unsigned char *blob, size_t n) {
  header h;
  char q[64];
  uint32_t hlen, total, l, i;
  size_t plen, off, max_width;
  const unsigned char *payload;
  if (n < PREAMBLE)
    return bad(BADF "%zu bytes, shorter than the %d-byte magic and header length", n, PREAMBLE);
  if (memcmp(blob, MAGIC, MAGIC_LEN) != 0) {
    char want[32];
    return bad(BADF "magic %s, want %s", quote(q, sizeof q, (const char *)blob, MAGIC_LEN),
               quote(want, sizeof want, MAGIC, MAGIC_LEN));
  }
  hlen = le32(blob + MAGIC_LEN);
  if (hlen > MAX_HEADER || hlen > n - PREAMBLE)
    return bad(BADF "header length %u, but %zu bytes follow (the limit is %u)", hlen, n - PREAMBLE, MAX_HEADER);
  if (parse_header(&h, (const char *)blob + PREAMBLE, hlen) < 0)
    return -1;
  payload = blob + PREAMBLE + hlen;
  plen = n - PREAMBLE - hlen;
  if (count_params(h.sizes, h.nsizes, &total) < 0)
    return -1;
  if (plen != 4 * (size_t)total) {
    char text[256];
    return bad(BADF "%zu bytes of weights, want %zu (%u float32 parameters for sizes %s)", plen, 4 * (size_t)total,
               total, sizes_text(text, sizeof text, h.sizes, h.nsizes));
  }
  if (parse_name("activation", h.activation, h.activation_len, activations, 3, &activation) < 0 ||
      parse_name("output", h.output, h.output_len, outputs, 3, &output_fn) < 0)
    return -1;
  activation += FN_RELU;
  output_fn = output_fn == 0 ? FN_SOFTMAX : output_fn == 1 ? FN_SIGMOID : FN_LINEAR;
  if (h.scale != NULL) {
    double s;
    char b[32];
    if (wasmreg_json_parse_number(h.scale, h.scale_len, &s) != WASMREG_JSON_OK)
      return bad(BADF "header field \"input_scale\": %s", wasmreg_json_error());
    if (s == 0 || fabs(s) > FLT_MAX)
      return bad(BADF "header field \"input_scale\" is %s, want a finite non-zero float32", shortest_double(b, s));
    /* A scale that rounds to a float32 zero means 1, as mlpnet's
     * Network.Scale reads a zero InputScale. */
    input_scale = (float)s != 0 ? (float)s : 1;
  }
  nparams = total;
  nlayers = (uint32_t)h.nsizes - 1;
  nin = (uint32_t)h.sizes[0];
  nout = (uint32_t)h.sizes[nlayers];
  if (h.labels != NULL && parse_labels(h.labels, h.labels_len) < 0)
    return -1;

  /* Refuse NaN and infinities, naming the parameter and its offset. */
  off = 0;
  for (l = 0; l < nlayers; l++) {
    uint32_t in = (uint32_t)h.sizes[l], out = (uint32_t)h.sizes[l + 1];
    for (i = 0; i < in * out + out; i++, off++) {
      uint32_t bits = le32(payload + 4 * off);
      if ((bits & 0x7f800000u) == 0x7f800000u) {
        float f;
        memcpy(&f, &bits, 4);
        return bad(BADF "layer %u %s[%u] is %s (at byte %zu)", l, i < in * out ? "W" : "B",
                   i < in * out ? i : i - in * out, float_name(f), PREAMBLE + hlen + 4 * off);
      }
    }
  }
  /* The file is little-endian, like wasm: move the weights to the front,
   * where malloc's alignment makes them float-aligned, and use them as
   * they are. */
  memmove(blob, payload, plen);
  params = (float *)(void *)blob;
  max_width = 0;
  off = 0;
  for (l = 0; l < nlayers; l++) {
    layer *L = &layers[l];
    L->in = (uint32_t)h.sizes[l];
    L->out = (uint32_t)h.sizes[l + 1];
    L->w = params + off;
    off += (size_t)L->in * L->out;
    L->b = params + off;
    off += L->out;
    if (L->out > max_width)
      max_width = L->out;
  }
  act[0] = malloc(max_width * sizeof(float));
  act[1] = malloc(max_width * sizeof(float));
  exps = malloc(nout * sizeof(double));
  parsed = malloc(nin * sizeof(double));
  if (act[0] == NULL || act[1] == NULL || exps == NULL || parsed == NULL)
    return bad("out of memory for a network of %u layers", nlayers);
  return 0;
}

/* ------------------------------------------------------------------------
 * The forward pass: mlpnet.Forward, the same float32 results bit for bit.
 * ------------------------------------------------------------------------ */

/* exp64 is mlpnet's exp64 (FreeBSD's e_exp.c as in Go's math/exp.go). */
static double exp64(double x) {
  const double ln2Hi = 6.93147180369123816490e-01, ln2Lo = 1.90821492927058770002e-10,
               log2e = 1.44269504088896338700e+00, overflow = 7.09782712893383973096e+02,
               underflow = -7.45133219101941108420e+02, nearZero = 1.0 / (1 << 28), p1 = 1.66666666666666657415e-01,
               p2 = -2.77777777770155933842e-03, p3 = 6.61375632143793436117e-05, p4 = -1.65339022054652515390e-06,
               p5 = 4.13813679705723846039e-08;
  double hi, lo, r, t, c, y;
  int k = 0;
  if (isnan(x))
    return x;
  if (x > overflow)
    return INFINITY;
  if (x < underflow)
    return 0;
  if (-nearZero < x && x < nearZero)
    return 1 + x;
  if (x < 0)
    k = (int)(log2e * x - 0.5);
  else if (x > 0)
    k = (int)(log2e * x + 0.5);
  hi = x - (double)k * ln2Hi;
  lo = (double)k * ln2Lo;
  r = hi - lo;
  t = r * r;
  c = r - t * (p1 + t * (p2 + t * (p3 + t * (p4 + t * p5))));
  y = 1 - ((lo - (r * c) / (2 - c)) - hi);
  return ldexp(y, k);
}

/* tanh64 is mlpnet's tanh64. */
static double tanh64(double x) {
  double e;
  if (isnan(x))
    return x;
  if (x > 20)
    return 1;
  if (x < -20)
    return -1;
  if (-1.0 / (1 << 28) < x && x < 1.0 / (1 << 28))
    return x;
  e = exp64(2 * x);
  return (e - 1) / (e + 1);
}

static float sigmoid32(float x) { return (float)(1 / (1 + exp64(-(double)x))); }

/* hidden applies the hidden layers' activation to one unit's output. */
static inline float hidden(float v) {
  switch (activation) {
  case FN_RELU:
    return v < 0 ? 0 : v;
  case FN_TANH:
    return (float)tanh64((double)v);
  default:
    return sigmoid32(v);
  }
}

/* finish_unit is mlpnet's end of a unit: the four running sums s0..s3
 * (sums of the products at indices 0, 1, 2, 3 mod 4), then the tail from
 * index i into s0, then B + ((s0 + s1) + (s2 + s3)). */
static inline float finish_unit(float s0, float s1, float s2, float s3, const float *row, const float *in, uint32_t i,
                                uint32_t n, float b) {
  for (; i < n; i++)
    s0 += row[i] * in[i];
  return b + ((s0 + s1) + (s2 + s3));
}

/*
 * A note on loops. With the host's default safety settings, wazero checks
 * at the head of every loop iteration whether the call must stop, and the
 * check leaves compiled code for Go: it costs tens of nanoseconds, more
 * than the iteration's work. So the hot paths here run few iterations:
 * the dense layers take 4 units and 32 inputs per iteration, activations
 * are applied as each unit is finished, inputs are scaled as they are
 * parsed, and numbers are formatted without loops. None of it changes the
 * order of any floating-point operation.
 */

#if MLPC_SIMD
#define LANES(a) wasm_f32x4_extract_lane(a, 0), wasm_f32x4_extract_lane(a, 1), \
                 wasm_f32x4_extract_lane(a, 2), wasm_f32x4_extract_lane(a, 3)
#define MAC(a, r, x, k) a = wasm_f32x4_add(a, wasm_f32x4_mul(wasm_v128_load((r) + i + 4 * (k)), x))

/* dense sets out = W·in + B, with the hidden activation if hid, with
 * f32x4: lane j of a unit's accumulator is mlpnet's running sum s_j,
 * added in the same order, so the results are the scalar ones bit for
 * bit. Four units at a time share each load of in. */
static void dense(const layer *L, const float *in, float *out, int hid) {
  const uint32_t n = L->in, n4 = n & ~3u, n32 = n & ~31u;
  uint32_t o = 0, i, k;
  for (; o + 4 <= L->out; o += 4) {
    const float *r0 = L->w + (size_t)o * n, *r1 = r0 + n, *r2 = r1 + n, *r3 = r2 + n;
    v128_t a0 = wasm_f32x4_splat(0), a1 = a0, a2 = a0, a3 = a0;
    for (i = 0; i < n32; i += 32) {
      v128_t x0 = wasm_v128_load(in + i), x1 = wasm_v128_load(in + i + 4), x2 = wasm_v128_load(in + i + 8),
             x3 = wasm_v128_load(in + i + 12);
      MAC(a0, r0, x0, 0), MAC(a0, r0, x1, 1), MAC(a0, r0, x2, 2), MAC(a0, r0, x3, 3);
      MAC(a1, r1, x0, 0), MAC(a1, r1, x1, 1), MAC(a1, r1, x2, 2), MAC(a1, r1, x3, 3);
      MAC(a2, r2, x0, 0), MAC(a2, r2, x1, 1), MAC(a2, r2, x2, 2), MAC(a2, r2, x3, 3);
      MAC(a3, r3, x0, 0), MAC(a3, r3, x1, 1), MAC(a3, r3, x2, 2), MAC(a3, r3, x3, 3);
      x0 = wasm_v128_load(in + i + 16), x1 = wasm_v128_load(in + i + 20), x2 = wasm_v128_load(in + i + 24),
      x3 = wasm_v128_load(in + i + 28);
      MAC(a0, r0, x0, 4), MAC(a0, r0, x1, 5), MAC(a0, r0, x2, 6), MAC(a0, r0, x3, 7);
      MAC(a1, r1, x0, 4), MAC(a1, r1, x1, 5), MAC(a1, r1, x2, 6), MAC(a1, r1, x3, 7);
      MAC(a2, r2, x0, 4), MAC(a2, r2, x1, 5), MAC(a2, r2, x2, 6), MAC(a2, r2, x3, 7);
      MAC(a3, r3, x0, 4), MAC(a3, r3, x1, 5), MAC(a3, r3, x2, 6), MAC(a3, r3, x3, 7);
    }
    for (; i < n4; i += 4) {
      v128_t x = wasm_v128_load(in + i);
      MAC(a0, r0, x, 0);
      MAC(a1, r1, x, 0);
      MAC(a2, r2, x, 0);
      MAC(a3, r3, x, 0);
    }
    out[o] = finish_unit(LANES(a0), r0, in, n4, n, L->b[o]);
    out[o + 1] = finish_unit(LANES(a1), r1, in, n4, n, L->b[o + 1]);
    out[o + 2] = finish_unit(LANES(a2), r2, in, n4, n, L->b[o + 2]);
    out[o + 3] = finish_unit(LANES(a3), r3, in, n4, n, L->b[o + 3]);
    if (hid) {
      out[o] = hidden(out[o]);
      out[o + 1] = hidden(out[o + 1]);
      out[o + 2] = hidden(out[o + 2]);
      out[o + 3] = hidden(out[o + 3]);
    }
  }
  for (; o < L->out; o++) {
    const float *r0 = L->w + (size_t)o * n;
    v128_t a0 = wasm_f32x4_splat(0);
    for (i = 0; i < n32; i += 32)
      for (k = 0; k < 8; k++)
        MAC(a0, r0, wasm_v128_load(in + i + 4 * k), k);
    for (; i < n4; i += 4)
      MAC(a0, r0, wasm_v128_load(in + i), 0);
    out[o] = finish_unit(LANES(a0), r0, in, n4, n, L->b[o]);
    if (hid)
      out[o] = hidden(out[o]);
  }
}
#undef MAC
#undef LANES
#else
#define STEP(j)                             \
  s0 += row[i + (j)] * in[i + (j)];         \
  s1 += row[i + (j) + 1] * in[i + (j) + 1]; \
  s2 += row[i + (j) + 2] * in[i + (j) + 2]; \
  s3 += row[i + (j) + 3] * in[i + (j) + 3]

/* dense sets out = W·in + B, with the hidden activation if hid: mlpnet's
 * dense, with its four running sums, 32 inputs per iteration. */
static void dense(const layer *L, const float *in, float *out, int hid) {
  const uint32_t n = L->in;
  uint32_t o, i;
  for (o = 0; o < L->out; o++) {
    const float *row = L->w + (size_t)o * n;
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (i = 0; i + 32 <= n; i += 32) {
      STEP(0);
      STEP(4);
      STEP(8);
      STEP(12);
      STEP(16);
      STEP(20);
      STEP(24);
      STEP(28);
    }
    for (; i + 4 <= n; i += 4) {
      STEP(0);
    }
    out[o] = finish_unit(s0, s1, s2, s3, row, in, i, n, L->b[o]);
    if (hid)
      out[o] = hidden(out[o]);
  }
}
#undef STEP
#endif

/* result is a finished output: the values, the class (mlpnet's
 * Network.Class) and the first value JSON cannot write, if any. */
typedef struct {
  const float *y;
  uint32_t class;
  int bad; /* index of the first NaN or infinity, or -1 */
} result;

/* forward runs the network on x, nin inputs already multiplied by the
 * input scale; the result is valid until the next call. */
static result forward(const float *x) {
  result r = {NULL, 0, -1};
  const float *in = x;
  float *out = NULL, best = 0;
  double sum = 0;
  uint32_t i, l;
  for (l = 0; l < nlayers; l++) {
    out = act[l & 1];
    dense(&layers[l], in, out, l + 1 < nlayers);
    in = out;
  }
  /* The output function, the class and the first non-finite value, in
   * as few passes as possible. */
  if (output_fn == FN_SOFTMAX) {
    /* mlpnet.Softmax: in float64 after subtracting the maximum; it
     * computes each exponential twice, the same value both times. */
    float m = out[0];
    for (i = 1; i < nout; i++)
      if (out[i] > m)
        m = out[i];
    sum = 0;
    for (i = 0; i < nout; i++)
      sum += exps[i] = exp64((double)out[i] - (double)m);
  }
  for (i = 0; i < nout; i++) {
    if (output_fn == FN_SOFTMAX)
      out[i] = (float)(exps[i] / sum);
    else if (output_fn == FN_SIGMOID)
      out[i] = sigmoid32(out[i]);
    if (i == 0 || out[i] > best) { /* mlpnet.Argmax: the first of equals */
      best = out[i];
      r.class = i;
    }
    if (r.bad < 0 && !isfinite(out[i]))
      r.bad = (int)i;
  }
  if (nout == 1 && output_fn == FN_SIGMOID)
    r.class = out[0] >= 0.5f ? 1 : 0;
  r.y = out;
  return r;
}

/* ------------------------------------------------------------------------
 * float32 to text as Go's encoding/json writes it: the shortest digits that
 * read back as the same float32 (Go's strconv, which uses Dragonbox; this
 * is a port of its float32 path), in %f form, or %e form below 1e-6 and
 * from 1e21 on, with e-07 cut to e-7.
 * ------------------------------------------------------------------------ */

/* pow10_hi[k+31] is the upper 64 bits of 10^k normalised to [2^63, 2^64),
 * rounded up when inexact: Go's internal/strconv pow10Tab[k].Hi, plus one
 * where its dboxPow32 adds one (k < 0, k > 27), for the k float32 needs. */
static const uint64_t pow10_hi[] = {
    0x81ceb32c4b43fcf5ull, 0xa2425ff75e14fc32ull, 0xcad2f7f5359a3b3full, 0xfd87b5f28300ca0eull, /* 1e-31 .. */
    0x9e74d1b791e07e49ull, 0xc612062576589ddbull, 0xf79687aed3eec552ull, 0x9abe14cd44753b53ull,
    0xc16d9a0095928a28ull, 0xf1c90080baf72cb2ull, 0x971da05074da7befull, 0xbce5086492111aebull,
    0xec1e4a7db69561a6ull, 0x9392ee8e921d5d08ull, 0xb877aa3236a4b44aull, 0xe69594bec44de15cull,
    0x901d7cf73ab0acdaull, 0xb424dc35095cd810ull, 0xe12e13424bb40e14ull, 0x8cbccc096f5088ccull,
    0xafebff0bcb24aaffull, 0xdbe6fecebdedd5bfull, 0x89705f4136b4a598ull, 0xabcc77118461cefdull,
    0xd6bf94d5e57a42bdull, 0x8637bd05af6c69b6ull, 0xa7c5ac471b478424ull, 0xd1b71758e219652cull,
    0x83126e978d4fdf3cull, 0xa3d70a3d70a3d70bull, 0xcccccccccccccccdull, 0x8000000000000000ull, /* .. 1e0 */
    0xa000000000000000ull, 0xc800000000000000ull, 0xfa00000000000000ull, 0x9c40000000000000ull,
    0xc350000000000000ull, 0xf424000000000000ull, 0x9896800000000000ull, 0xbebc200000000000ull,
    0xee6b280000000000ull, 0x9502f90000000000ull, 0xba43b74000000000ull, 0xe8d4a51000000000ull,
    0x9184e72a00000000ull, 0xb5e620f480000000ull, 0xe35fa931a0000000ull, 0x8e1bc9bf04000000ull,
    0xb1a2bc2ec5000000ull, 0xde0b6b3a76400000ull, 0x8ac7230489e80000ull, 0xad78ebc5ac620000ull,
    0xd8d726b7177a8000ull, 0x878678326eac9000ull, 0xa968163f0a57b400ull, 0xd3c21bcecceda100ull,
    0x84595161401484a0ull, 0xa56fa5b99019a5c8ull, 0xcecb8f27f4200f3aull, 0x813f3978f8940985ull,
    0xa18f07d736b90be6ull, 0xc9f2c9cd04674edfull, 0xfc6f7c4045812297ull, 0x9dc5ada82b70b59eull,
    0xc5371912364ce306ull, 0xf684df56c3e01bc7ull, 0x9a130b963a6c115dull, 0xc097ce7bc90715b4ull,
    0xf0bdc21abb48db21ull, 0x96769950b50d88f5ull, 0xbc143fa4e250eb32ull, 0xeb194f8e1ae525feull,
    0x92efd1b8d0cf37bfull, 0xb7abc627050305aeull, 0xe596b7b0c643c71aull, 0x8f7e32ce7bea5c70ull,
    0xb35dbf821ae4f38cull, 0xe0352f62a19e306full, /* .. 1e46 */
};
#define POW10_MIN (-31)

static int mul_log10_2(int x) { return (x * 78913) >> 18; }
static int mul_log2_10(int x) { return (x * 108853) >> 15; }
static int mul_log10_2_minus_log10_4_over_3(int e) { return (e * 631305 - 261663) >> 21; }

static uint64_t dbox_pow(int k, int e, int *beta) {
  *beta = e + mul_log2_10(k); /* e + (1 + ⌊k·log2(10)⌋) - 1 */
  return pow10_hi[k - POW10_MIN];
}

static uint64_t rotr64(uint64_t v, int r) { return v >> r | v << (64 - r); }

/* trim_zeros removes the trailing decimal zeros of x, counting them. */
static uint64_t trim_zeros(uint64_t x, int *zeros) {
  uint64_t d;
  int p = 0;
  while ((d = rotr64(x * 0xc767074b22e90e21ull, 8)) <= UINT64_MAX / 100000000) {
    x = d;
    p += 8;
  }
  if ((d = rotr64(x * 0xd288ce703afb7e91ull, 4)) <= UINT64_MAX / 10000) {
    x = d;
    p += 4;
  }
  if ((d = rotr64(x * 0x8f5c28f5c28f5c29ull, 2)) <= UINT64_MAX / 100) {
    x = d;
    p += 2;
  }
  if ((d = rotr64(x * 0xcccccccccccccccdull, 1)) <= UINT64_MAX / 10) {
    x = d;
    p += 1;
  }
  *zeros = p;
  return x;
}

/* copy16 copies 16 bytes; a constant size compiles to a load and a store,
 * where a call to memcpy would loop. Callers copy up to 16 bytes this way
 * into room for 16, from a source with 16 readable bytes. */
#define copy16(dst, src) __builtin_memcpy((dst), (src), 16)

/* u32_digits writes the decimal digits of m into t (32 bytes) without a
 * loop, sets *nd to their number and returns where they start (16 bytes
 * from there are readable). */
static const char *u32_digits(char t[32], uint32_t m, int *nd) {
  int n = m < 10u ? 1 : m < 100u ? 2 : m < 1000u ? 3 : m < 10000u ? 4 : m < 100000u ? 5 : m < 1000000u ? 6
        : m < 10000000u ? 7 : m < 100000000u ? 8 : m < 1000000000u ? 9 : 10;
  t[9] = (char)('0' + m % 10), m /= 10;
  t[8] = (char)('0' + m % 10), m /= 10;
  t[7] = (char)('0' + m % 10), m /= 10;
  t[6] = (char)('0' + m % 10), m /= 10;
  t[5] = (char)('0' + m % 10), m /= 10;
  t[4] = (char)('0' + m % 10), m /= 10;
  t[3] = (char)('0' + m % 10), m /= 10;
  t[2] = (char)('0' + m % 10), m /= 10;
  t[1] = (char)('0' + m % 10), m /= 10;
  t[0] = (char)('0' + m);
  *nd = n;
  return t + 10 - n;
}

/* dbox32 is Go's dboxFtoa32: the shortest digits of mant·2^exp, *nd of
 * them at the returned pointer into t; *dp is the position of the decimal
 * point (the value is 0.d × 10^dp). */
static const char *dbox32(char t[32], int *nd, int *dp, uint32_t mant, int exp, int denorm) {
  uint64_t phi;
  int beta, k0, zeros;
  uint32_t zi, s, r, delta, yru, D, t10, rho;
  const char *d;
  int exact;
  if (mant == 1u << 23 && !denorm) {
    uint32_t xi, q;
    k0 = -mul_log10_2_minus_log10_4_over_3(exp);
    phi = dbox_pow(k0, exp, &beta);
    xi = (uint32_t)((phi - (phi >> 25)) >> (64 - 23 - 1 - beta));
    zi = (uint32_t)((phi + (phi >> 24)) >> (64 - 23 - 1 - beta));
    if (exp != 2 && exp != 3)
      xi++;
    q = zi / 10;
    if (xi <= q * 10) {
      d = u32_digits(t, (uint32_t)trim_zeros(q, &zeros), nd);
      *dp = *nd + (-k0 + 1 + zeros);
      return d;
    }
    yru = (uint32_t)((phi >> (64 - 23 - 2 - beta)) + 1) / 2;
    if (exp == -77 && yru % 2 != 0)
      yru--;
    else if (yru < xi)
      yru++;
    d = u32_digits(t, yru, nd);
    *dp = *nd - k0;
    return d;
  }
  k0 = -mul_log10_2(exp);
  phi = dbox_pow(1 + k0, exp, &beta);
  {
    uint32_t u = (mant * 2 + 1) << beta;
    uint64_t hi = (uint64_t)u * (phi >> 32) + (((uint64_t)u * (uint32_t)phi) >> 32);
    zi = (uint32_t)(hi >> 32);
    exact = (uint32_t)hi == 0;
  }
  s = zi / 100;
  r = zi % 100;
  delta = (uint32_t)(phi >> (64 - 1 - beta));
  if (r < delta) {
    if (r != 0 || !exact || mant % 2 == 0) {
      d = u32_digits(t, (uint32_t)trim_zeros(s, &zeros), nd);
      *dp = *nd + (-k0 + 1 + zeros);
      return d;
    }
    s--;
    r = 100;
  } else if (r == delta) {
    uint64_t lo = (uint64_t)(mant * 2 - 1) * phi;
    int parity = ((lo >> (64 - beta)) & 1) != 0;
    exact = (uint32_t)(lo >> (32 - beta)) == 0;
    if (parity || (exact && mant % 2 == 0)) {
      d = u32_digits(t, (uint32_t)trim_zeros(s, &zeros), nd);
      *dp = *nd + (-k0 + 1 + zeros);
      return d;
    }
  }
  D = r + 10 / 2 - delta / 2;
  t10 = D / 10;
  rho = D % 10;
  yru = 10 * s + t10;
  if (rho == 0) {
    uint64_t lo = (uint64_t)(mant * 2) * phi;
    int parity = ((lo >> (64 - beta)) & 1) != 0;
    exact = (uint32_t)(lo >> (32 - beta)) == 0;
    if (parity != ((D - 10 / 2) % 2 != 0) || (exact && yru % 2 != 0))
      yru--;
  }
  d = u32_digits(t, yru, nd);
  *dp = *nd - k0;
  return d;
}

static const char zeros16[] = "0000000000000000";

/* format_f32 writes the finite f as Go's encoding/json does, without a
 * loop, and returns the length: at most 22 bytes, but it may write up to
 * 64 (garbage after the length). */
static size_t format_f32(char *b, float f) {
  uint32_t bits, mant;
  int e, exp, denorm = 0, nd, dp, k = 0;
  char t[32];
  const char *d;
  float a = fabsf(f);
  memcpy(&bits, &f, 4);
  if (bits >> 31)
    b[k++] = '-';
  e = (int)(bits >> 23 & 0xff);
  mant = bits & 0x7fffff;
  if (e == 0 && mant == 0) {
    b[k++] = '0';
    return (size_t)k;
  }
  if (e == 0) {
    e = 1;
    denorm = 1;
  } else {
    mant |= 1u << 23;
  }
  exp = e - 127 - 23;
  d = dbox32(t, &nd, &dp, mant, exp, denorm); /* nd <= 9 */
  if (a < 1e-6f || a >= 1e21f) {              /* %e, as Go's 'e' with the shortest digits */
    int x = dp - 1;
    b[k++] = d[0];
    if (nd > 1) {
      b[k++] = '.';
      copy16(b + k, d + 1);
      k += nd - 1;
    }
    b[k++] = 'e';
    b[k++] = x < 0 ? '-' : '+';
    if (x < 0)
      x = -x;
    if (x >= 10 || b[k - 1] == '+') /* Go cuts e-07 to e-7 */
      b[k++] = (char)('0' + x / 10);
    b[k++] = (char)('0' + x % 10);
    return (size_t)k;
  }
  /* %f, as Go's fmtF: the integer digits padded with zeros to dp (at most
   * 21 in all below 1e21), then the fraction, after -dp zeros (at most 5
   * from 1e-6 on). */
  if (dp <= 0) {
    b[k++] = '0';
  } else if (dp <= nd) {
    copy16(b + k, d);
    k += dp;
  } else {
    copy16(b + k, d);
    copy16(b + k + nd, zeros16);
    copy16(b + k + nd + 16, zeros16);
    k += dp;
  }
  if (nd > dp) {
    b[k++] = '.';
    if (dp < 0) {
      copy16(b + k, zeros16);
      k += -dp;
    }
    copy16(b + k, d + (dp > 0 ? dp : 0));
    k += nd - (dp > 0 ? dp : 0);
  }
  return (size_t)k;
}

/* ------------------------------------------------------------------------
 * Writing the response: a small buffer in front of wasmreg_output.
 * ------------------------------------------------------------------------ */

static char out_buf[8192];
static size_t out_len;

static void out_flush(void) {
  if (out_len > 0)
    wasmreg_output(out_buf, out_len);
  out_len = 0;
}

/* out_room makes room for n <= 256 bytes and returns where they go. */
static inline char *out_room(size_t n) {
  if (n > sizeof out_buf - out_len)
    out_flush();
  return out_buf + out_len;
}

static void out_put(const char *s, size_t n) {
  if (n > sizeof out_buf - out_len) {
    out_flush();
    if (n > sizeof out_buf) {
      wasmreg_output(s, n);
      return;
    }
  }
  memcpy(out_buf + out_len, s, n);
  out_len += n;
}

/* OUT_LIT appends a string literal of at most 32 bytes: a copy of constant
 * size, which compiles to loads and stores. */
#define OUT_LIT(s)                                          \
  do {                                                      \
    _Static_assert(sizeof(s) - 1 <= 32, "OUT_LIT: too long"); \
    __builtin_memcpy(out_room(32), s, sizeof(s) - 1);       \
    out_len += sizeof(s) - 1;                               \
  } while (0)

/* write_result writes the answer for one sample, as the Go factory's
 * result struct marshals: {"class":3,"label":"3","probabilities":[...]}. */
static int write_result(result r) {
  uint32_t i;
  const char *d;
  char t[32], *p;
  int nd;
  if (r.bad >= 0)
    return wasmreg_fail(RESPONSE_ERROR, "response: json: unsupported value: %s", float_name(r.y[r.bad]));
  OUT_LIT("{\"class\":");
  d = u32_digits(t, r.class, &nd);
  copy16(out_room(16), d);
  out_len += (size_t)nd;
  if (labels != NULL && r.class < nlabels) {
    size_t n = label_at[r.class + 1] - label_at[r.class];
    OUT_LIT(",\"label\":");
    if (n <= 16) { /* the labels buffer has 16 bytes of slack */
      copy16(out_room(16), labels + label_at[r.class]);
      out_len += n;
    } else {
      out_put(labels + label_at[r.class], n);
    }
  }
  if (output_fn == FN_LINEAR)
    OUT_LIT(",\"values\":[");
  else
    OUT_LIT(",\"probabilities\":[");
  for (i = 0; i < nout; i++) {
    p = out_room(72);
    *p = ',';
    p += i > 0;
    out_len += (size_t)(i > 0) + format_f32(p, r.y[i]);
  }
  OUT_LIT("]}");
  return 0;
}

/* ------------------------------------------------------------------------
 * Reading requests. A fast reader takes the usual requests (plain JSON
 * arrays of numbers, {"inputs": ...}) in one pass; anything else, errors
 * included, goes to the slow reader, which uses the SDK's JSON functions
 * and explains what is wrong.
 * ------------------------------------------------------------------------ */

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

static const double exact_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                     1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* fast_number reads a JSON number at s[*pi] into *out, correctly rounded
 * as Go's strconv.ParseFloat: exactly with one multiplication or division
 * when the digits fit 2^53 and the exponent ±22 (Clinger's fast path),
 * with strtod otherwise. It returns 0 if s[*pi] starts no JSON number.
 * Up to three integer digits are read without a loop (see the note on
 * loops): pixel values and most features are that short. */
static inline int fast_number(const char *s, size_t end, size_t *pi, double *out) {
  size_t i = *pi, start = i;
  uint64_t w = 0;
  int nd = 0, e10 = 0, many = 0, neg = 0;
  double d;
  if (i < end && s[i] == '-') {
    neg = 1;
    i++;
  }
  if (i >= end)
    return 0;
  if (s[i] == '0') {
    i++;
  } else if (s[i] >= '1' && s[i] <= '9') {
    w = (uint64_t)(s[i++] - '0');
    nd = 1;
    if (i < end && is_digit(s[i])) {
      w = w * 10 + (uint64_t)(s[i++] - '0');
      nd = 2;
      if (i < end && is_digit(s[i])) {
        w = w * 10 + (uint64_t)(s[i++] - '0');
        nd = 3;
        for (; i < end && is_digit(s[i]); i++) {
          if (nd < 19) {
            w = w * 10 + (uint64_t)(s[i] - '0');
            nd++;
          } else {
            many = 1;
          }
        }
      }
    }
  } else {
    return 0;
  }
  if (i < end && s[i] == '.') {
    i++;
    if (i >= end || !is_digit(s[i]))
      return 0;
    for (; i < end && is_digit(s[i]); i++) {
      if (w == 0 && s[i] == '0') {
        e10--;
      } else if (nd < 19) {
        w = w * 10 + (uint64_t)(s[i] - '0');
        nd++;
        e10--;
      } else {
        many = 1;
      }
    }
  }
  if (i < end && (s[i] == 'e' || s[i] == 'E')) {
    int ev = 0, eneg = 0;
    i++;
    if (i < end && (s[i] == '+' || s[i] == '-'))
      eneg = s[i++] == '-';
    if (i >= end || !is_digit(s[i]))
      return 0;
    for (; i < end && is_digit(s[i]); i++)
      if (ev < 100000)
        ev = ev * 10 + (s[i] - '0');
    e10 += eneg ? -ev : ev;
  }
  if (w == 0) {
    d = neg ? -0.0 : 0.0;
  } else if (!many && w <= (1ull << 53) && e10 >= -22 && e10 <= 22) {
    d = (double)w;
    d = e10 < 0 ? d / exact_pow10[-e10] : d * exact_pow10[e10];
    if (neg)
      d = -d;
  } else {
    d = strtod(s + start, NULL); /* the number ends at a byte strtod stops at */
  }
  *out = d;
  *pi = i;
  return 1;
}

/* skip_ws skips JSON whitespace; one space, the usual case, without a
 * loop. */
static inline size_t skip_ws(const char *s, size_t end, size_t i) {
  if (i < end && is_ws(s[i]))
    for (i++; i < end && is_ws(s[i]); i++) {
    }
  return i;
}

/* fast_element reads element k of a row of nin numbers and the ',' or
 * ']' after it, storing the number, within the float32 range, as float32
 * times the input scale (mlpnet.Forward's first step). */
static inline int fast_element(const char *s, size_t end, size_t *pi, float *x, uint32_t k) {
  size_t i = skip_ws(s, end, *pi);
  double d;
  if (!fast_number(s, end, &i, &d) || !(fabs(d) <= FLT_MAX))
    return 0;
  x[k] = (float)d * input_scale;
  i = skip_ws(s, end, i);
  if (i >= end || s[i] != (k + 1 < nin ? ',' : ']'))
    return 0;
  *pi = i + 1;
  return 1;
}

/* fast_row reads a JSON array of exactly nin numbers, each within the
 * float32 range, at s[*pi] into x (scaled); 0 if it is anything else.
 * Four numbers per iteration (see the note on loops). */
static int fast_row(const char *s, size_t end, size_t *pi, float *x) {
  size_t i = *pi;
  uint32_t k = 0;
  if (i >= end || s[i] != '[')
    return 0;
  i++;
  for (; k + 4 <= nin; k += 4)
    if (!fast_element(s, end, &i, x, k) || !fast_element(s, end, &i, x, k + 1) ||
        !fast_element(s, end, &i, x, k + 2) || !fast_element(s, end, &i, x, k + 3))
      return 0;
  for (; k < nin; k++)
    if (!fast_element(s, end, &i, x, k))
      return 0;
  *pi = i;
  return 1;
}

/* grow_rows makes room for n batch rows. */
static int grow_rows(size_t n) {
  size_t cap = rows_cap ? rows_cap : 64;
  float *p;
  if (n <= rows_cap)
    return 1;
  while (cap < n)
    cap *= 2;
  if (cap > SIZE_MAX / sizeof(float) / nin || (p = realloc(rows, cap * nin * sizeof(float))) == NULL)
    return 0;
  rows = p;
  rows_cap = cap;
  return 1;
}

/* fast_batch reads {"inputs": [[...], ...]} into rows; 0 if the request
 * is written any other way (or is wrong). */
static int fast_batch(const char *s, size_t n, size_t start, size_t *nrows) {
  size_t i = start, r = 0;
#define WS() while (i < n && is_ws(s[i])) i++
#define EXPECT(c) do { WS(); if (i >= n || s[i] != (c)) return 0; i++; } while (0)
  EXPECT('{');
  WS();
  if (n - i < 8 || memcmp(s + i, "\"inputs\"", 8) != 0)
    return 0;
  i += 8;
  EXPECT(':');
  EXPECT('[');
  WS();
  if (i < n && s[i] == ']') {
    i++;
  } else {
    for (;;) {
      WS();
      if (!grow_rows(r + 1) || !fast_row(s, n, &i, rows + r * nin))
        return 0;
      r++;
      WS();
      if (i < n && s[i] == ']') {
        i++;
        break;
      }
      if (i >= n || s[i++] != ',')
        return 0;
    }
  }
  EXPECT('}');
  WS();
#undef EXPECT
#undef WS
  if (i != n)
    return 0;
  *nrows = r;
  return 1;
}

/* slow_row reads one sample, the JSON array v, into x (scaled), with the
 * Go factory's checks and messages; where names the sample in a batch.
 * The caller has checked that v is valid JSON. */
static int slow_row(const char *v, size_t vlen, const char *where, float *x) {
  size_t n = 0, i;
  char b[32];
  if (!is_null(v, vlen)) {
    wasmreg_json_parse_numbers(v, vlen, NULL, 0, &n);
  }
  if (n != nin)
    return wasmreg_fail(REQUEST_ERROR, "request: %sgot %zu values, want %u", where, n, nin);
  wasmreg_json_parse_numbers(v, vlen, parsed, nin, &n);
  for (i = 0; i < n; i++) {
    if (fabs(parsed[i]) > FLT_MAX)
      return wasmreg_fail(REQUEST_ERROR, "request: %svalue %zu is %s, outside the float32 range", where, i,
                          shortest_double(b, parsed[i]));
    x[i] = (float)parsed[i] * input_scale;
  }
  return 0;
}

/* slow_single reads a one-sample request that fast_row did not take. */
static int slow_single(const char *s, size_t n, float *x) {
  size_t k;
  if (wasmreg_json_validate(s, n, NULL) != WASMREG_JSON_OK ||
      wasmreg_json_parse_numbers(s, n, NULL, 0, &k) != WASMREG_JSON_OK)
    return wasmreg_fail(REQUEST_ERROR, "request: want a JSON array of %u numbers: %s", nin, wasmreg_json_error());
  return slow_row(s, n, "", x);
}

/* slow_batch reads a batch that fast_batch did not take, as Go decodes
 * {"inputs": [[...], ...]}: first the whole document (types, unknown
 * fields), then row by row (sizes, ranges). */
static int slow_batch(const char *s, size_t n, size_t *nrows) {
  wasmreg_json_iter it, rit;
  const char *k, *v, *inputs = NULL, *row;
  size_t klen, vlen, inputs_len = 0, rlen, r, cnt;
  char where[40];
  int t, rc;
  if (wasmreg_json_validate(s, n, NULL) != WASMREG_JSON_OK)
    return wasmreg_fail(REQUEST_ERROR, "request: want {\"inputs\": [[%u numbers], ...]}: %s", nin,
                        wasmreg_json_error());
  wasmreg_json_object_begin(&it, s, n);
  while (wasmreg_json_object_next(&it, &k, &klen, &v, &vlen) > 0) {
    if (!key_is(k, klen, "inputs"))
      return wasmreg_fail(REQUEST_ERROR, "request: want {\"inputs\": [[%u numbers], ...]}: unknown field %.*s", nin,
                          (int)(klen > 64 ? 64 : klen), k);
    inputs = is_null(v, vlen) ? NULL : v;
    inputs_len = vlen;
  }
  if (inputs == NULL)
    return wasmreg_fail(REQUEST_ERROR, "request: field \"inputs\" is required");
  if ((t = wasmreg_json_type(inputs, inputs_len)) != WASMREG_JSON_ARRAY)
    return wasmreg_fail(REQUEST_ERROR, "request: want {\"inputs\": [[%u numbers], ...]}: field \"inputs\" is %s", nin,
                        wasmreg_json_type_name(t));
  wasmreg_json_array_begin(&rit, inputs, inputs_len);
  for (r = 0; wasmreg_json_array_next(&rit, &row, &rlen) > 0; r++) {
    t = wasmreg_json_type(row, rlen);
    if (t != WASMREG_JSON_ARRAY && t != WASMREG_JSON_NULL)
      return wasmreg_fail(REQUEST_ERROR, "request: want {\"inputs\": [[%u numbers], ...]}: inputs[%zu] is %s", nin, r,
                          wasmreg_json_type_name(t));
    if (t == WASMREG_JSON_ARRAY && wasmreg_json_parse_numbers(row, rlen, NULL, 0, &cnt) != WASMREG_JSON_OK)
      return wasmreg_fail(REQUEST_ERROR, "request: want {\"inputs\": [[%u numbers], ...]}: inputs[%zu]: %s", nin, r,
                          wasmreg_json_error());
  }
  wasmreg_json_array_begin(&rit, inputs, inputs_len);
  for (r = 0; wasmreg_json_array_next(&rit, &row, &rlen) > 0; r++) {
    if (!grow_rows(r + 1))
      return wasmreg_fail(NOMEM_ERROR, "request: out of memory for %zu rows", r + 1);
    snprintf(where, sizeof where, "inputs[%zu]: ", r);
    if ((rc = slow_row(row, rlen, where, rows + r * nin)) != 0)
      return rc;
  }
  *nrows = r;
  return 0;
}

/* ------------------------------------------------------------------------
 * The factory
 * ------------------------------------------------------------------------ */

int wasmreg_factory_build(const char *config, size_t len) {
  wasmreg_json_iter it;
  const char *k, *v, *weights = NULL;
  size_t klen, vlen, wlen = 0, nlen, size;
  char *name, q[160], shape[256];
  int64_t sizes[MAX_LAYERS + 1];
  unsigned char *blob;
  int64_t asize;
  uint32_t l;
  int t;

  if (wasmreg_json_validate(config, len, NULL) != WASMREG_JSON_OK)
    return wasmreg_fail(CONFIG_ERROR, "config: want a JSON object: %s", wasmreg_json_error());
  if ((t = wasmreg_json_type(config, len)) != WASMREG_JSON_OBJECT)
    return wasmreg_fail(CONFIG_ERROR, "config: want a JSON object, got %s", wasmreg_json_type_name(t));
  wasmreg_json_object_begin(&it, config, len);
  while (wasmreg_json_object_next(&it, &k, &klen, &v, &vlen) > 0) {
    if (!wasmreg_json_string_equals(k, klen, "weights"))
      return wasmreg_fail(CONFIG_ERROR,
                          "config: unknown field %.*s (known: weights; mlpc runs trained networks, the mlp factory "
                          "also builds new ones)",
                          (int)(klen > 64 ? 64 : klen), k);
    weights = v;
    wlen = vlen;
  }
  if (weights == NULL)
    return wasmreg_fail(CONFIG_ERROR, "config: field \"weights\" (an artifact name, e.g. \"digits\") is required");
  nlen = 0;
  if (wasmreg_json_type(weights, wlen) == WASMREG_JSON_STRING)
    wasmreg_json_parse_string(weights, wlen, NULL, 0, &nlen);
  if (nlen > 0 && (name = malloc(nlen + 1)) == NULL)
    return wasmreg_fail(NOMEM_ERROR, "config field \"weights\": out of memory");
  if (nlen > 0)
    wasmreg_json_parse_string(weights, wlen, name, nlen + 1, &nlen);
  if (nlen == 0 || memchr(name, 0, nlen) != NULL) /* a NUL would cut the name short */
    return wasmreg_fail(CONFIG_ERROR, "config field \"weights\": want the name of an artifact, got %.*s",
                        (int)(wlen > 100 ? 100 : wlen), weights);
  quote(q, sizeof q, name, nlen);

  asize = wasmreg_artifact_size(name);
  if (asize < 0)
    return wasmreg_fail(CONFIG_ERROR,
                        "config field \"weights\": artifact %s not found: the host must grant it (the CLI: "
                        "--grant artifact=%s=FILE)",
                        q, name);
  if ((blob = wasmreg_artifact_read_all(name, &size)) == NULL)
    return wasmreg_fail(NOMEM_ERROR, "config field \"weights\": artifact %s: out of memory for %lld bytes", q,
                        (long long)asize);
  if (decode(blob, size) < 0)
    return wasmreg_fail(CONFIG_ERROR, "config field \"weights\": artifact %s: %s", q, why);

  sizes[0] = nin;
  for (l = 0; l < nlayers; l++)
    sizes[l + 1] = layers[l].out;
  wasmreg_log(WASMREG_LOG_INFO,
              "mlpc: loaded weights artifact=%s sizes=%s activation=%s output=%s params=%u simd128=%s", name,
              sizes_text(shape, sizeof shape, sizes, nlayers + 1), activations[activation - FN_RELU],
              outputs[output_fn == FN_SOFTMAX ? 0 : output_fn == FN_SIGMOID ? 1 : 2], nparams,
              MLPC_SIMD ? "on" : "off");
  free(name);
  return 0;
}

int wasmreg_factory_predict(const char *input, size_t len) {
  size_t i = 0, end = len, nrows, r;
  int rc;
  out_len = 0;
  while (i < end && is_ws(input[i]))
    i++;
  while (end > i && is_ws(input[end - 1]))
    end--;
  if (i < end && input[i] == '[') {
    size_t j = i;
    float *x;
    if (!grow_rows(1))
      return wasmreg_fail(NOMEM_ERROR, "request: out of memory");
    x = rows;
    if (!fast_row(input, end, &j, x) || j != end) {
      if ((rc = slow_single(input + i, end - i, x)) != 0)
        return rc;
    }
    if ((rc = write_result(forward(x))) != 0)
      return rc;
  } else if (i < end && input[i] == '{') {
    if (!fast_batch(input, end, i, &nrows) && (rc = slow_batch(input + i, end - i, &nrows)) != 0)
      return rc;
    OUT_LIT("{\"outputs\":[");
    for (r = 0; r < nrows; r++) {
      if (r > 0)
        OUT_LIT(",");
      if ((rc = write_result(forward(rows + r * nin))) != 0)
        return rc;
    }
    OUT_LIT("]}");
  } else {
    return wasmreg_fail(REQUEST_ERROR,
                        "request: want a JSON array of %u numbers, or {\"inputs\": [[...], ...]} for a batch", nin);
  }
  out_flush();
  return 0;
}
