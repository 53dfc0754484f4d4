package host

// The WAT fixtures under testdata/, testdata/budget/ and testdata/hostile/
// are committed with their .wasm; testdata/regenerate.sh regenerates them.
//go:generate sh testdata/regenerate.sh
