package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/internal/safetext"
)

// InspectCommand returns the `wasmreg inspect` command: what a factory
// module is, without building a model.
func InspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "show a factory module's metadata, exports, imports and digest",
		ArgsUsage: "FILE.wasm|NAME[@VERSION]",
		Description: "Loads the module (which runs its metadata export once, never wasmreg_build) and shows\n" +
			"its ABI version, name, version, description, config schema, the capabilities it needs,\n" +
			"its exported and imported functions, its size and its sha256 (lowercase hex, as\n" +
			"sha256sum prints it). Nothing is granted for inspection: a module that uses a capability\n" +
			"in its start code fails. A NAME is looked up in --dir. Text a module chose is shown with\n" +
			"control, C1 and bidi characters escaped (\\xNN, \\uNNNN; in --json, as JSON escapes).\n\n" +
			"Examples:\n" +
			"   wasmreg inspect model.wasm\n" +
			"   wasmreg inspect model.wasm --json | jq .sha256\n" +
			"   wasmreg inspect mlp@1.0.0 --dir build/factories" + globalNote,
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: flagJSON, Usage: "write one JSON object instead of text"},
		}, loadLimitFlags()...),
		Action:          inspectAction,
		OnUsageError:    onUsageError,
		HideHelpCommand: true,
	}
}

// inspection is what `wasmreg inspect --json` writes.
type inspection struct {
	File         string          `json:"file"`
	Name         string          `json:"name"`
	Version      string          `json:"version"`
	Description  string          `json:"description"`
	ABIVersion   int             `json:"abi_version"`
	Capabilities []string        `json:"capabilities"`
	ConfigSchema json.RawMessage `json:"config_schema"`
	Exports      []string        `json:"exports"`
	Imports      []string        `json:"imports"`
	Size         int             `json:"size"`
	SHA256       string          `json:"sha256"`
}

func inspectAction(cCtx *cli.Context) error {
	if cCtx.NArg() != 1 {
		return usageErrorf("inspect takes one FILE.wasm argument, got %d (see 'wasmreg inspect --help')", cCtx.NArg())
	}
	mod, err := findModule(cCtx, moduleRequest{arg: cCtx.Args().First()})
	if err != nil {
		return err
	}
	path := mod.path
	h, err := newInspectionHost(cCtx, mod.pin.options()...)
	if err != nil {
		return err
	}
	defer closeHost(cCtx, h)
	f, err := h.Load(cCtx.Context, mod.wasm)
	if errors.Is(err, host.ErrDigestMismatch) {
		return mod.pin.refusal(err, path, mod.wasm)
	}
	if err != nil {
		return fmt.Errorf("inspect %s: %w (run 'wasmreg validate %s' for every problem)", path, err, path)
	}
	info := f.Info()
	in := inspection{
		File:         path,
		Name:         info.Name,
		Version:      info.Version,
		Description:  info.Description,
		ABIVersion:   host.ABIVersion, // Load refuses every other version
		Capabilities: info.Capabilities,
		ConfigSchema: info.ConfigSchema,
		Exports:      f.Exports(),
		Imports:      importNames(f.Imports()),
		Size:         f.Size(),
		SHA256:       f.Digest(),
	}
	if in.Imports == nil {
		in.Imports = []string{}
	}
	if cCtx.Bool(flagJSON) {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetIndent("", "  ")
		if err := enc.Encode(in); err != nil {
			return err
		}
		// Lossless: the escapes decode to what the module chose.
		_, err := cCtx.App.Writer.Write(safetext.JSON(b.Bytes()))
		return err
	}
	return writeInspection(cCtx.App.Writer, in)
}

func writeInspection(w io.Writer, in inspection) error {
	var b strings.Builder
	field := func(name, value string) { fmt.Fprintf(&b, "%-14s%s\n", name+":", value) }
	list := func(name string, items []string) {
		if len(items) == 0 {
			field(name, "none")
			return
		}
		fmt.Fprintf(&b, "%s (%d):\n", name, len(items))
		for _, it := range items {
			fmt.Fprintf(&b, "  %s\n", shown(it))
		}
	}
	field("file", safetext.Line(in.File, maxLineShown))
	field("name", shown(in.Name))
	field("version", shown(in.Version))
	field("description", cell(in.Description))
	field("abi version", fmt.Sprint(in.ABIVersion))
	caps := strings.Join(in.Capabilities, ", ")
	if caps == "" {
		caps = "none"
	}
	field("capabilities", caps)
	field("size", fmt.Sprintf("%d bytes (%s)", in.Size, formatSize(in.Size)))
	field("sha256", in.SHA256)
	list("exports", in.Exports)
	list("imports", in.Imports)
	if len(in.ConfigSchema) == 0 {
		field("config schema", "none")
	} else {
		var pretty bytes.Buffer
		schema := ""
		if err := json.Indent(&pretty, in.ConfigSchema, "  ", "  "); err == nil {
			schema = string(safetext.JSON(pretty.Bytes()))
		} else {
			schema = safetext.Line(string(in.ConfigSchema), maxTextShown)
		}
		fmt.Fprintf(&b, "config schema:\n  %s\n", schema)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// importNames returns the imports as "module.name".
func importNames(imports []host.Import) []string {
	out := make([]string, len(imports))
	for i, imp := range imports {
		out[i] = imp.String()
	}
	return out
}
