package host

// The WAT fixtures under testdata/, testdata/budget/ and testdata/hostile/
// are committed with their .wasm; this regenerates them (wat2wasm is in
// Debian's wabt package).
// testdata/hostile/{empty,not_wasm,truncated}.wasm are not generated: see
// testdata/hostile/README.md.
//go:generate sh -c "for f in testdata/*.wat testdata/budget/*.wat testdata/hostile/*.wat; do wat2wasm \"$f\" -o \"${f%.wat}.wasm\" || exit 1; done"
