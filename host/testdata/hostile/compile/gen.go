//go:build ignore

// gen writes the hostile fixtures that are cheap to send and expensive to
// compile (../README.md, "Compilation bombs"). Each is a valid factory whose
// wasmreg_build calls one bomb function; WAT cannot express them compactly
// (2^32-1 locals, 500,000 br_table targets), so they are written as
// binary. They live in this subdirectory, not beside the other hostile
// modules, because the tests that glob hostile/*.wasm compile every module
// wazero accepts: until Load refuses these first, many_locals would kill
// the test binary. Regenerate from host/testdata/hostile/compile with:
//
//	go run gen.go
//
// host/internal/compilecost measures what each costs wazero v1.12 and which
// structural limit refuses it.
package main

import (
	"fmt"
	"log"
	"os"
)

func main() {
	for _, f := range fixtures {
		wasm := factory(f)
		if err := os.WriteFile(f.name+".wasm", wasm, 0o644); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s.wasm: %d bytes\n", f.name, len(wasm))
	}
}

// fixture is one bomb: the body of a function of type [i32] -> [i32] (its
// final end included), its locals and the mutable globals it needs.
type fixture struct {
	name, description string
	locals            []localDecl
	globals           int
	body              func() []byte
}

type localDecl struct {
	count uint32
	typ   byte
}

const (
	i32   = 0x7f
	void  = 0x40
	block = 0x02
	loop  = 0x03
	ifOp  = 0x04
	end   = 0x0b
	br    = 0x0c
	brIf  = 0x0d
	brTab = 0x0e
	call  = 0x10
	get   = 0x20
	set   = 0x21
	c32   = 0x41
	add   = 0x6a
	xor   = 0x73
)

// Function indices: the output import, then the four exports, the bomb
// and a function that does nothing.
const (
	bombFunc = 5
	nopFunc  = 6
)

var fixtures = []fixture{
	{name: "many_locals", description: "declares 2^32-1 locals in one function",
		locals: []localDecl{{1<<32 - 1, i32}},
		body:   func() []byte { return []byte{get, 0, end} }},
	{name: "many_loops", description: "10,000 sequential loops in one function",
		body: func() []byte {
			var c []byte
			for range 10_000 {
				c = append(c, loop, void, end)
			}
			return append(c, get, 0, end)
		}},
	{name: "nested_loops", description: "16,000 nested loops",
		body: func() []byte {
			var c []byte
			for range 16_000 {
				c = append(c, loop, void)
			}
			for range 16_000 {
				c = append(c, end)
			}
			return append(c, get, 0, end)
		}},
	{name: "br_table_huge", description: "one br_table of 500,000 targets",
		body: func() []byte {
			c := []byte{block, void, get, 0, brTab}
			c = uleb(c, 500_000-1)
			for range 500_000 {
				c = append(c, 0)
			}
			return append(c, end, get, 0, end)
		}},
	{name: "deep_blocks", description: "blocks nested 100,000 deep",
		body: func() []byte {
			var c []byte
			for range 100_000 {
				c = append(c, block, void)
			}
			for range 100_000 {
				c = append(c, end)
			}
			return append(c, get, 0, end)
		}},
	{name: "branch_chain", description: "16,000 br_ifs one after another, nesting depth 1",
		body: func() []byte {
			c := []byte{block, void}
			for range 16_000 {
				c = append(c, get, 0, brIf, 0)
			}
			return append(c, end, get, 0, end)
		}},
	{name: "phi_bomb", description: "1,000 locals live across 1,000 loops",
		locals: []localDecl{{1000, i32}},
		body: func() []byte {
			var c []byte
			for k := 1; k <= 1000; k++ {
				c = append(c, get, 0, c32)
				c = sleb(c, int64(k))
				c = append(c, add, set)
				c = uleb(c, uint64(k))
			}
			for range 1000 {
				c = append(c, loop, void, get, 0, brIf, 0, end)
			}
			c = append(c, get, 1)
			for k := 2; k <= 1000; k++ {
				c = append(c, get)
				c = uleb(c, uint64(k))
				c = append(c, add)
			}
			return append(c, end)
		}},
	{name: "stack_bomb", description: "4,000 operand-stack values live across 4,000 ifs",
		body: func() []byte {
			var c []byte
			for k := range 4000 {
				c = append(c, get, 0, c32)
				c = sleb(c, int64(k))
				c = append(c, xor)
			}
			for range 4000 {
				c = append(c, get, 0, ifOp, void, get, 0, c32, 1, add, set, 0, end)
			}
			for range 4000 - 1 {
				c = append(c, add)
			}
			return append(c, end)
		}},
	{name: "global_reload", description: "4,000 calls with 4,000 mutable globals, each call reloading every one",
		globals: 4000,
		body: func() []byte {
			var c []byte
			for range 4000 {
				c = append(c, call, nopFunc)
			}
			return append(c, get, 0, end)
		}},
}

// factory returns a valid factory module (the shape of the other hostile
// fixtures) whose wasmreg_build calls f's bomb.
func factory(f fixture) []byte {
	meta := fmt.Sprintf(`{"name":"hostile-%s","version":"1.0.0","description":"%s","capabilities":[]}`,
		dash(f.name), f.description)
	out := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	// Types: 0 (i32 i32) -> (), 1 () -> i32, 2 (i32) -> i32, 3 () -> ().
	out = section(out, 1, []byte{4,
		0x60, 2, i32, i32, 0,
		0x60, 0, 1, i32,
		0x60, 1, i32, 1, i32,
		0x60, 0, 0})
	imp := uleb(nil, 1)
	imp = name(imp, "wasmreg")
	imp = name(imp, "output")
	out = section(out, 2, append(imp, 0, 0))
	// abi_version, info, build, predict, bomb, nop.
	out = section(out, 3, []byte{6, 1, 1, 2, 2, 2, 3})
	out = section(out, 5, []byte{1, 0, 1}) // memory 1 page
	if f.globals > 0 {
		g := uleb(nil, uint64(f.globals))
		for range f.globals {
			g = append(g, i32, 1, c32, 0, end)
		}
		out = section(out, 6, g)
	}
	exp := uleb(nil, 5)
	for i, e := range []string{"memory", "wasmreg_abi_version", "wasmreg_info", "wasmreg_build", "wasmreg_predict"} {
		exp = name(exp, e)
		if i == 0 {
			exp = append(exp, 2, 0)
		} else {
			exp = append(exp, 0, byte(i))
		}
	}
	out = section(out, 7, exp)

	var bodies [][]byte
	bodies = append(bodies, entry(nil, []byte{c32, 1, end}))
	info := []byte{c32, 0, c32}
	info = sleb(info, int64(len(meta)))
	bodies = append(bodies, entry(nil, append(info, call, 0, c32, 0, end)))
	bodies = append(bodies, entry(nil, []byte{get, 0, call, bombFunc, 0x1a, c32, 0, end}))
	bodies = append(bodies, entry(nil, []byte{c32, 0, end}))
	bodies = append(bodies, entry(f.locals, f.body()))
	bodies = append(bodies, entry(nil, []byte{end}))
	code := uleb(nil, uint64(len(bodies)))
	for _, b := range bodies {
		code = uleb(code, uint64(len(b)))
		code = append(code, b...)
	}
	out = section(out, 10, code)

	data := []byte{1, 0, c32, 0, end}
	data = name(data, meta)
	return section(out, 11, data)
}

func entry(locals []localDecl, body []byte) []byte {
	e := uleb(nil, uint64(len(locals)))
	for _, l := range locals {
		e = append(uleb(e, uint64(l.count)), l.typ)
	}
	return append(e, body...)
}

func section(out []byte, id byte, payload []byte) []byte {
	out = append(out, id)
	out = uleb(out, uint64(len(payload)))
	return append(out, payload...)
}

func name(b []byte, s string) []byte { return append(uleb(b, uint64(len(s))), s...) }

func uleb(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func sleb(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func dash(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '_' {
			b[i] = '-'
		}
	}
	return string(b)
}
