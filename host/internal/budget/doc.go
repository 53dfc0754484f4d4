// Package budget is the host's memory budget: a weighted semaphore over
// bytes, first come first served, that every guest instance reserves its
// worst-case memory from before it is instantiated ([Budget]), and the
// reading of the machine's physical memory and the process's cgroup limit
// that the default budget is computed from ([SystemMemory]).
//
// What an instance reserves (its memory's maximum, its tables, its stack,
// its host overhead) and the errors a refused instance gets are the
// host's: this package knows neither Wasm nor the host.
package budget
