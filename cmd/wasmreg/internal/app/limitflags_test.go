package app

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every option a *host.LimitError can name has a flag: the test reads the
// host's sources for the Option fields of its LimitErrors, so a new limit
// without a flag fails here rather than printing "host.WithX" to a user.
func TestLimitOptionsHaveFlags(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "..", "host", "*.go"))
	require.NoError(t, err)
	option := regexp.MustCompile(`LimitError\{Kind: [A-Za-z]+, Option: "(With[A-Za-z]+)"`)
	var options []string
	for _, file := range files {
		if filepath.Ext(file) != ".go" || regexp.MustCompile(`_test\.go$`).MatchString(file) {
			continue
		}
		src, err := os.ReadFile(file)
		require.NoError(t, err)
		for _, m := range option.FindAllSubmatch(src, -1) {
			if o := string(m[1]); !slices.Contains(options, o) {
				options = append(options, o)
			}
		}
	}
	// The sites known when this test was written: the grep must see them.
	for _, want := range []string{"WithMemoryLimit", "WithModuleLimits", "WithTableLimit", "WithModuleSizeLimit",
		"WithInputLimit", "WithOutputLimit", "WithCallTimeout", "WithStackLimit", "WithCompileTimeout",
		"WithMaxInstances", "WithMemoryBudget"} {
		assert.Contains(t, options, want, "the host's sources no longer spell the LimitError as this test reads it")
	}
	for _, o := range options {
		t.Run(o, func(t *testing.T) {
			if o == "WithModuleLimits" {
				return // its Field names the --module-limit key
			}
			_, ok := optionFlag(o)
			assert.True(t, ok, "host option %s raises a limit but has no flag in optionFlags", o)
		})
	}
}
