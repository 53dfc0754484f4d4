package app

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
)

// CheckArgs checks the flags of args, as [ReorderArgs] returns them (the
// program name, global flags, the command name, its flags, then positional
// arguments), and the environment variables that set flags (lookupEnv is
// os.LookupEnv), before urfave/cli parses them, so that a mistake gets an
// error that says what to type instead of the flag package's own: an
// unknown flag is named with two dashes along with the nearest known one
// (--confg: did you mean --config?), and a value a flag cannot take says
// what it takes (--timeout 5: a duration needs a unit, such as 5s). Every
// error is a usage error that points at the command's help.
func CheckArgs(app *cli.App, args []string, lookupEnv func(string) (string, bool)) error {
	if len(args) < 2 {
		return nil
	}
	global := flagsByName(app.Flags)
	global["v"], global["version"] = &cli.BoolFlag{Name: "version"}, &cli.BoolFlag{Name: "version"} // added by cli.App.Setup
	rest := args[1:]
	i, err := checkFlags(rest, global, nil, "wasmreg", nil)
	if err != nil {
		return err
	}
	var cmd *cli.Command
	if i < len(rest) && rest[i] != "--" {
		cmd = app.Command(rest[i])
	}
	if err := checkEnv(app.Flags, "wasmreg", lookupEnv); err != nil {
		return err
	}
	if cmd == nil {
		return nil // urfave/cli, or rootAction, reports an unknown command
	}
	where := "wasmreg " + cmd.Name
	if _, err := checkFlags(rest[i+1:], flagsByName(cmd.Flags), global, where, commandsWith(app)); err != nil {
		return err
	}
	return checkEnv(cmd.Flags, where, lookupEnv)
}

// flagsByName maps every name and alias of flags, and the help flag that
// urfave/cli adds, to its flag.
func flagsByName(flags []cli.Flag) map[string]cli.Flag {
	byName := map[string]cli.Flag{"h": cli.HelpFlag, "help": cli.HelpFlag}
	for _, f := range flags {
		for _, n := range f.Names() {
			byName[n] = f
		}
	}
	return byName
}

// checkFlags checks the flags at the start of args, each one of own's (or,
// for a command's flags, also of global's: ReorderArgs leaves none there,
// but the help is explicit), and returns the index of the first argument
// that is not a flag.
func checkFlags(args []string, own, global map[string]cli.Flag, where string, others func(string) []string) (int, error) {
	i := 0
	for i < len(args) && isFlagArg(args[i]) {
		a := args[i]
		name := flagName(a)
		f, ok := own[name]
		if !ok {
			f, ok = global[name]
		}
		if !ok {
			return i, unknownFlagError(a, where, own, global, others)
		}
		_, value, hasValue := strings.Cut(a, "=")
		takesValue := true
		if tv, ok := f.(interface{ TakesValue() bool }); ok {
			takesValue = tv.TakesValue()
		}
		i++
		if takesValue && !hasValue {
			if i == len(args) {
				return i, nil // urfave/cli says that it needs a value
			}
			value, hasValue = args[i], true
			i++
		}
		if hasValue {
			if msg := badValue(f, value); msg != "" {
				return i, usageErrorf("%s %s: %s (see '%s --help')", dashed(name), safeValue(value), msg, where)
			}
		}
	}
	return i, nil
}

// checkEnv checks the environment variables that set flags.
func checkEnv(flags []cli.Flag, where string, lookupEnv func(string) (string, bool)) error {
	for _, f := range flags {
		ev, ok := f.(interface{ GetEnvVars() []string })
		if !ok {
			continue
		}
		for _, name := range ev.GetEnvVars() {
			value, set := lookupEnv(name)
			if !set || value == "" {
				continue
			}
			if msg := badValue(f, value); msg != "" {
				return usageErrorf("%s=%s (sets %s): %s (see '%s --help')", name, safeValue(value), dashed(f.Names()[0]), msg, where)
			}
		}
	}
	return nil
}

// badValue says why f cannot take value, or returns "".
func badValue(f cli.Flag, value string) string {
	switch f.(type) {
	case *cli.DurationFlag:
		if _, err := time.ParseDuration(value); err == nil {
			return ""
		}
		if n, err := strconv.ParseFloat(value, 64); err == nil {
			return fmt.Sprintf("a duration needs a unit, such as %ss or %sms (units: ns, us, ms, s, m, h)",
				strconv.FormatFloat(n, 'f', -1, 64), strconv.FormatFloat(n, 'f', -1, 64))
		}
		return "not a duration; write a number and a unit, such as 30s, 1m30s or 500ms"
	case *cli.IntFlag, *cli.Int64Flag:
		if _, err := strconv.ParseInt(value, 0, 64); err != nil {
			return "not an integer"
		}
	case *cli.UintFlag, *cli.Uint64Flag:
		if _, err := strconv.ParseUint(value, 0, 64); err != nil {
			return "not a non-negative integer"
		}
	case *cli.BoolFlag:
		if _, err := strconv.ParseBool(value); err != nil {
			return "not true or false"
		}
	}
	return ""
}

// safeValue writes a value typed on the command line for an error: as it
// is if it is plain, else quoted, and cut short if long.
func safeValue(v string) string {
	if len(v) > 40 {
		v = v[:40] + "…"
	}
	if v == "" || strings.ContainsAny(v, " '\"") {
		return strconv.Quote(v)
	}
	return safeFlag(v)
}

// dashed writes a flag's name as it is typed: --name, or -x for a
// one-letter alias.
func dashed(name string) string {
	if len([]rune(name)) == 1 {
		return "-" + name
	}
	return "--" + name
}

// unknownFlagError says that a names no flag of where, and suggests the
// nearest flag it may have meant.
func unknownFlagError(a, where string, own, global map[string]cli.Flag, others func(string) []string) error {
	name := flagName(a)
	shown := dashed(name)
	if len(name) > 40 {
		shown = dashed(name[:40] + "…")
	}
	if others != nil {
		if cmds := others(name); len(cmds) > 0 {
			return usageErrorf("unknown flag %s: %s is a flag of %s, not of '%s' (see '%s --help')",
				safeFlag(shown), dashed(name), strings.Join(cmds, ", "), where, where)
		}
	}
	if s := suggestFlags(name, own, global); len(s) > 0 {
		for i := range s {
			s[i] = dashed(s[i])
		}
		return usageErrorf("unknown flag %s: did you mean %s? (see '%s --help')", safeFlag(shown), strings.Join(s, " or "), where)
	}
	return usageErrorf("unknown flag %s (see '%s --help')", safeFlag(shown), where)
}

// commandsWith returns a function that lists the commands of app that
// have a visible flag named name.
func commandsWith(app *cli.App) func(string) []string {
	return func(name string) []string {
		var cmds []string
		for _, c := range app.Commands {
			if f, ok := flagsByName(c.Flags)[name]; ok && f != cli.HelpFlag && !isHidden(f) {
				cmds = append(cmds, c.Name)
			}
		}
		return cmds
	}
}

// safeFlag keeps what a user typed printable.
func safeFlag(s string) string {
	q := strconv.Quote(s)
	if q[1:len(q)-1] == s {
		return s
	}
	return q
}

// suggestFlags returns the names of the known flags nearest to name (at
// most three, sorted), or none if none is near enough to be what the user
// meant.
func suggestFlags(name string, own, global map[string]cli.Flag) []string {
	var names []string
	for _, m := range []map[string]cli.Flag{own, global} {
		for n, f := range m {
			if len(n) > 1 && !isHidden(f) {
				names = append(names, n)
			}
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	var best []string
	bestDist := min(3, 1+len(name)/4) // the farthest a suggestion may be
	for _, n := range names {
		d := editDistance(strings.ToLower(name), n)
		if strings.HasPrefix(n, name) && len(name) >= 3 {
			d = min(d, 1) // a prefix: --memory for --memory-limit
		}
		switch {
		case d < bestDist:
			best, bestDist = []string{n}, d
		case d == bestDist:
			best = append(best, n)
		}
	}
	if len(best) > 3 {
		return nil // too many to be a suggestion
	}
	return best
}

// isHidden reports whether f is hidden from the help.
func isHidden(f cli.Flag) bool {
	v, ok := f.(cli.VisibleFlag)
	return ok && !v.IsVisible()
}

// editDistance is the Damerau–Levenshtein distance (with adjacent
// transpositions) between a and b.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
