package app

import "github.com/wasmreg/wasmreg/internal/safetext"

// The most bytes of one string chosen by a module that a command prints,
// before it is cut with safetext's mark.
const (
	maxNameShown = 256      // a name: export, import, file in --dir
	maxTextShown = 4 << 10  // a description
	maxLineShown = 16 << 10 // one line of error
)

// shown returns a name or a table cell, which a module or a directory may
// have chosen, safe to print: no control, C1 or bidi character, no tab.
func shown(s string) string { return safetext.Field(s, maxNameShown) }
