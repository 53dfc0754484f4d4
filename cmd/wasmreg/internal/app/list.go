package app

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/wasmreg/wasmreg/internal/safetext"
)

// ListCommand returns the `wasmreg list` command: a table of the factories
// in --dir.
func ListCommand() *cli.Command {
	return &cli.Command{
		Name:      "list",
		Aliases:   []string{"ls"},
		Usage:     "list the factories in the factories directory",
		ArgsUsage: " ",
		Description: "Loads every *.wasm file of --dir (default " + DefaultDir + ", or $WASMREG_DIR) and lists the\n" +
			"factories by name and version. Modules that do not load are reported on standard\n" +
			"error and skipped; the exit status is non-zero only if the directory cannot be read.\n" +
			"Nothing is granted for listing: a module's start code runs with no capability, and\n" +
			"one that uses a capability there is skipped; CAPABILITIES shows what each factory needs.\n" +
			"Only regular files are read (no symbolic links, pipes or devices), each checked against\n" +
			"--module-size-limit and the directory's " + LockFile + " before it is compiled.\n\n" +
			"Examples:\n" +
			"   wasmreg list\n" +
			"   wasmreg list --dir build/factories" + globalNote,
		Flags:           loadLimitFlags(),
		Action:          listAction,
		OnUsageError:    onUsageError,
		HideHelpCommand: true,
	}
}

func listAction(cCtx *cli.Context) error {
	if cCtx.Args().Present() {
		return usageErrorf("list takes no arguments, got %q; use --dir DIR to list another directory (see 'wasmreg list --help')",
			cCtx.Args().First())
	}
	scan, err := scanFlags(cCtx)
	if err != nil {
		return err
	}
	c, err := scanDir(cCtx, cCtx.String(flagDir), scan)
	if err != nil {
		return err
	}
	defer closeHost(cCtx, c.host)
	c.warnSkipped(cCtx)
	if len(c.loaded) == 0 {
		warnf(cCtx.App.ErrWriter, "no factories in %s", c.dir)
	}

	tw := tabwriter.NewWriter(cCtx.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tDESCRIPTION\tCAPABILITIES\tSIZE\tSHA256")
	for _, m := range c.loaded {
		f := m.factory
		info := f.Info()
		caps := strings.Join(info.Capabilities, ",")
		if caps == "" {
			caps = "-"
		}
		desc := cell(info.Description)
		if desc == "" {
			desc = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", shown(info.Name), shown(info.Version), desc, caps, formatSize(f.Size()), f.Digest())
	}
	return tw.Flush()
}

// cell makes guest-provided text safe for one table cell: no tabs, no line
// breaks (a space each, as the text is prose), no other control, C1 or bidi
// character.
func cell(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
	return safetext.Field(s, maxTextShown)
}

// formatSize formats a byte count for people: 512B, 1.5KiB, 12MiB.
func formatSize(n int) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	v, suffix := float64(n)/unit, "KiB"
	for _, s := range []string{"MiB", "GiB", "TiB"} {
		if v < unit {
			break
		}
		v, suffix = v/unit, s
	}
	if v < 10 {
		return fmt.Sprintf("%.1f%s", v, suffix)
	}
	return fmt.Sprintf("%.0f%s", v, suffix)
}
