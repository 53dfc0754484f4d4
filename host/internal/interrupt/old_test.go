package interrupt

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host/internal/wasmbin"
)

// instrumentOld is, for the benchmarks only, the rewrite this package
// replaces (host/interrupt.go's instrumentLoops, before issue 9): after
// every loop instruction
//
//	global.get $stop  if unreachable end
//	$tick++           if $tick & 0xffff == 0 (table.grow $yield by 0) end
//
// and no other check. Its start section stays, which the benchmarks do not
// mind.
func instrumentOld(t testing.TB, wasm []byte) []byte {
	m := decode(t, wasm)
	stop, tick, yield := m.NumGlobals(), m.NumGlobals()+1, m.NumTables()
	check := globalGet(nil, stop)
	check = append(check, opIf, blockEmpty, opUnreachable, opEnd)
	check = globalGet(check, tick)
	check = append(check, opI32Const, 1, opI32Add)
	check = globalSet(check, tick)
	check = globalGet(check, tick)
	check = i32Const(check, 0xffff)
	check = append(check, 0x71, 0x45, opIf, blockEmpty, opRefNull, refFunc, opI32Const, 0, opPrefixMisc, 15)
	check = wasmbin.AppendU32(check, yield)
	check = append(check, opDrop, opEnd)

	code := wasmbin.AppendU32(nil, uint32(len(m.Code)))
	for i := range m.Code {
		c := &m.Code[i]
		body := append([]byte(nil), c.Body[:c.Expr]...)
		copied := c.Expr
		r := m.Instructions(i)
		for r.Next() {
			if in := r.Instr(); in.Op == wasmbin.OpLoop {
				body = append(body, c.Body[copied:in.End]...)
				body = append(body, check...)
				copied = in.End
			}
		}
		require.NoError(t, r.Err())
		body = append(body, c.Body[copied:]...)
		code = append(wasmbin.AppendU32(code, uint32(len(body))), body...)
	}
	tables, err := limitedTables(m, MaxTableLimit)
	require.NoError(t, err)
	s := sections{m: m}
	s.replace(wasmbin.SecTable, wasmbin.AppendU32(nil, uint32(len(m.Tables))+1), append(tables, byte(wasmbin.FuncRef), 0, 0))
	s.extend(wasmbin.SecGlobal, 2, []byte{0x7f, 1, 0x41, 0, 0x0b, 0x7f, 1, 0x41, 0, 0x0b})
	s.extend(wasmbin.SecExport, 1, appendExports(nil, []wasmbin.Export{{Name: StopGlobal, Kind: wasmbin.KindGlobal, Index: stop}}))
	s.replace(wasmbin.SecCode, nil, code)
	return s.emit()
}
