/*
 * centroid: a nearest-centroid classifier (scikit-learn's NearestCentroid
 * at prediction time), written in C with the wasmreg C SDK.
 *
 * Config:   {"centroids": [[5.006, 3.428, 1.462, 0.246], ...],
 *            "labels": ["setosa", ...], "metric": "euclidean"}
 * Request:  [5.1, 3.5, 1.4, 0.2]
 * Response: {"class":0,"label":"setosa","distances":[0.1,3.6,5.1]}
 *
 * Build (from the repository root):
 *   clang --target=wasm32-wasi -mexec-model=reactor -O2 -Wall -Werror \
 *       -I guest-sdk/c -o centroid.wasm examples/factories/centroid/centroid.c
 */
#define WASMREG_IMPLEMENTATION
#include "wasmreg.h"

#include <math.h>

#define LABEL_MAX 256 /* bytes of one label, UTF-8 */
#define CONFIG_ERROR 2
#define REQUEST_ERROR 3

WASMREG_INFO(
    "{\"name\":\"centroid\",\"version\":\"1.0.0\","
    "\"description\":\"Nearest-centroid classifier: answers with the class whose centroid is closest to the "
    "request.\","
    "\"capabilities\":[\"log\"],"
    "\"config_schema\":{"
    "\"$schema\":\"https://json-schema.org/draft/2020-12/schema\","
    "\"type\":\"object\",\"required\":[\"centroids\"],\"additionalProperties\":false,"
    "\"properties\":{"
    "\"centroids\":{\"description\":\"one centroid per class, all of the same length: the number of features "
    "of a request\",\"type\":\"array\",\"minItems\":1,"
    "\"items\":{\"type\":\"array\",\"minItems\":1,\"items\":{\"type\":\"number\"}}},"
    "\"labels\":{\"description\":\"the class names, one per centroid; by default the class numbers\","
    "\"type\":\"array\",\"items\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":256}},"
    "\"metric\":{\"description\":\"the distance between a request and a centroid\","
    "\"enum\":[\"euclidean\",\"manhattan\"],\"default\":\"euclidean\"}}}}");

enum { EUCLIDEAN, MANHATTAN };
static const char *const metric_names[] = {"euclidean", "manhattan"};

/* The model, set by wasmreg_factory_build. */
static size_t nclasses, nfeatures;
static double *centroids;   /* nclasses rows of nfeatures, row-major */
static char *labels;        /* nclasses slots of LABEL_MAX+1 bytes; NULL without labels */
static size_t *label_lens;  /* their lengths */
static int metric = EUCLIDEAN;
static double *request;     /* nfeatures numbers */
static double *distances;   /* nclasses numbers */

static int config_error(const char *field, const char *fmt, const char *why) {
  return wasmreg_fail(CONFIG_ERROR, "config field \"%s\": %s%s", field, fmt, why);
}

static int parse_centroids(const char *v, size_t vlen) {
  /* First pass: check every row and learn the sizes (out == NULL). */
  if (wasmreg_json_parse_matrix(v, vlen, NULL, 0, &nclasses, &nfeatures) != WASMREG_JSON_OK)
    return config_error("centroids", "", wasmreg_json_error());
  if (nclasses == 0)
    return config_error("centroids", "empty, want at least one centroid", "");
  if (nfeatures == 0)
    return config_error("centroids", "row 0 is empty, want at least one number", "");
  if (nfeatures > SIZE_MAX / sizeof(double) / nclasses ||
      (centroids = malloc(nclasses * nfeatures * sizeof(double))) == NULL ||
      (request = malloc(nfeatures * sizeof(double))) == NULL ||
      (distances = malloc(nclasses * sizeof(double))) == NULL)
    return wasmreg_fail(CONFIG_ERROR, "config field \"centroids\": out of memory for %zu centroids of %zu values",
                        nclasses, nfeatures);
  /* Second pass: read them, row by row. It cannot fail: the first checked. */
  wasmreg_json_parse_matrix(v, vlen, centroids, nclasses * nfeatures, &nclasses, &nfeatures);
  return 0;
}

static int parse_labels(const char *v, size_t vlen) {
  wasmreg_json_iter it;
  const char *label;
  size_t llen, i, n;
  if (wasmreg_json_array_begin(&it, v, vlen) != WASMREG_JSON_OK)
    return config_error("labels", "", wasmreg_json_error());
  if ((labels = malloc(nclasses * (LABEL_MAX + 1))) == NULL || (label_lens = malloc(nclasses * sizeof(size_t))) == NULL)
    return config_error("labels", "out of memory", "");
  for (i = 0; wasmreg_json_array_next(&it, &label, &llen) > 0; i++) {
    int t = wasmreg_json_type(label, llen);
    if (t != WASMREG_JSON_STRING)
      return wasmreg_fail(CONFIG_ERROR, "config field \"labels\": label %zu is %s, want a string", i,
                          wasmreg_json_type_name(t));
    if (i >= nclasses)
      continue; /* counted below */
    if (wasmreg_json_parse_string(label, llen, labels + i * (LABEL_MAX + 1), LABEL_MAX + 1, &n) != WASMREG_JSON_OK)
      return wasmreg_fail(CONFIG_ERROR, "config field \"labels\": label %zu is %zu bytes long, want at most %d", i, n,
                          LABEL_MAX);
    if (n == 0)
      return wasmreg_fail(CONFIG_ERROR, "config field \"labels\": label %zu is empty", i);
    label_lens[i] = n;
  }
  if (i != nclasses)
    return wasmreg_fail(CONFIG_ERROR, "config field \"labels\": has %zu label%s, want %zu (one per centroid)", i,
                        i == 1 ? "" : "s", nclasses);
  return 0;
}

static int parse_metric(const char *v, size_t vlen) {
  size_t m;
  int t = wasmreg_json_type(v, vlen);
  for (m = 0; m < sizeof metric_names / sizeof metric_names[0]; m++) {
    if (wasmreg_json_string_equals(v, vlen, metric_names[m])) {
      metric = (int)m;
      return 0;
    }
  }
  if (t == WASMREG_JSON_STRING) /* v is valid JSON: quote it as it is */
    return wasmreg_fail(CONFIG_ERROR, "config field \"metric\": %.*s%s is not \"euclidean\" or \"manhattan\"",
                        (int)(vlen > 64 ? 64 : vlen), v, vlen > 64 ? "..." : "");
  return wasmreg_fail(CONFIG_ERROR, "config field \"metric\": is %s, want \"euclidean\" or \"manhattan\"",
                      wasmreg_json_type_name(t));
}

int wasmreg_factory_build(const char *config, size_t len) {
  static const char *const fields[] = {"centroids", "labels", "metric", NULL};
  const char *v;
  size_t vlen;
  int rc;

  /* Only the known fields, each once: a typo is an error, not a default. */
  if (wasmreg_json_check_keys(config, len, fields) != WASMREG_JSON_OK)
    return wasmreg_fail(CONFIG_ERROR, "config: %s", wasmreg_json_error());
  if (wasmreg_json_find(config, len, "centroids", &v, &vlen) != WASMREG_JSON_OK)
    return config_error("centroids", "missing, want an array of centroids such as [[0, 1], [2, 3]]", "");
  if ((rc = parse_centroids(v, vlen)) != 0)
    return rc;
  if (wasmreg_json_find(config, len, "labels", &v, &vlen) == WASMREG_JSON_OK && (rc = parse_labels(v, vlen)) != 0)
    return rc;
  if (wasmreg_json_find(config, len, "metric", &v, &vlen) == WASMREG_JSON_OK && (rc = parse_metric(v, vlen)) != 0)
    return rc;
  wasmreg_log(WASMREG_LOG_INFO, "centroid: %zu classes of %zu features, %s distance%s", nclasses, nfeatures,
              metric_names[metric], labels != NULL ? ", labelled" : "");
  return 0;
}

/* distance is the metric's distance between centroid c and x. */
static double distance(const double *c, const double *x) {
  double s = 0, m = 0, t;
  size_t j;
  if (metric == MANHATTAN) {
    for (j = 0; j < nfeatures; j++)
      s += fabs(x[j] - c[j]);
    return s;
  }
  for (j = 0; j < nfeatures; j++) {
    t = x[j] - c[j];
    s += t * t;
  }
  if (!isinf(s))
    return sqrt(s);
  /* The squares overflowed: scale by the largest difference, as hypot does. */
  for (j = 0; j < nfeatures; j++)
    m = fmax(m, fabs(x[j] - c[j]));
  if (isinf(m))
    return m;
  for (s = 0, j = 0; j < nfeatures; j++) {
    t = (x[j] - c[j]) / m;
    s += t * t;
  }
  return m * sqrt(s);
}

int wasmreg_factory_predict(const char *input, size_t len) {
  wasmreg_json_object response;
  size_t n, k, best = 0;
  int err = wasmreg_json_parse_numbers(input, len, request, nfeatures, &n);
  if (err != WASMREG_JSON_OK) {
    int t = wasmreg_json_type(input, len);
    if (err == WASMREG_JSON_ESYNTAX || err == WASMREG_JSON_EDEPTH)
      return wasmreg_fail(REQUEST_ERROR, "request: %s (want a JSON array of %zu numbers)", wasmreg_json_error(),
                          nfeatures);
    if (err == WASMREG_JSON_ETYPE && t != WASMREG_JSON_ARRAY)
      return wasmreg_fail(REQUEST_ERROR, "request: is %s, want a JSON array of %zu numbers",
                          wasmreg_json_type_name(t), nfeatures);
    if (err != WASMREG_JSON_ETOOMANY)
      return wasmreg_fail(REQUEST_ERROR, "request: %s", wasmreg_json_error());
  }
  if (n != nfeatures)
    return wasmreg_fail(REQUEST_ERROR, "request: has %zu number%s, want %zu", n, n == 1 ? "" : "s", nfeatures);

  for (k = 0; k < nclasses; k++) {
    distances[k] = distance(centroids + k * nfeatures, request);
    if (isinf(distances[k]))
      return wasmreg_fail(REQUEST_ERROR, "request: its distance to centroid %zu is too large for a double", k);
    if (distances[k] < distances[best])
      best = k; /* ties go to the lowest class */
  }
  wasmreg_output_json_object_begin(&response);
  wasmreg_output_json_key(&response, "class");
  wasmreg_output_json_int((int64_t)best);
  wasmreg_output_json_key(&response, "label");
  if (labels != NULL) {
    wasmreg_output_json_string(labels + best * (LABEL_MAX + 1), label_lens[best]);
  } else {
    char number[24];
    int k = snprintf(number, sizeof number, "%zu", best);
    wasmreg_output_json_string(number, (size_t)k);
  }
  wasmreg_output_json_key(&response, "distances");
  wasmreg_output_json_numbers(distances, nclasses);
  wasmreg_output_json_object_end(&response);
  return 0;
}
