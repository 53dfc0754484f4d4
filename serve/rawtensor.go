package serve

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
)

// rawWidths is each fixed-size datatype's element size in
// raw_input_contents (little-endian); BYTES is length-prefixed.
var rawWidths = map[string]int{
	"BOOL": 1, "INT8": 1, "UINT8": 1, "INT16": 2, "UINT16": 2, "FP16": 2,
	"INT32": 4, "UINT32": 4, "FP32": 4, "INT64": 8, "UINT64": 8, "FP64": 8,
}

// rawData decodes one raw_input_contents entry of n elements of datatype
// dt into the JSON data array the REST decoder checks. The size must be
// exact: n × the element width, or for BYTES n elements each a 4-byte
// little-endian length and that many bytes, with nothing left over.
func rawData(dt string, n int, raw []byte) (json.RawMessage, error) {
	vals := make([]any, 0, min(n, 1<<16))
	if dt == "BYTES" {
		for len(raw) > 0 {
			if len(raw) < 4 {
				return nil, fmt.Errorf("raw BYTES: %d bytes left, too few for a length prefix", len(raw))
			}
			l := binary.LittleEndian.Uint32(raw)
			raw = raw[4:]
			if uint64(l) > uint64(len(raw)) {
				return nil, fmt.Errorf("raw BYTES: element %d claims %d bytes, %d left", len(vals), l, len(raw))
			}
			if len(vals) == n {
				return nil, fmt.Errorf("raw BYTES: more than the shape's %d elements", n)
			}
			vals = append(vals, string(raw[:l]))
			raw = raw[l:]
		}
		if len(vals) != n {
			return nil, fmt.Errorf("raw BYTES: %d elements, the shape holds %d", len(vals), n)
		}
		return json.Marshal(vals)
	}
	w, ok := rawWidths[dt]
	if !ok {
		return nil, fmt.Errorf("unknown datatype %q", dt)
	}
	if uint64(len(raw)) != uint64(n)*uint64(w) {
		return nil, fmt.Errorf("raw %s: %d bytes, the shape's %d elements need %d", dt, len(raw), n, uint64(n)*uint64(w))
	}
	le := binary.LittleEndian
	for i := 0; i < len(raw); i += w {
		b := raw[i : i+w]
		var v any
		switch dt {
		case "BOOL":
			if b[0] > 1 {
				return nil, fmt.Errorf("raw BOOL: element %d is %d, want 0 or 1", i, b[0])
			}
			v = b[0] == 1
		case "INT8":
			v = int8(b[0])
		case "UINT8":
			v = b[0]
		case "INT16":
			v = int16(le.Uint16(b))
		case "UINT16":
			v = le.Uint16(b)
		case "FP16":
			v = half(le.Uint16(b))
		case "INT32":
			v = int32(le.Uint32(b))
		case "UINT32":
			v = le.Uint32(b)
		case "FP32":
			v = math.Float32frombits(le.Uint32(b))
		case "INT64":
			v = int64(le.Uint64(b))
		case "UINT64":
			v = le.Uint64(b)
		case "FP64":
			v = math.Float64frombits(le.Uint64(b))
		}
		if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			return nil, fmt.Errorf("raw %s: element %d is not finite", dt, i/w)
		}
		if f, ok := v.(float32); ok && (math.IsNaN(float64(f)) || math.IsInf(float64(f), 0)) {
			return nil, fmt.Errorf("raw %s: element %d is not finite", dt, i/w)
		}
		vals = append(vals, v)
	}
	return json.Marshal(vals)
}

// half converts an IEEE 754 binary16 to float64.
func half(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	frac := float64(h & 0x3ff)
	switch exp {
	case 0:
		return sign * frac * math.Pow(2, -24)
	case 31:
		if frac == 0 {
			return math.Inf(int(sign))
		}
		return math.NaN()
	}
	return sign * (1 + frac/1024) * math.Pow(2, float64(exp-15))
}
