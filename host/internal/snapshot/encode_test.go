package snapshot

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host/internal/wasmbin"
)

// rewrittenFixtures returns the host's test modules the rewrite accepts,
// each with its plan.
func rewrittenFixtures(t testing.TB) (modules [][]byte, plans []*Plan) {
	paths, err := filepath.Glob("../../testdata/*.wasm")
	require.NoError(t, err)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		m, err := wasmbin.Decode(b, wasmbin.DefaultLimits())
		if err != nil {
			continue
		}
		if _, plan, err := Rewrite(m); err == nil {
			modules, plans = append(modules, b), append(plans, plan)
		}
	}
	require.NotEmpty(t, plans)
	return modules, plans
}

func TestPlanEncoding(t *testing.T) {
	modules, plans := rewrittenFixtures(t)
	withData := 0
	for i, plan := range plans {
		enc, err := plan.Encode(modules[i])
		require.NoError(t, err)
		got, err := DecodePlan(enc, modules[i])
		require.NoError(t, err)
		require.Equal(t, plan.globals, got.globals)
		require.Len(t, got.segments, len(plan.segments))
		for j, seg := range plan.segments {
			assert.Equal(t, seg.offset, got.segments[j].offset)
			assert.Equal(t, seg.data, got.segments[j].data)
			if len(seg.data) > 0 {
				off, ok := offsetIn(modules[i], seg.data)
				require.True(t, ok)
				assert.Same(t, &modules[i][off], &got.segments[j].data[0], "the decoded segment is the module's bytes, not a copy")
			}
		}
		if len(plan.segments) > 0 {
			withData++
		}
	}
	require.NotZero(t, withData, "a fixture with data segments")

	t.Run("a segment not of the module", func(t *testing.T) {
		p := &Plan{segments: []dataSegment{{offset: 0, data: []byte("elsewhere")}}}
		_, err := p.Encode([]byte("some module bytes"))
		assert.Error(t, err)
		_, err = p.Encode(nil)
		assert.Error(t, err)
	})
}

func TestDecodePlanRefuses(t *testing.T) {
	module := []byte("0123456789")
	p := &Plan{segments: []dataSegment{{offset: 64, data: module[2:5]}}, globals: []string{GlobalPrefix + "3"}}
	good, err := p.Encode(module)
	require.NoError(t, err)
	_, err = DecodePlan(good, module)
	require.NoError(t, err)

	u32 := func(vs ...uint32) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.LittleEndian.AppendUint32(b, v)
		}
		return b
	}
	name := func(s string) []byte { return append(u32(uint32(len(s))), s...) }
	for _, tc := range []struct {
		name string
		enc  []byte
	}{
		{"segment past the module", append(u32(1, 0, 8, 3), u32(0)...)},
		{"segment wrapping", append(u32(1, 0, 0xffff_fff0, 0x20), u32(0)...)},
		{"too many segments", u32(0x4000_0000)},
		{"too many globals", u32(0, maxGlobals+1)},
		{"global not the rewrite's", append(u32(0, 1), name("__wasmreg_stop")...)},
		{"global index not canonical", append(u32(0, 1), name(GlobalPrefix+"03")...)},
		{"global without index", append(u32(0, 1), name(GlobalPrefix)...)},
		{"global name too long", append(u32(0, 1), name(GlobalPrefix+"123456789012")...)},
		{"trailing bytes", append(append([]byte(nil), good...), 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodePlan(tc.enc, module)
			assert.ErrorIs(t, err, ErrBadEncoding)
		})
	}
	t.Run("every truncation", func(t *testing.T) {
		for n := range len(good) {
			_, err := DecodePlan(good[:n], module)
			assert.ErrorIs(t, err, ErrBadEncoding, "truncated to %d bytes", n)
		}
	})
}

// FuzzDecodePlan: a plan's encoding comes from a cache file, hostile
// input. Whatever the bytes, DecodePlan refuses them or returns a plan
// whose segments lie within the module, and which encodes back to them.
func FuzzDecodePlan(f *testing.F) {
	modules, plans := rewrittenFixtures(f)
	for i, p := range plans {
		if enc, err := p.Encode(modules[i]); err == nil && len(enc) < 4096 {
			f.Add(enc, modules[i])
		}
	}
	f.Fuzz(func(t *testing.T, enc, module []byte) {
		p, err := DecodePlan(enc, module)
		if err != nil {
			require.ErrorIs(t, err, ErrBadEncoding)
			return
		}
		again, err := p.Encode(module)
		require.NoError(t, err, "every decoded segment is the module's")
		require.Len(t, again, len(enc))
	})
}
