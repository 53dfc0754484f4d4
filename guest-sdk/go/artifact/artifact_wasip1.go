//go:build wasip1

package artifact

import "unsafe"

//go:wasmimport wasmreg artifact_size
func hostArtifactSize(namePtr unsafe.Pointer, nameLen uint32) int64

//go:wasmimport wasmreg artifact_read
func hostArtifactRead(namePtr unsafe.Pointer, nameLen uint32, offset int64, ptr unsafe.Pointer, n uint32) int64

func size(name string) int64 {
	return hostArtifactSize(unsafe.Pointer(unsafe.StringData(name)), uint32(len(name)))
}

func read(name string, off int64, p []byte) int64 {
	if len(p) == 0 {
		return 0
	}
	return hostArtifactRead(unsafe.Pointer(unsafe.StringData(name)), uint32(len(name)), off, unsafe.Pointer(&p[0]), uint32(len(p)))
}
