package log_test

import (
	"fmt"

	"github.com/wasmreg/wasmreg/guest-sdk/go/log"
)

func ExampleFormat() {
	// log.Info("model built", ...) writes this line at level INFO.
	fmt.Println(log.Format("model built", "outputs", 3, "features", 4, "link", "softmax", "note", "iris, fitted"))
	// Output: model built outputs=3 features=4 link=softmax note="iris, fitted"
}
