package mlpnet

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
)

// Magic opens every weights file: the format's name and version.
const Magic = "WRMLP\x00v1"

// MaxHeader is the longest JSON header Decode accepts, in bytes.
const MaxHeader = 1 << 20

// ErrFormat means bytes are not a valid weights file. Errors wrapping it
// say what is wrong and where.
var ErrFormat = errors.New("mlpnet: bad weights file")

// header is the JSON header of the binary format (see the package doc).
type header struct {
	Sizes      []int    `json:"sizes"`
	Activation string   `json:"activation"`
	Output     string   `json:"output"`
	InputScale *float64 `json:"input_scale,omitempty"`
	Labels     []string `json:"labels,omitempty"`
}

const preamble = len(Magic) + 4

// MarshalBinary encodes the network in the binary format of the package
// doc. It implements [encoding.BinaryMarshaler].
func (n *Network) MarshalBinary() ([]byte, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	scale := float64(n.Scale())
	h, err := json.Marshal(header{Sizes: n.Sizes(), Activation: n.Activation, Output: n.Output, InputScale: &scale, Labels: n.Labels})
	if err != nil {
		return nil, fmt.Errorf("mlpnet: encode header: %w", err)
	}
	if len(h) > MaxHeader {
		return nil, fmt.Errorf("%w: header is %d bytes, the limit is %d", ErrInvalid, len(h), MaxHeader)
	}
	b := make([]byte, 0, preamble+len(h)+4*n.NumParams())
	b = append(b, Magic...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(h)))
	b = append(b, h...)
	for _, L := range n.Layers {
		b = appendFloats(b, L.W)
		b = appendFloats(b, L.B)
	}
	return b, nil
}

func appendFloats(b []byte, v []float32) []byte {
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

// UnmarshalBinary replaces n by the network b encodes. It implements
// [encoding.BinaryUnmarshaler]; see [Decode].
func (n *Network) UnmarshalBinary(b []byte) error {
	m, err := Decode(b)
	if err != nil {
		return err
	}
	*n = *m
	return nil
}

// Decode decodes a network in the binary format of the package doc. It
// never panics and allocates at most a few times len(b): every size is
// checked against the bytes that remain and against [MaxParams] first.
// Errors wrap [ErrFormat] (or [ErrInvalid] for a bad shape or name) and
// say what is wrong.
func Decode(b []byte) (*Network, error) {
	if len(b) < preamble {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the %d-byte magic and header length", ErrFormat, len(b), preamble)
	}
	if string(b[:len(Magic)]) != Magic {
		return nil, fmt.Errorf("%w: magic %q, want %q", ErrFormat, b[:len(Magic)], Magic)
	}
	hlen := binary.LittleEndian.Uint32(b[len(Magic):preamble])
	rest := b[preamble:]
	if hlen > MaxHeader || int64(hlen) > int64(len(rest)) {
		return nil, fmt.Errorf("%w: header length %d, but %d bytes follow (the limit is %d)", ErrFormat, hlen, len(rest), MaxHeader)
	}
	h, err := decodeHeader(rest[:hlen])
	if err != nil {
		return nil, err
	}
	payload := rest[hlen:]

	params, err := CountParams(h.Sizes)
	if err != nil {
		return nil, fmt.Errorf("%w: header field \"sizes\": %w", ErrFormat, err)
	}
	if want := 4 * int64(params); int64(len(payload)) != want {
		return nil, fmt.Errorf("%w: %d bytes of weights, want %d (%d float32 parameters for sizes %v)", ErrFormat, len(payload), want, params, h.Sizes)
	}
	n, err := New(h.Sizes, h.Activation, h.Output)
	if err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrFormat, err)
	}
	if h.InputScale != nil {
		s := *h.InputScale
		if math.IsNaN(s) || math.IsInf(s, 0) || s == 0 || math.Abs(s) > math.MaxFloat32 {
			return nil, fmt.Errorf("%w: header field \"input_scale\" is %v, want a finite non-zero float32", ErrFormat, s)
		}
		n.InputScale = float32(s)
	}
	if h.Labels != nil {
		if len(h.Labels) != n.OutputSize() {
			return nil, fmt.Errorf("%w: header field \"labels\" has %d labels for %d outputs", ErrFormat, len(h.Labels), n.OutputSize())
		}
		n.Labels = h.Labels
	}
	for l := range n.Layers {
		L := &n.Layers[l]
		if payload, err = readFloats(payload, L.W, l, "W"); err != nil {
			return nil, err
		}
		if payload, err = readFloats(payload, L.B, l, "B"); err != nil {
			return nil, err
		}
	}
	return n, nil
}

func decodeHeader(b []byte) (header, error) {
	var h header
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return h, fmt.Errorf("%w: header: %w", ErrFormat, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return h, fmt.Errorf("%w: header: data after the JSON object", ErrFormat)
	}
	if h.Sizes == nil {
		return h, fmt.Errorf("%w: header: field \"sizes\" is missing", ErrFormat)
	}
	return h, nil
}

// readFloats fills dst from the front of b, refusing NaN and infinities,
// and returns the rest of b. The caller has checked that b is long enough.
func readFloats(b []byte, dst []float32, layer int, what string) ([]byte, error) {
	for i := range dst {
		x := math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, fmt.Errorf("%w: layer %d %s[%d] is %v", ErrFormat, layer, what, i, x)
		}
		dst[i] = x
	}
	return b[4*len(dst):], nil
}
