// These tests run natively: under wasip1 the exports and clients call a
// wasmreg host, which go test does not provide.

//go:build !wasip1

package wasmreg

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/wasmreg/wasmreg/guest-sdk/go/internal/abi"
)

// register replaces the registered factory for one test.
func register(t *testing.T, info Info, build BuildFunc) {
	t.Helper()
	old := registered
	registered = nil
	t.Cleanup(func() { registered = old })
	Register(info, build)
}

// captureLog collects what the SDK logs outside a host during one test.
func captureLog(t *testing.T) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	old := abi.SetLogOutput(&buf)
	t.Cleanup(func() { abi.SetLogOutput(old) })
	return &buf
}

func panics(f func()) (msg string) {
	defer func() { msg = fmt.Sprint(recover()) }()
	f()
	return "<no panic>"
}

var okInfo = Info{Name: "linear", Version: "1.0.0"}

func nopBuild([]byte) (Model, error) {
	return ModelFunc(func(in []byte) ([]byte, error) { return in, nil }), nil
}

func TestMetadata(t *testing.T) {
	tests := []struct {
		name string
		info Info
		want string
	}{
		{"required fields only", Info{Name: "echo", Version: "0.1.0"}, `{"name":"echo","version":"0.1.0"}`},
		{
			"every field, schema embedded and compacted",
			Info{
				Name: "Linear.v2_x-y", Version: "1.2.3-rc.1", Description: "<linear> & logistic",
				ConfigSchema: "\n {\"type\": \"object\",\n  \"properties\": {\"weights\": {\"type\": \"array\"}}}\n",
				Capabilities: []string{"log", "random"},
			},
			`{"name":"Linear.v2_x-y","version":"1.2.3-rc.1","description":"<linear> & logistic",` +
				`"config_schema":{"type":"object","properties":{"weights":{"type":"array"}}},"capabilities":["log","random"]}`,
		},
		{
			"a tensor signature",
			Info{Name: "digits", Version: "1.0.0",
				Inputs:  []Tensor{{Name: "pixels", Datatype: "FP32", Shape: []int64{-1, 64}}},
				Outputs: []Tensor{{Name: "class", Datatype: "INT64", Shape: []int64{-1}}, {Name: "any", Datatype: "BYTES"}}},
			`{"name":"digits","version":"1.0.0","tensors":{"inputs":[{"name":"pixels","datatype":"FP32","shape":[-1,64]}],` +
				`"outputs":[{"name":"class","datatype":"INT64","shape":[-1]},{"name":"any","datatype":"BYTES","shape":[]}]}}`,
		},
		{
			"outputs only",
			Info{Name: "o", Version: "1.0.0", Outputs: []Tensor{{Name: "y", Datatype: "FP64", Shape: []int64{-1, -1}}}},
			`{"name":"o","version":"1.0.0","tensors":{"outputs":[{"name":"y","datatype":"FP64","shape":[-1,-1]}]}}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.info.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
			register(t, tc.info, nopBuild)
			got, err := Metadata()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("Metadata()\n got %s\nwant %s", got, tc.want)
			}
			if !json.Valid(got) {
				t.Error("not valid JSON")
			}
		})
	}
}

func TestRegisterInvalidInfo(t *testing.T) {
	long := strings.Repeat("a", 129)
	tests := []struct {
		name string
		info Info
		want string // in the panic message
	}{
		{"empty name", Info{Version: "1.0.0"}, `Info.Name "": empty name`},
		{"long name", Info{Name: long, Version: "1.0.0"}, "129 bytes, more than 128"},
		{"bad name", Info{Name: "my model", Version: "1.0.0"}, `Info.Name "my model": byte 2 is ' '`},
		{"empty version", Info{Name: "m"}, `Info.Version "": empty version`},
		{"v prefix", Info{Name: "m", Version: "v1.0.0"}, `leading "v"`},
		{"two numbers", Info{Name: "m", Version: "1.0"}, "2 dot-separated numbers"},
		{"leading zero", Info{Name: "m", Version: "1.02.0"}, `"02" is not a number without leading zeros`},
		{"number too large", Info{Name: "m", Version: "18446744073709551616.0.0"}, `"18446744073709551616" is larger than 18446744073709551615`},
		{"build metadata", Info{Name: "m", Version: "1.0.0+abc"}, `build metadata ("+abc") is refused`},
		{"bad prerelease", Info{Name: "m", Version: "1.0.0-rc_1"}, `pre-release identifier "rc_1" has '_'`},
		{"empty prerelease", Info{Name: "m", Version: "1.0.0-"}, "empty pre-release identifier"},
		{"schema not JSON", Info{Name: "m", Version: "1.0.0", ConfigSchema: `{"type": }`}, `Info.ConfigSchema of "m" is not valid JSON: invalid character '}'`},
		{"schema not an object", Info{Name: "m", Version: "1.0.0", ConfigSchema: `["a"]`}, "is not a JSON object"},
		{"unknown capability", Info{Name: "m", Version: "1.0.0", Capabilities: []string{"net"}}, `unknown capability "net" (known: artifact, clock, log, random)`},
		{"repeated capability", Info{Name: "m", Version: "1.0.0", Capabilities: []string{"clock", "clock"}}, `"clock" listed twice`},
		{"two inputs", Info{Name: "m", Version: "1.0.0", Inputs: []Tensor{fp32("a"), fp32("b")}}, `Info.Inputs of "m": 2 tensors, at most 1`},
		{"17 outputs", Info{Name: "m", Version: "1.0.0", Outputs: slices.Repeat([]Tensor{fp32("a")}, 17)}, `Info.Outputs of "m": 17 tensors, at most 16`},
		{"duplicate output", Info{Name: "m", Version: "1.0.0", Outputs: []Tensor{fp32("a"), fp32("a")}}, `Info.Outputs[1] of "m": name "a" declared twice`},
		{"empty tensor name", Info{Name: "m", Version: "1.0.0", Inputs: []Tensor{fp32("")}}, `Info.Inputs[0] of "m": empty Tensor.Name`},
		{"long tensor name", Info{Name: "m", Version: "1.0.0", Inputs: []Tensor{fp32(long)}}, "Tensor.Name of 129 bytes, more than 128"},
		{"control char", Info{Name: "m", Version: "1.0.0", Outputs: []Tensor{fp32("a\tb")}}, `has control character U+0009 at byte 1`},
		{"bad UTF-8", Info{Name: "m", Version: "1.0.0", Outputs: []Tensor{fp32("a\xff")}}, `is not valid UTF-8`},
		{"bad datatype", Info{Name: "m", Version: "1.0.0", Inputs: []Tensor{{Name: "x", Datatype: "float32"}}}, `tensor "x": Datatype "float32" is not one of BOOL, UINT8`},
		{"dim below -1", Info{Name: "m", Version: "1.0.0", Inputs: []Tensor{{Name: "x", Datatype: "FP32", Shape: []int64{-1, -2}}}}, `tensor "x": Shape[1] is -2, want -1 (variable) or 0 to 16777216`},
		{"too many dims", Info{Name: "m", Version: "1.0.0", Inputs: []Tensor{{Name: "x", Datatype: "FP32", Shape: make([]int64, 17)}}}, "Shape has 17 dimensions, at most 16"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old := registered
			registered = nil
			defer func() { registered = old }()
			err := tc.info.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate: %v, want it to contain %q", err, tc.want)
			}
			msg := panics(func() { Register(tc.info, nopBuild) })
			if !strings.HasPrefix(msg, "wasmreg: Register: ") || !strings.Contains(msg, tc.want) {
				t.Errorf("panic %q, want it to contain %q", msg, tc.want)
			}
			if registered != nil {
				t.Error("an invalid Info was registered")
			}
		})
	}
}

func TestRegisterTwiceOrNil(t *testing.T) {
	register(t, okInfo, nopBuild)
	if msg := panics(func() { Register(Info{Name: "other", Version: "1.0.0"}, nopBuild) }); !strings.Contains(msg, `Register called twice (first for "linear", now for "other")`) {
		t.Errorf("second Register: panic %q", msg)
	}
	registered = nil
	if msg := panics(func() { Register(okInfo, nil) }); msg != "wasmreg: Register: nil BuildFunc" {
		t.Errorf("nil BuildFunc: panic %q", msg)
	}
}

func TestNotRegistered(t *testing.T) {
	old := registered
	registered = nil
	defer func() { registered = old }()
	_, err := Metadata()
	if !errors.Is(err, errNotRegistered) {
		t.Errorf("Metadata: %v", err)
	}
	if err := CallBuild([]byte("{}")); !errors.Is(err, errNotRegistered) {
		t.Errorf("CallBuild: %v", err)
	}
	if _, err := CallPredict(nil); !errors.Is(err, errNotRegistered) {
		t.Errorf("CallPredict: %v", err)
	}
}

// scaleBuild builds a model multiplying a byte by the config's first byte;
// configs and requests starting with "!" fail in various ways.
func scaleBuild(config []byte) (Model, error) {
	switch string(config) {
	case "!error":
		return nil, errors.New("bad config")
	case "!code":
		return nil, fmt.Errorf("config: %w", Error{Code: 7, Message: "seven"})
	case "!panic":
		var m map[string]int
		//lint:ignore SA5000 the panic is the point: a runtime error inside Build
		m["x"] = 1 // assignment to entry in nil map
	case "!nil":
		return nil, nil
	case "!nilfunc":
		return ModelFunc(nil), nil
	}
	factor := config[0]
	return ModelFunc(func(in []byte) ([]byte, error) {
		switch string(in) {
		case "!index":
			return []byte{in[indexOf(in, 3)]}, nil
		case "!code":
			return nil, &Error{Code: 3}
		case "!panic-error":
			panic(Error{Code: 5, Message: "panicked with an Error"})
		}
		return []byte{in[0] * factor}, nil
	}), nil
}

//go:noinline
func indexOf(b []byte, i int) int { return i * len(b) / 2 }

func TestCallBuildAndPredict(t *testing.T) {
	register(t, okInfo, scaleBuild)
	logs := captureLog(t)

	_, err := CallPredict([]byte{1})
	if err == nil || !strings.Contains(err.Error(), "no model built") {
		t.Fatalf("predict before build: %v", err)
	}

	builds := []struct {
		config  string
		code    int32
		wantErr string
	}{
		{"!error", 1, "bad config"},
		{"!code", 7, "config: seven"},
		{"!panic", 1, "panic: assignment to entry in nil map [in github.com/wasmreg/wasmreg/guest-sdk/go.scaleBuild (wasmreg_test.go:"},
		{"!nil", 1, "returned a nil Model"},
		{"!nilfunc", 1, "returned a nil ModelFunc"},
		{"\x02", 0, ""},
	}
	for _, b := range builds {
		err := CallBuild([]byte(b.config))
		if got := Code(err); got != b.code {
			t.Errorf("build %q: code %d, want %d (err %v)", b.config, got, b.code, err)
		}
		if b.wantErr != "" && (err == nil || !strings.Contains(err.Error(), b.wantErr)) {
			t.Errorf("build %q: error %v, want it to contain %q", b.config, err, b.wantErr)
		}
	}

	predicts := []struct {
		input   string
		want    string
		code    int32
		wantErr string
	}{
		{"\x03", "\x06", 0, ""},
		{"!index", "", 1, "panic: runtime error: index out of range [9] with length 6 [in github.com/wasmreg/wasmreg/guest-sdk/go.scaleBuild.func1 (wasmreg_test.go:"},
		{"\x04", "\x08", 0, ""}, // still usable after the panic
		{"!code", "", 3, "error code 3"},
		{"!panic-error", "", 5, "panic: panicked with an Error"},
	}
	for _, p := range predicts {
		out, err := CallPredict([]byte(p.input))
		if got := Code(err); got != p.code {
			t.Errorf("predict %q: code %d, want %d (err %v)", p.input, got, p.code, err)
		}
		if p.wantErr != "" && (err == nil || !strings.Contains(err.Error(), p.wantErr)) {
			t.Errorf("predict %q: error %v, want it to contain %q", p.input, err, p.wantErr)
		}
		if string(out) != p.want {
			t.Errorf("predict %q = %q, want %q", p.input, out, p.want)
		}
	}
	if !strings.Contains(logs.String(), "wasmreg ERROR wasmreg: recovered a panic in Predict: runtime error: index out of range [9] with length 6; stack: github.com/wasmreg/wasmreg/guest-sdk/go.scaleBuild.func1 (wasmreg_test.go:") {
		t.Errorf("the panic's stack was not logged:\n%s", logs)
	}

	// A failed build keeps the model; a successful one replaces it.
	_ = CallBuild([]byte("!error"))
	if out, _ := CallPredict([]byte{5}); !bytes.Equal(out, []byte{10}) {
		t.Errorf("after a failed build: %v", out)
	}
	if err := CallBuild([]byte{3}); err != nil {
		t.Fatal(err)
	}
	if out, _ := CallPredict([]byte{5}); !bytes.Equal(out, []byte{15}) {
		t.Errorf("after a second build: %v", out)
	}
}

func TestCodeAndMessage(t *testing.T) {
	tests := []struct {
		name string
		err  error
		code int32
		msg  string
	}{
		{"nil", nil, 0, ""},
		{"plain", errors.New("boom"), 1, "boom"},
		{"Error", Error{Code: 4, Message: "four"}, 4, "four"},
		{"*Error", &Error{Code: 5, Message: "five"}, 5, "five"},
		{"wrapped", fmt.Errorf("predict: %w", Error{Code: 6, Message: "six"}), 6, "predict: six"},
		{"zero code", Error{Message: "zero"}, 1, "zero"},
		{"negative code", Error{Code: -2, Message: "neg"}, -2, "neg"},
		{"code only", Error{Code: 9}, 9, ""},
		{"*Error code only", &Error{Code: 9}, 9, ""},
		{"wrapped code only", fmt.Errorf("ctx: %w", Error{Code: 9}), 9, "ctx: error code 9"},
		{"Errorf", Errorf(12, "bad %s", "input"), 12, "bad input"},
		{"nil *Error", (*Error)(nil), 1, "wasmreg: the error returned (*wasmreg.Error) panicked when formatted: value method github.com/wasmreg/wasmreg/guest-sdk/go.Error.Error called using nil *Error pointer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, msg := outcome(tc.err)
			if code != tc.code {
				t.Errorf("code = %d, want %d", code, tc.code)
			}
			if msg != tc.msg {
				t.Errorf("message = %q, want %q", msg, tc.msg)
			}
		})
	}
}

func TestModelFunc(t *testing.T) {
	var m Model = ModelFunc(func(in []byte) ([]byte, error) { return append(in, '!'), nil })
	out, err := m.Predict([]byte("hi"))
	if err != nil || string(out) != "hi!" {
		t.Errorf("Predict = %q, %v", out, err)
	}
}

func fp32(name string) Tensor { return Tensor{Name: name, Datatype: "FP32", Shape: []int64{-1}} }

// TestDisallowUnknownFieldsIgnoresCase pins what the README says of
// encoding/json: DisallowUnknownFields accepts a key that differs from a
// field's name only in case.
func TestDisallowUnknownFieldsIgnoresCase(t *testing.T) {
	for _, config := range []string{`{"greeting": "hi"}`, `{"Greeting": "hi"}`, `{"GREETING": "hi"}`} {
		var cfg struct {
			Greeting string `json:"greeting"`
		}
		dec := json.NewDecoder(strings.NewReader(config))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cfg); err != nil || cfg.Greeting != "hi" {
			t.Errorf("%s: %+v, %v; want greeting hi, no error", config, cfg, err)
		}
	}
}
