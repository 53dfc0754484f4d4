#!/bin/sh
# Regenerates the .wasm of every WAT fixture under testdata/, testdata/budget/,
# testdata/hostile/, testdata/recycle/ and testdata/signature/ (the last two
# directories of their own, so that
# listings of testdata/ keep their rows; wat2wasm is in Debian's wabt
# package). Run from host/,
# as `go generate ./host` does. testdata/hostile/reach_*.wat are invalid on
# purpose, so they are assembled without validation; the .wasm files that
# have no .wat are described in testdata/hostile/README.md.
set -e
for f in testdata/*.wat testdata/budget/*.wat testdata/hostile/*.wat testdata/signature/*.wat testdata/recycle/*.wat; do
	case "$f" in
	*/reach_*) wat2wasm --no-check "$f" -o "${f%.wat}.wasm" ;;
	*) wat2wasm "$f" -o "${f%.wat}.wasm" ;;
	esac
done
