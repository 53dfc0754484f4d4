/*
 * scale: the smallest useful wasmreg factory in C.
 *
 * Built from {"factor": 2}, it answers a JSON array of numbers with the
 * same numbers multiplied by the factor: [1, 2.5] -> [2,5].
 *
 *   clang --target=wasm32-wasi -mexec-model=reactor -O2 -I guest-sdk/c \
 *       -o scale.wasm guest-sdk/c/example/minimal.c
 *   echo '[1, 2.5]' | wasmreg run scale.wasm --config '{"factor": 2}'
 */
#define WASMREG_IMPLEMENTATION
#include "wasmreg.h"

WASMREG_INFO("{\"name\":\"scale\",\"version\":\"1.0.0\","
             "\"description\":\"Multiplies a JSON array of numbers by the factor in its config.\","
             "\"config_schema\":{\"type\":\"object\",\"required\":[\"factor\"],"
             "\"properties\":{\"factor\":{\"type\":\"number\",\"description\":\"what to multiply by\"}},"
             "\"additionalProperties\":false},"
             /* The tensor signature a server reports: each row scaled out.
              * No input is declared, so a server takes rows of numbers of
              * any name and datatype, as the generic mapping does. */
             "\"tensors\":{\"outputs\":[" WASMREG_TENSOR("output", FP64, -1, -1) "]}}");

static double factor; /* the model: what wasmreg_factory_build leaves in memory */

int wasmreg_factory_build(const char *config, size_t len) {
  static const char *const fields[] = {"factor", NULL};
  /* An object of these fields only, each once: "facter" is an error. */
  if (wasmreg_json_check_keys(config, len, fields) != WASMREG_JSON_OK)
    return wasmreg_fail(2, "config: %s", wasmreg_json_error());
  if (wasmreg_json_number(config, len, "factor", &factor) != WASMREG_JSON_OK)
    return wasmreg_fail(2, "config field \"factor\": %s", wasmreg_json_error());
  return 0;
}

int wasmreg_factory_predict(const char *input, size_t len) {
  size_t n, i;
  double *x;
  /* Count first (out == NULL), then allocate and read. */
  if (wasmreg_json_parse_numbers(input, len, NULL, 0, &n) != WASMREG_JSON_OK)
    return wasmreg_fail(3, "request: %s; want a JSON array of numbers", wasmreg_json_error());
  if (n == 0)
    return 1; /* no message: the host reports "export wasmreg_predict returned code 1" */
  if ((x = malloc(n * sizeof *x)) == NULL)
    return wasmreg_fail(4, "request: out of memory for %zu numbers", n);
  wasmreg_json_parse_numbers(input, len, x, n, &n);
  for (i = 0; i < n; i++)
    x[i] *= factor;
  wasmreg_output_json_numbers(x, n);
  free(x);
  return 0;
}
