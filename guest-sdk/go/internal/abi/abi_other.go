//go:build !wasip1

package abi

import (
	"io"
	"os"
	"strings"
)

// Input panics: there is no host call outside a wasmreg host.
func Input(int32) []byte { panic(Unavailable("input")) }

// Output panics: there is no host call outside a wasmreg host.
func Output([]byte) { panic(Unavailable("output")) }

// SetError panics: there is no host call outside a wasmreg host.
func SetError(string) { panic(Unavailable("error")) }

// logOutput is where Log writes outside a host.
var logOutput io.Writer = os.Stderr

// SetLogOutput redirects Log outside a host, for tests; it returns the
// previous writer.
func SetLogOutput(w io.Writer) io.Writer {
	old := logOutput
	logOutput = w
	return old
}

// Log writes "LEVEL msg" to standard error, one line.
func Log(level int32, msg string) {
	_, _ = io.WriteString(logOutput, "wasmreg "+LevelName(level)+" "+strings.ReplaceAll(msg, "\n", `\n`)+"\n")
}
