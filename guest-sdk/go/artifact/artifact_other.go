//go:build !wasip1

package artifact

import "github.com/wasmreg/wasmreg/guest-sdk/go/internal/abi"

func size(string) int64 { panic(abi.Unavailable("artifact")) }

func read(string, int64, []byte) int64 { panic(abi.Unavailable("artifact")) }
