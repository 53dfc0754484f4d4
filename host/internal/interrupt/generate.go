package interrupt

// The WAT fixtures under testdata/ are committed with their .wasm; this
// regenerates them (wat2wasm is in Debian's wabt package).
//go:generate sh -c "for f in testdata/*.wat; do wat2wasm \"$f\" -o \"${f%.wat}.wasm\" || exit 1; done"
