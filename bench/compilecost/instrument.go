package main

import "fmt"

// instrument returns wasm with the interrupt checks the host's rewrite will
// insert (docs/ABI.md), so that each shape's compile cost can be measured
// with them: three mutable i32 globals ($fuel, $stop, $stack) and a
// function $slow of type [] -> [] are appended, so no index changes; every
// loop header gets
//
//	global.get $fuel  i32.const W  i32.sub  global.set $fuel
//	global.get $fuel  global.get $stop  i32.or  i32.const 0  i32.lt_s
//	if  call $slow  end
//
// and every function entry the same with $stack decremented by a frame
// estimate and or-ed in, the body wrapped in one block and $stack restored
// before the final end. Only the compile cost must be representative: the
// constants are arbitrary.
func instrument(wasm []byte) ([]byte, error) {
	mi, _, err := parse(wasm, true)
	if err != nil {
		return nil, err
	}
	var have [14]bool
	for _, s := range mi.sections {
		if s.id < 14 {
			have[s.id] = true
		}
	}
	for _, id := range []byte{secType, secFunction, secGlobal, secCode} {
		if !have[id] {
			mi.sections = insertSection(mi.sections, sectionBytes{id: id, payload: []byte{0}})
		}
	}

	ntypes := len(mi.typeResults)
	var newTypes []funcType
	slowType := uint32(ntypes)
	newTypes = append(newTypes, funcType{})
	// A function with several results needs a type index as the block type
	// of the block that wraps its body: one type [] -> results per function
	// type that has several.
	multi := map[uint32]uint32{}
	for _, t := range mi.funcTypes {
		if int(t) >= ntypes {
			return nil, fmt.Errorf("%w: function type %d out of range", errMalformed, t)
		}
		if res := mi.typeResults[t]; len(res) > 1 {
			if _, ok := multi[t]; !ok {
				multi[t] = uint32(ntypes + len(newTypes))
				newTypes = append(newTypes, funcType{results: res})
			}
		}
	}
	if len(mi.bodies) != len(mi.funcTypes) {
		return nil, fmt.Errorf("%w: %d bodies for %d functions", errMalformed, len(mi.bodies), len(mi.funcTypes))
	}

	definedGlobals := 0
	for _, s := range mi.sections {
		if s.id == secGlobal {
			r := &reader{b: s.payload}
			n, err := r.u32()
			if err != nil {
				return nil, err
			}
			definedGlobals = int(n)
		}
	}
	g := uint32(mi.importedGlobals + definedGlobals)
	ck := checks{fuel: g, stop: g + 1, stack: g + 2, slow: uint32(mi.importedFuncs + len(mi.funcTypes))}

	out := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	for _, s := range mi.sections {
		p := s.payload
		switch s.id {
		case secType:
			var extra []byte
			for _, t := range newTypes {
				extra = t.encode(extra)
			}
			p, err = appendToVector(p, len(newTypes), extra)
		case secFunction:
			p, err = appendToVector(p, 1, appendULEB(nil, uint64(slowType)))
		case secGlobal:
			var extra []byte
			for _, init := range []int64{1 << 30, 0, 1 << 20} {
				extra = appendSLEB(append(extra, i32, 1, opI32Const), init)
				extra = append(extra, opEnd)
			}
			p, err = appendToVector(p, 3, extra)
		case secCode:
			p = appendULEB(nil, uint64(len(mi.bodies)+1))
			for i, b := range mi.bodies {
				bt := []byte{blockVoid}
				if res := mi.typeResults[mi.funcTypes[i]]; len(res) == 1 {
					bt = res
				} else if len(res) > 1 {
					bt = appendSLEB(nil, int64(multi[mi.funcTypes[i]]))
				}
				e := ck.body(b, bt)
				p = appendULEB(p, uint64(len(e)))
				p = append(p, e...)
			}
			p = append(p, 3, 0, opNop, opEnd) // $slow: size, no locals, nop, end
		}
		if err != nil {
			return nil, err
		}
		out = section(out, s.id, p)
	}
	return out, nil
}

// checks are the indices the added checks use.
type checks struct{ fuel, stop, stack, slow uint32 }

const (
	checkFuel  = 1  // W: fuel a check takes
	checkFrame = 64 // S: a frame estimate
)

func (ck checks) loopCheck(c code) code {
	c = c.globalGet(ck.fuel).i32(checkFuel).op(opI32Sub).globalSet(ck.fuel)
	c = c.globalGet(ck.fuel).globalGet(ck.stop).op(opI32Or).i32(0).op(opI32LtS)
	return c.op(opIf, blockVoid).call(ck.slow).op(opEnd)
}

func (ck checks) entryCheck(c code) code {
	c = c.globalGet(ck.fuel).i32(checkFuel).op(opI32Sub).globalSet(ck.fuel)
	c = c.globalGet(ck.stack).i32(checkFrame).op(opI32Sub).globalSet(ck.stack)
	c = c.globalGet(ck.fuel).globalGet(ck.stop).op(opI32Or).globalGet(ck.stack).op(opI32Or).i32(0).op(opI32LtS)
	return c.op(opIf, blockVoid).call(ck.slow).op(opEnd)
}

// body returns the code entry (without its size) of b with the checks.
func (ck checks) body(b body, blockType []byte) []byte {
	c := code(append([]byte(nil), b.locals...))
	c = ck.entryCheck(c)
	c = append(c, opBlock)
	c = append(c, blockType...)
	last := 0
	for _, at := range b.stats.loopEnds {
		c = append(c, b.expr[last:at]...)
		c = ck.loopCheck(c)
		last = at
	}
	c = append(c, b.expr[last:len(b.expr)-1]...) // without the final end
	c = c.op(opEnd).globalGet(ck.stack).i32(checkFrame).op(opI32Add).globalSet(ck.stack)
	return c.op(opEnd)
}

// appendToVector adds n encoded entries to a section that is one vector.
func appendToVector(payload []byte, n int, entries []byte) ([]byte, error) {
	r := &reader{b: payload}
	count, err := r.u32()
	if err != nil {
		return nil, err
	}
	p := appendULEB(nil, uint64(count)+uint64(n))
	p = append(p, payload[r.pos:]...)
	return append(p, entries...), nil
}

// sectionRank orders the non-custom sections as the binary format
// requires (the tag section sits between memory and global, data count
// between element and code).
var sectionRank = [...]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}

func insertSection(ss []sectionBytes, s sectionBytes) []sectionBytes {
	at := len(ss)
	for i, t := range ss {
		if t.id != secCustom && int(t.id) < len(sectionRank) && sectionRank[t.id] > sectionRank[s.id] {
			at = i
			break
		}
	}
	ss = append(ss, sectionBytes{})
	copy(ss[at+1:], ss[at:])
	ss[at] = s
	return ss
}
