package safetext_test

import (
	"fmt"

	"github.com/wasmreg/wasmreg/internal/safetext"
)

func ExampleLine() {
	// A guest's log line that would clear the screen, set the window
	// title and reverse the rest of the line.
	guest := "done\x1b[2J\x1b]0;pwned\x07 \u202eevil\tend"
	fmt.Println(safetext.Line(guest, 0))
	fmt.Println(safetext.Field(guest, 16))
	// Output:
	// done\x1b[2J\x1b]0;pwned\x07 \u202eevil	end
	// done\x1b[2J\x1b]…[truncated]
}
