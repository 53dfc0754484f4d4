package wasmreg

import (
	"errors"
	"fmt"
)

// ABIVersion is the guest ABI version the SDK speaks (docs/ABI.md).
const ABIVersion = 1

// Info is a factory's metadata, reported by the wasmreg_info export
// (docs/ABI.md §5). It is a plain value. (A guest instance is
// single-threaded: the host never runs two of its calls at once, so no type
// of the SDK needs to be safe for concurrent use.)
type Info struct {
	// Name is the factory's name: 1 to 128 ASCII letters, digits, '.', '_'
	// or '-'. Hosts compare it case-insensitively.
	Name string
	// Version is a semantic version, MAJOR.MINOR.PATCH with an optional
	// -prerelease, without a leading "v".
	Version string
	// Description is one line for listings; it may be empty.
	Description string
	// ConfigSchema is a JSON Schema of the build configuration, as JSON
	// text of an object. It may be empty. Hosts show it to users; they do
	// not enforce it.
	ConfigSchema string
	// Capabilities lists what the factory uses: any of "log", "clock",
	// "random", "artifact". Hosts refuse a factory listing a capability
	// they have not granted ("log" is always granted).
	Capabilities []string
	// Inputs and Outputs, when either is set, declare the factory's tensor
	// signature (docs/ABI.md §5): servers report it as the model's
	// metadata, check requests against the input and map responses to the
	// outputs (docs/SERVE.md). At most one input and 16 outputs.
	Inputs, Outputs []Tensor
}

// Tensor is one tensor of a declared signature: a name, an Open Inference
// Protocol datatype (one of [Datatypes]) and a shape, where -1 is a
// variable dimension ([-1, 64]: any number of rows of 64 values). It is a
// plain value.
type Tensor struct {
	Name     string
	Datatype string
	Shape    []int64
}

// Model is a built model. Predict answers one request; its input and
// output formats are the factory's to choose and document. The host calls
// Predict one request at a time, so a Model need not be safe for
// concurrent use.
type Model interface {
	Predict(input []byte) ([]byte, error)
}

// ModelFunc adapts a function to a [Model]; it is called one request at a
// time.
type ModelFunc func(input []byte) ([]byte, error)

// Predict implements [Model] by calling f.
func (f ModelFunc) Predict(input []byte) ([]byte, error) { return f(input) }

// BuildFunc builds a model from the build configuration: JSON text, "{}"
// when the user gave none. It is called one build at a time.
type BuildFunc func(config []byte) (Model, error)

// Error is an error that chooses the export's non-zero return code. Return
// it, or an error wrapping it, from a [BuildFunc] or [Model.Predict]; any
// other error returns code 1. The host reports the code with the message
// (for example "export wasmreg_predict returned code 3: ..."). It is a
// plain value.
type Error struct {
	// Code is the return code; 0 is taken as 1, since 0 means success.
	Code int32
	// Message is the error message; if empty, the host reports only the
	// code.
	Message string
}

// Error implements error. It returns Message, or "error code N" if Message
// is empty.
func (e Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("error code %d", e.Code)
	}
	return e.Message
}

// Errorf returns an [Error] with code and a message formatted as
// fmt.Sprintf does.
func Errorf(code int32, format string, args ...any) error {
	return Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Code returns the return code the SDK's exports use for err: 0 for nil,
// the Code of the first [Error] (or *Error) in err's chain, otherwise 1.
// A code of 0 in an Error is taken as 1.
func Code(err error) int32 {
	if err == nil {
		return 0
	}
	code := int32(1)
	var e Error
	var pe *Error
	switch {
	case errors.As(err, &e):
		code = e.Code
	case errors.As(err, &pe) && pe != nil:
		code = pe.Code
	}
	if code == 0 {
		code = 1
	}
	return code
}

// message returns the error message to give the host for err, or "" when
// err is an Error without a message, so the host reports only its code.
func message(err error) string {
	var e Error
	if errors.As(err, &e) && e.Message == "" && err.Error() == e.Error() {
		return ""
	}
	var pe *Error
	if errors.As(err, &pe) && pe != nil && pe.Message == "" && err.Error() == pe.Error() {
		return ""
	}
	return err.Error()
}

// outcome returns the return code and the message to give the host for
// err (no message when the host should report only the code). It recovers
// from a panic in err's methods, such as Error on a nil pointer, since it
// runs outside the recovered Build and Predict.
func outcome(err error) (code int32, msg string) {
	if err == nil {
		return 0, ""
	}
	defer func() {
		if r := recover(); r != nil {
			code, msg = 1, fmt.Sprintf("wasmreg: the error returned (%T) panicked when formatted: %v", err, r)
		}
	}()
	return Code(err), message(err)
}

// factory is what Register stored: the SDK's single-threaded state.
type factory struct {
	info     Info
	metadata []byte // the JSON of info, marshalled once by Register
	build    BuildFunc
	model    Model // the last successfully built model, nil before
}

var registered *factory

// Register makes info and build the factory of this module. Call it once,
// from an init function of the main package.
//
// Register panics if it is called a second time, if build is nil, or if
// info is invalid: an empty or malformed name or version, a ConfigSchema
// that is not a JSON object, an unknown or repeated capability. These are
// programmer errors at init time: inside a host, the module then fails to
// load and the panic's message is in the host's log; natively, any test
// binary of the package fails at start.
func Register(info Info, build BuildFunc) {
	if registered != nil {
		panic(fmt.Sprintf("wasmreg: Register called twice (first for %q, now for %q)", registered.info.Name, info.Name))
	}
	if build == nil {
		panic("wasmreg: Register: nil BuildFunc")
	}
	md, err := marshalInfo(info)
	if err != nil {
		panic("wasmreg: Register: " + err.Error())
	}
	info.Capabilities = append([]string(nil), info.Capabilities...)
	registered = &factory{info: info, metadata: md, build: build}
}

// errNotRegistered is the error of every export when no factory registered.
var errNotRegistered = errors.New("wasmreg: no factory registered: call wasmreg.Register from an init function of the main package")
