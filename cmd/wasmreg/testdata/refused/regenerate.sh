#!/bin/sh
# Assembles the fixtures of `wasmreg validate` on modules refused for their
# imports or exports (cmd/wasmreg/validate_test.go): each NAME.wat here
# becomes NAME.wasm. Run from this directory; wat2wasm is in Debian's wabt
# package.
set -e
for wat in *.wat; do
	wat2wasm "$wat" -o "${wat%.wat}.wasm"
done
