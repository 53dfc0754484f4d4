/*
 * ctrap: a test factory of the C SDK that traps, for the tests of a
 * trap's reason (examples/factories/trap_test.go, cmd/wasmreg). Request
 * "trap" fails with wasmreg_trap; "assert" fails an assert() (wasi-libc
 * writes "Assertion failed: …" to stderr, then aborts); "silent" traps
 * without a word. Built with -DCTRAP_AT_START, it writes why to stderr and
 * traps in a constructor, which runs in _initialize, before any export:
 *
 *   clang --target=wasm32-wasi -mexec-model=reactor -O2 -I guest-sdk/c \
 *       -o ctrap.wasm examples/factories/testdata/ctrap/ctrap.c
 */
#define WASMREG_IMPLEMENTATION
#include "wasmreg.h"

#include <assert.h>
#include <stdio.h>

WASMREG_INFO("{\"name\":\"ctrap\",\"version\":\"1.0.0\",\"description\":\"traps on request\"}");

#ifdef CTRAP_AT_START
__attribute__((constructor)) static void start(void) {
  fprintf(stderr, "ctrap: cannot start: the weights are missing\n");
  __builtin_trap();
}
#endif

int wasmreg_factory_build(const char *config, size_t len) {
  (void)config;
  (void)len;
  return 0;
}

static int is(const char *input, size_t len, const char *s) {
  return len == strlen(s) && memcmp(input, s, len) == 0;
}

int wasmreg_factory_predict(const char *input, size_t len) {
  if (is(input, len, "trap"))
    wasmreg_trap("ctrap: asked to trap with %d", 42);
  if (is(input, len, "assert"))
    assert(len == 0 && "ctrap: asked to fail an assertion");
  if (is(input, len, "silent"))
    __builtin_trap();
  wasmreg_output("ok", 2);
  return 0;
}
