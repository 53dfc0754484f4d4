package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/wasmreg/wasmreg/host/internal/wasmbin"
)

// replicate returns wasm with its defined functions repeated copies times:
// each copy has the same type and body, so calls in the copies still reach
// the originals and the module stays valid. It shows how compile time
// scales with module size for one compiler's code (a Go guest's, say).
func replicate(wasm []byte, copies int) ([]byte, error) {
	m, err := wasmbin.Decode(wasm, noLimits)
	if err != nil {
		return nil, err
	}
	out := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	for _, s := range m.Sections {
		p := s.Payload
		switch s.ID {
		case wasmbin.SecFunction:
			p = wasmbin.AppendU32(nil, uint32(len(m.Functions)*copies))
			for range copies {
				for _, t := range m.Functions {
					p = wasmbin.AppendU32(p, t)
				}
			}
		case wasmbin.SecCode:
			p = wasmbin.AppendU32(nil, uint32(len(m.Code)*copies))
			for range copies {
				for _, c := range m.Code {
					p = append(p, m.Bytes[c.Offset:c.Offset+c.SizeWidth+len(c.Body)]...)
				}
			}
		case wasmbin.SecCustom:
			continue // names and debug info would describe only the first copy
		}
		out = wasmbin.AppendSection(out, s.ID, p)
	}
	return out, nil
}

// scaleRow is one replicated module's compile.
type scaleRow struct {
	File    string `json:"file"`
	Copies  int    `json:"copies"`
	Checked bool   `json:"checked"`
	result
}

func scaleMode(o options, files []string, stdout, stderr io.Writer) ([]scaleRow, error) {
	var copies []int
	for _, f := range strings.Split(o.copies, ",") {
		k, err := strconv.Atoi(f)
		if err != nil || k < 1 {
			return nil, fmt.Errorf("-copies: %q is not a positive count", f)
		}
		copies = append(copies, k)
	}
	var rows []scaleRow
	fmt.Fprintln(stdout, "| module | copies | checks | module MiB | compile CPU s | s per MiB | peak RSS MiB | peak heap MiB | status |")
	fmt.Fprintln(stdout, "|---|--:|---|--:|--:|--:|--:|--:|---|")
	for _, f := range files {
		wasm, err := os.ReadFile(f)
		if err != nil {
			return rows, err
		}
		for _, k := range copies {
			rep, err := replicate(wasm, k)
			if err != nil {
				return rows, fmt.Errorf("%s: %w", f, err)
			}
			for _, checked := range []bool{false, true} {
				m := rep
				if checked {
					if m, err = instrument(rep); err != nil {
						return rows, fmt.Errorf("%s: %w", f, err)
					}
				}
				r, err := measure(m, o.budget)
				if err != nil {
					return rows, err
				}
				fmt.Fprintf(stderr, "%s x%d checked=%v: %.3fs\n", f, k, checked, r.CPUSec)
				rows = append(rows, scaleRow{f, k, checked, r})
				mib := float64(r.Bytes) / (1 << 20)
				fmt.Fprintf(stdout, "| %s | %d | %s | %.1f | %.2f | %.2f | %.0f | %.0f | %s |\n", filepath.Base(f), k,
					map[bool]string{false: "raw", true: "checked"}[checked], mib, r.CPUSec, r.CPUSec/mib,
					r.MaxRSSMiB, r.PeakHeapMiB, r.status())
				if r.failed() {
					return rows, nil
				}
			}
		}
	}
	return rows, nil
}
