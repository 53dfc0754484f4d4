package host

// The WAT fixtures under testdata/ are committed with their .wasm; this
// regenerates them (wat2wasm is in Debian's wabt package).
//go:generate sh -c "cd testdata && for f in *.wat; do wat2wasm \"$f\" -o \"${f%.wat}.wasm\" || exit 1; done"
