package wasmreg

import (
	"errors"
	"fmt"
	"path"
	"runtime"
	"strings"

	"github.com/wasmreg/wasmreg/guest-sdk/go/internal/abi"
)

// errNoModel is CallPredict's error before a successful build.
var errNoModel = errors.New("wasmreg: no model built: wasmreg_predict was called before a successful wasmreg_build")

// Metadata returns the metadata JSON that the wasmreg_info export writes
// for the registered factory (docs/ABI.md §5).
func Metadata() ([]byte, error) {
	if registered == nil {
		return nil, errNotRegistered
	}
	return append([]byte(nil), registered.metadata...), nil
}

// CallBuild does what the wasmreg_build export does with config: it calls
// the registered [BuildFunc] and, if it succeeds, keeps its [Model] for
// [CallPredict], replacing any earlier one (a failed build keeps the earlier
// model). A panic in the BuildFunc is recovered and returned as an error
// "panic: …". Use [Code] for the return code the export would give.
//
// The exports call it; native tests of a factory may call it too.
func CallBuild(config []byte) (err error) {
	f := registered
	if f == nil {
		return errNotRegistered
	}
	defer func() {
		if r := recover(); r != nil {
			err = recovered("Build", r)
		}
	}()
	m, err := f.build(config)
	if err != nil {
		return err
	}
	if m == nil {
		return errors.New("wasmreg: the BuildFunc returned a nil Model and no error")
	}
	if mf, ok := m.(ModelFunc); ok && mf == nil {
		return errors.New("wasmreg: the BuildFunc returned a nil ModelFunc and no error")
	}
	f.model = m
	return nil
}

// CallPredict does what the wasmreg_predict export does with input: it
// calls Predict on the model of the last successful [CallBuild], or fails
// with "no model built". A panic in Predict is recovered and returned as an
// error "panic: …", and the model stays usable.
//
// The exports call it; native tests of a factory may call it too.
func CallPredict(input []byte) (out []byte, err error) {
	f := registered
	if f == nil {
		return nil, errNotRegistered
	}
	if f.model == nil {
		return nil, errNoModel
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, recovered("Predict", r)
		}
	}()
	return f.model.Predict(input)
}

// panicError is a recovered panic.
type panicError struct {
	value any
	where string // "function (file:line)" of the panicking frame, or ""
}

func (e *panicError) Error() string {
	msg := "panic: " + fmt.Sprint(e.value)
	if e.where != "" {
		msg += " [in " + e.where + "]"
	}
	return msg
}

// Unwrap returns the panic's value if it is an error, such as a
// runtime.Error.
func (e *panicError) Unwrap() error {
	err, _ := e.value.(error)
	return err
}

// maxStack is the most frames of a recovered panic's stack that are logged.
const maxStack = 16

// recovered turns the panic value r, recovered in the deferred function of
// what ("Build" or "Predict"), into an error, and logs the panic's stack on
// one line at level ERROR. It must be called by that deferred function,
// while the panicking frames are still on the stack.
func recovered(what string, r any) error {
	pcs := make([]uintptr, 64)
	n := runtime.Callers(2, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	var stack []string
	inPanic := false
	for {
		fr, more := frames.Next()
		switch {
		case fr.Function == "runtime.gopanic":
			inPanic = true
		case inPanic && len(stack) < maxStack && !(len(stack) == 0 && strings.HasPrefix(fr.Function, "runtime.")):
			// The first frame kept is the one that panicked, below the
			// runtime's own (runtime.panicIndex, …).
			stack = append(stack, fmt.Sprintf("%s (%s:%d)", fr.Function, path.Base(fr.File), fr.Line))
		}
		if !more {
			break
		}
	}
	e := &panicError{value: r}
	if len(stack) > 0 {
		e.where = stack[0]
	}
	abi.Log(abi.LevelError, fmt.Sprintf("wasmreg: recovered a panic in %s: %v; stack: %s", what, r, strings.Join(stack, " < ")))
	return e
}
