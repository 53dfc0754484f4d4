//go:build unix

package main_test

// Every documented example runs: the Examples: blocks of every command's
// --help, and the shell blocks of README.md, docs/*.md, the guest SDKs'
// READMEs and the examples' (examples/*/README.md,
// examples/factories/*/README.md). They are collected mechanically, so that a new example cannot
// slip by untested: a help line, a ```sh or ```bash block (one script), a
// ```console block ("$ " lines are commands, the others output that must
// appear). Every fenced block of those files must say its language, so
// that a block of commands is not left untagged, and so unrun. An example
// that this test does not run is listed in coveredElsewhere with the test
// or target that does, and a line of a block that it drops in droppedLines,
// each with why; both lists must match an example, so that they stay in
// sync with the docs.
//
// The examples run as a user runs them from the repository root, each
// document's in order (a block may use what an earlier one made) and the
// documents side by side, each in a sandbox directory of its own that holds a copy of build/factories, the binary under
// test as build/bin/wasmreg and first on PATH, grpcurl where make deps puts
// it, the module (go.mod and its packages, read only, so that go build,
// go test and go run work as from the root), copies of examples/ and of the
// guest SDKs, and
// the files the help's examples name (model.wasm, requests.txt, ...). Ports
// and /tmp/ are rewritten to the test's own: 127.0.0.1:5000 to a real
// registry started for the test (or a fresh port for a block that starts
// its own), 8080 and 8081 to free ports ($PORT and WASMREG_GRPC_ADDR for a
// serve without flags). bench runs 300ms instead of its --duration. A
// foreground `wasmreg serve` runs until it is ready, then is stopped with
// SIGTERM and must exit 0. Each block, and each command's first help
// example, starts with build/factories unlocked, as make examples leaves it.
// A sh block must exit 0; a console block must print its output lines (up
// to a "…"), whatever its exit status.

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/internal/oci/ocitest"
)

// repoRoot is the repository root, from this package's directory.
var repoRoot = filepath.Join("..", "..")

// docFiles are the documents whose shell blocks are examples.
var docFiles = []string{"README.md", "docs/*.md", "guest-sdk/*/README.md", "examples/*/README.md", "examples/factories/*/README.md"}

// docDirs are the directories, under the sandbox, that a document's blocks
// run in, where it is not the repository root: the document says so.
var docDirs = map[string]string{
	"guest-sdk/go/README.md": "guest-sdk/go",
}

// coveredElsewhere maps a text that an example contains to the test or
// target that runs it, for the examples that cannot run here.
var coveredElsewhere = map[string]string{
	"make demo   #":             "make demo runs build/bin/wasmreg run, which 'wasmreg run' of wasmreg --help runs here; make test runs this test",
	"make image":                "the image and its podman run are deploy's TestImage and TestKubePlay",
	"kubectl apply":             "the Kubernetes manifests are checked offline by deploy's TestKubernetesManifests and run by TestKubePlay",
	"apt-get install rustc":     "make deps installs these packages: TestExampleAptPackages checks that APT_PACKAGES lists each",
	"go test -run '^$' -bench ": "benchmarks are not run in a test: TestExampleBenchmarks checks that each names benchmarks that exist",
	"make bench-serve":          "the serving benchmarks run for minutes: bench/serve's TestSmoke and TestServeCLI run every case of them briefly",
}

// droppedLines maps a line that a block's script starts with to why it is
// not run; the rest of the block runs.
var droppedLines = map[string]string{
	"make examples wasmreg": "the sandbox is what make examples wasmreg built, before the test",
	"npm ci ":               "make deps runs npm ci in guest-sdk/assemblyscript (no registry in a test); the sandbox links its node_modules",
}

// example is one documented example.
type example struct {
	source  string   // where it is: "wasmreg run --help", "docs/SERVE.md:384"
	doc     string   // the document, for a block
	console bool     // a console block: output lines are checked
	fresh   bool     // the first of its command's help, or a block: build/factories starts unlocked
	script  string   // the shell text
	outputs []string // of a console block: lines that must appear
}

func TestEveryExampleRuns(t *testing.T) {
	examples := append(helpExamples(t), docExamples(t)...)
	require.NotEmpty(t, examples)

	usedCovered, usedDropped := map[string]bool{}, map[string]bool{}
	var toRun []example
	for _, ex := range examples {
		covered := ""
		for key := range coveredElsewhere {
			if strings.Contains(ex.script, key) {
				require.Empty(t, covered, "%s: matched by two entries of coveredElsewhere", ex.source)
				covered = key
			}
		}
		if covered != "" {
			usedCovered[covered] = true
			continue
		}
		var lines []string
		for _, line := range strings.Split(ex.script, "\n") {
			dropped := false
			for key := range droppedLines {
				if strings.HasPrefix(strings.TrimSpace(line), key) {
					usedDropped[key], dropped = true, true
				}
			}
			if !dropped {
				lines = append(lines, line)
			}
		}
		ex.script = strings.Join(lines, "\n")
		toRun = append(toRun, ex)
	}
	for key := range coveredElsewhere {
		assert.True(t, usedCovered[key], "coveredElsewhere entry %q matches no example: remove it", key)
	}
	for key := range droppedLines {
		assert.True(t, usedDropped[key], "droppedLines entry %q matches no example: remove it", key)
	}

	// Each document's examples, and the help's, run in order in a sandbox
	// of their own (a block may use what an earlier one made), and the
	// groups side by side.
	var groups []string
	byGroup := map[string][]example{}
	for _, ex := range toRun {
		g := ex.doc
		if g == "" {
			g = "help"
		}
		if _, ok := byGroup[g]; !ok {
			groups = append(groups, g)
		}
		byGroup[g] = append(byGroup[g], ex)
	}
	for _, g := range groups {
		t.Run(g, func(t *testing.T) {
			t.Parallel()
			sb := newSandbox(t)
			for _, ex := range byGroup[g] {
				t.Run(ex.source, func(t *testing.T) { sb.run(t, ex) })
			}
		})
	}
}

// helpExamples returns the lines of the Examples: block of wasmreg --help
// and of every command's --help.
func helpExamples(t *testing.T) []example {
	t.Helper()
	r := wasmreg(t, "", "--help")
	require.Equal(t, 0, r.status, r.stderr)
	var commands []string
	inCommands := false
	for _, line := range strings.Split(r.stdout, "\n") {
		switch {
		case strings.HasPrefix(line, "COMMANDS:"):
			inCommands = true
		case inCommands && strings.HasPrefix(line, "   "):
			name := strings.TrimSuffix(strings.Fields(line)[0], ",")
			if name != "help" {
				commands = append(commands, name)
			}
		case inCommands:
			inCommands = false
		}
	}
	require.Contains(t, commands, "run", "the commands of wasmreg --help: %s", r.stdout)
	examples := helpBlock(t, "wasmreg --help", r.stdout)
	for _, c := range commands {
		r := wasmreg(t, "", c, "--help")
		require.Equal(t, 0, r.status, r.stderr)
		ex := helpBlock(t, "wasmreg "+c+" --help", r.stdout)
		assert.NotEmpty(t, ex, "wasmreg %s --help has examples", c)
		examples = append(examples, ex...)
	}
	return examples
}

// helpBlock returns the examples of one help text: the lines after
// "Examples:" that are indented further, a line ending in "\" continued
// by the next.
func helpBlock(t *testing.T, source, help string) []example {
	t.Helper()
	var examples []example
	lines := strings.Split(help, "\n")
	for i, line := range lines {
		if strings.TrimSpace(line) != "Examples:" {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		var cur string
		for _, l := range lines[i+1:] {
			if len(l)-len(strings.TrimLeft(l, " ")) <= indent || strings.TrimSpace(l) == "" {
				break
			}
			cur += strings.TrimSpace(l)
			if strings.HasSuffix(cur, `\`) {
				cur = strings.TrimSuffix(cur, `\`) + " "
				continue
			}
			examples = append(examples, example{source: fmt.Sprintf("%s #%d", source, len(examples)+1), script: cur, fresh: len(examples) == 0})
			cur = ""
		}
	}
	return examples
}

var fence = regexp.MustCompile("^ *```(.*)$")

// docExamples returns the shell and console blocks of docFiles, and fails
// for a fenced block without a language.
func docExamples(t *testing.T) []example {
	t.Helper()
	var files []string
	for _, pattern := range docFiles {
		m, err := filepath.Glob(filepath.Join(repoRoot, pattern))
		require.NoError(t, err)
		require.NotEmpty(t, m, pattern)
		files = append(files, m...)
	}
	var examples []example
	for _, path := range files {
		rel, err := filepath.Rel(repoRoot, path)
		require.NoError(t, err)
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		lines := strings.Split(string(b), "\n")
		for i := 0; i < len(lines); i++ {
			m := fence.FindStringSubmatch(lines[i])
			if m == nil {
				continue
			}
			lang, start := strings.TrimSpace(m[1]), i+1
			var body []string
			for i++; i < len(lines) && !fence.MatchString(lines[i]); i++ {
				body = append(body, lines[i])
			}
			source := fmt.Sprintf("%s:%d", rel, start)
			switch lang {
			case "":
				t.Errorf("%s: a fenced block without a language: tag it sh (it is run) or text", source)
			case "sh", "bash", "shell":
				examples = append(examples, example{source: source, doc: rel, fresh: true, script: strings.Join(body, "\n")})
			case "console":
				ex := example{source: source, doc: rel, console: true, fresh: true}
				var cmds []string
				for _, l := range body {
					// A command ending in a pipe or a backslash goes on.
					continued := len(cmds) > 0 && (strings.HasSuffix(cmds[len(cmds)-1], "|") || strings.HasSuffix(cmds[len(cmds)-1], `\`))
					if c, ok := strings.CutPrefix(l, "$ "); ok {
						cmds = append(cmds, c)
					} else if continued {
						cmds[len(cmds)-1] += "\n" + l
					} else if o := strings.TrimSpace(l); o != "" && !strings.HasPrefix(o, "...") {
						ex.outputs = append(ex.outputs, o)
					}
				}
				ex.script = strings.Join(cmds, "\n")
				examples = append(examples, ex)
			}
		}
	}
	return examples
}

// sandbox is the directory the examples run in.
type sandbox struct {
	dir      string
	registry string // host:port of the registry the examples use
	env      []string
}

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	// The commands the examples use besides wasmreg, installed by make deps.
	for _, tool := range []string{"bash", "curl", "jq", "sha256sum", "docker-registry", "npx", "/usr/bin/cargo"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing: run make deps (%v)", tool, err)
		}
	}
	dir := t.TempDir()
	root, err := filepath.Abs(repoRoot)
	require.NoError(t, err)
	sb := &sandbox{dir: dir}

	// build/: copies of the factories, the binary under test, grpcurl.
	factories := filepath.Join(root, "build", "factories")
	wasms, err := filepath.Glob(filepath.Join(factories, "*.wasm"))
	require.NoError(t, err)
	if len(wasms) == 0 {
		t.Fatalf("no factories in %s: run make examples", factories)
	}
	for _, w := range wasms {
		copyFile(t, w, filepath.Join(dir, "build", "factories", filepath.Base(w)))
	}
	bin := filepath.Join(dir, "build", "bin")
	require.NoError(t, os.MkdirAll(bin, 0o755))
	require.NoError(t, os.Symlink(binary, filepath.Join(bin, "wasmreg")))
	grpcurl := tool(t, "grpcurl", "v1.9.4")
	rel, err := filepath.Rel(root, grpcurl)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o755))
	require.NoError(t, os.Symlink(grpcurl, filepath.Join(dir, rel)))

	// The module's packages, read only, for the examples that build or
	// test them with go; the examples, which retrain and refit into their
	// own directories, and the SDKs, which builds write into.
	copyFile(t, filepath.Join(root, "go.mod"), filepath.Join(dir, "go.mod"))
	copyFile(t, filepath.Join(root, "go.sum"), filepath.Join(dir, "go.sum"))
	for _, d := range []string{"serve", "host", "registry", "di", "internal", "cmd", "bench"} {
		require.NoError(t, os.Symlink(filepath.Join(root, d), filepath.Join(dir, d)))
	}
	copyTree(t, filepath.Join(root, "examples"), filepath.Join(dir, "examples"), nil)
	copyTree(t, filepath.Join(root, "guest-sdk"), filepath.Join(dir, "guest-sdk"), map[string]bool{"node_modules": true, "target": true})
	require.NoError(t, os.Symlink(filepath.Join(root, "guest-sdk", "assemblyscript", "node_modules"),
		filepath.Join(dir, "guest-sdk", "assemblyscript", "node_modules")))

	// What the help's examples name.
	copyFile(t, filepath.Join(factories, "echo.wasm"), filepath.Join(dir, "model.wasm"))
	copyFile(t, filepath.Join(factories, "echo.wasm"), filepath.Join(dir, "echo.wasm"))
	copyFile(t, filepath.Join(factories, "scale.wasm"), filepath.Join(dir, "scale.wasm"))
	copyFile(t, filepath.Join(factories, "scale.wasm"), filepath.Join(dir, "my-factory.wasm"))
	copyFile(t, filepath.Join(root, "examples", "digits", "digits.weights"), filepath.Join(dir, "w.bin"))
	copyFile(t, filepath.Join(root, "examples", "factories", "linear", "testdata", "iris_softmax.json"), filepath.Join(dir, "iris.json"))
	digit := firstDigit(t, filepath.Join(root, "examples", "digits", "heldout.csv"))
	writeFile(t, filepath.Join(dir, "requests.txt"), digit+"\n"+digit+"\n")
	writeFile(t, filepath.Join(dir, "mlp.json"), `{"weights":"weights"}`)
	writeFile(t, filepath.Join(dir, "models.yaml"), "models:\n  - {name: scale, factory: build/factories/scale.wasm, config: {factor: 2}}\n")
	selfSigned(t, dir)
	require.NoError(t, os.Mkdir(filepath.Join(dir, "tmp"), 0o755))

	// A registry for the examples that push and pull, with the tag that
	// lock's example pins.
	reg := ocitest.Start(t)
	sb.registry = reg.Host
	r := wasmreg(t, "", "push", filepath.Join(factories, "echo.wasm"), "oci://"+reg.Host+"/factories/echo:v1")
	require.Equal(t, 0, r.status, r.stderr)

	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WASMREG_") && !strings.HasPrefix(kv, "PATH=") && !strings.HasPrefix(kv, "PORT=") {
			sb.env = append(sb.env, kv)
		}
	}
	sb.env = append(sb.env, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "WASMREG_CACHE_DIR="+cacheDir)
	return sb
}

// firstDigit returns the first held-out digit as a request: its 64 pixels.
func firstDigit(t *testing.T, csv string) string {
	t.Helper()
	f, err := os.Open(csv)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	require.True(t, sc.Scan())
	fields := strings.Split(sc.Text(), ",")
	require.GreaterOrEqual(t, len(fields), 64)
	return "[" + strings.Join(fields[:64], ",") + "]"
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(to), 0o755))
	require.NoError(t, os.WriteFile(to, b, 0o644))
}

// copyTree copies the regular files under from to to, but for the
// directories named in skip.
func copyTree(t *testing.T, from, to string, skip map[string]bool) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && skip[d.Name()] {
			return filepath.SkipDir
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		copyFile(t, path, filepath.Join(to, rel))
		return nil
	})
	require.NoError(t, err)
}

// freePort returns a port that nothing listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

var (
	goTool       = regexp.MustCompile(`(?m)(^|\s)go (build|test|run) `)
	durationFlag = regexp.MustCompile(`--duration[ =]\S+`)
	foreground   = regexp.MustCompile(`^(build/bin/)?wasmreg serve\b[^&]*$`)
)

// run runs one example in the sandbox.
func (sb *sandbox) run(t *testing.T, ex example) {
	rest, grpc := freePort(t), freePort(t)
	registry := sb.registry
	if strings.Contains(ex.script, "docker-registry serve") {
		registry = "127.0.0.1:" + freePort(t) // the block starts its own
	}
	script := strings.NewReplacer(
		"127.0.0.1:5000", registry,
		"127.0.0.1:8080", "127.0.0.1:"+rest,
		" :8080", " 127.0.0.1:"+rest,
		"127.0.0.1:8081", "127.0.0.1:"+grpc,
		"/tmp/", sb.dir+"/tmp/",
	).Replace(ex.script)
	script = durationFlag.ReplaceAllString(script, "--duration 300ms")
	script = strings.ReplaceAll(script, "wasmreg bench ", "wasmreg bench --duration 300ms ")

	dir := sb.dir
	if d, ok := docDirs[ex.doc]; ok {
		dir = filepath.Join(sb.dir, d)
	}
	env := append(slices.Clone(sb.env), "PORT="+rest, "WASMREG_GRPC_ADDR=127.0.0.1:"+grpc, "EXAMPLE_REST_PORT="+rest)
	timeout := 60 * time.Second
	if goTool.MatchString(script) {
		// A Go guest's build takes minutes under -race beside the other
		// packages on CI, as in the mlp and Go SDK tests.
		timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	script = serveLines(script)
	if ex.fresh {
		// As make examples leaves it: an earlier example may have locked it.
		require.NoError(t, removeIfExists(filepath.Join(sb.dir, "build", "factories", "wasmreg.lock")))
	}
	cmd := exec.CommandContext(ctx, "bash", "-c", servePrelude+"set -eo pipefail\n"+script)
	cmd.Dir, cmd.Env = dir, env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A file, not a pipe: what a block leaves in the background keeps
	// its output open, and Wait would wait for it.
	out, err := os.Create(filepath.Join(t.TempDir(), "out"))
	require.NoError(t, err)
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	require.NoError(t, cmd.Start())
	defer func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }() // what a block left in the background
	output := func() string { b, _ := os.ReadFile(out.Name()); return string(b) }

	err = cmd.Wait()
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if ex.console {
		for _, want := range ex.outputs {
			want = strings.TrimSuffix(strings.SplitN(want, "…", 2)[0], " ")
			assert.Contains(t, output(), want, "%s\n%s", script, output())
		}
		return
	}
	require.NoError(t, err, "%s\n%s", script, output())
}

// servePrelude defines serve_example: it waits until the server it was
// given the process of is ready (https with --tls-cert), stops it with
// SIGTERM and fails unless it exits 0.
const servePrelude = `serve_example() {
	local pid=$1 scheme=$2 i
	for i in $(seq 300); do
		if curl -skf "$scheme://127.0.0.1:$EXAMPLE_REST_PORT/v2/health/ready" >/dev/null; then
			kill -TERM "$pid"; wait "$pid"; return
		fi
		kill -0 "$pid" 2>/dev/null || { wait "$pid"; echo "the server exited before it was ready" >&2; return 1; }
		sleep 0.1
	done
	echo "the server did not get ready" >&2; return 1
}
`

var trailingComment = regexp.MustCompile(`\s+#[^'"]*$`)

// serveLines makes each line of script that runs wasmreg serve in the
// foreground, which would serve until stopped, run it in the background
// and stop it once it is ready (serve_example).
func serveLines(script string) string {
	lines := strings.Split(script, "\n")
	for i, l := range lines {
		cmd := trailingComment.ReplaceAllString(strings.TrimSpace(l), "")
		if !foreground.MatchString(cmd) || strings.HasSuffix(cmd, `\`) {
			continue
		}
		scheme := "http"
		if strings.Contains(cmd, "--tls-cert") {
			scheme = "https"
		}
		lines[i] = cmd + " & serve_example $! " + scheme
	}
	return strings.Join(lines, "\n")
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// examplesContaining returns the scripts of the documented examples that
// contain text.
func examplesContaining(t *testing.T, text string) []string {
	t.Helper()
	var scripts []string
	for _, ex := range docExamples(t) {
		if strings.Contains(ex.script, text) {
			scripts = append(scripts, ex.script)
		}
	}
	require.NotEmpty(t, scripts, "no example contains %q", text)
	return scripts
}

var benchLine = regexp.MustCompile(`go test -run '\^\$' -bench '([^']+)'.*?((?: \./\S+)+)\s*$`)

// TestExampleBenchmarks checks each documented go test -bench line: it
// names packages that exist, each of which declares a benchmark that its
// pattern matches.
func TestExampleBenchmarks(t *testing.T) {
	t.Parallel()
	for _, script := range examplesContaining(t, "go test -run '^$' -bench ") {
		for _, line := range strings.Split(script, "\n") {
			if !strings.HasPrefix(line, "go test ") {
				continue
			}
			// What a pipe feeds (benchratio) is not a benchmark package.
			line, _, _ = strings.Cut(line, " | ")
			m := benchLine.FindStringSubmatch(line)
			require.NotNil(t, m, "a benchmark line the test can read: %s", line)
			// -bench matches each level of a name by its own part of the
			// pattern, split at slashes: the first names the benchmark.
			top, _, _ := strings.Cut(m[1], "/")
			pattern := regexp.MustCompile(top)
			for _, pkg := range strings.Fields(m[2]) {
				files, err := filepath.Glob(filepath.Join(repoRoot, pkg, "*_test.go"))
				require.NoError(t, err)
				require.NotEmpty(t, files, "%s: package %s has tests", line, pkg)
				found := false
				decl := regexp.MustCompile(`(?m)^func (Benchmark\w*)\(b \*testing\.B\)`)
				for _, f := range files {
					b, err := os.ReadFile(f)
					require.NoError(t, err)
					for _, d := range decl.FindAllStringSubmatch(string(b), -1) {
						found = found || pattern.MatchString(d[1])
					}
				}
				assert.True(t, found, "%s: no benchmark of %s matches %q", line, pkg, m[1])
			}
		}
	}
}

// TestExampleAptPackages checks that every package a documented apt-get
// install line names is one that make deps installs: the Makefile's
// APT_PACKAGES.
func TestExampleAptPackages(t *testing.T) {
	t.Parallel()
	mk, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^APT_PACKAGES := (.*)$`).FindSubmatch(mk)
	require.NotNil(t, m, "the Makefile's APT_PACKAGES")
	installed := strings.Fields(string(m[1]))
	for _, script := range examplesContaining(t, "apt-get install ") {
		for _, line := range strings.Split(script, "\n") {
			_, pkgs, ok := strings.Cut(line, "apt-get install ")
			if !ok {
				continue
			}
			pkgs, _, _ = strings.Cut(pkgs, "#")
			for _, p := range strings.Fields(pkgs) {
				assert.Contains(t, installed, p, "%s: make deps installs it", line)
			}
		}
	}
}

// TestAptListsAgree checks that .ci/run installs the packages the
// Makefile's APT_PACKAGES lists (and make, which runs the Makefile), so
// that CI and make deps cannot drift apart.
func TestAptListsAgree(t *testing.T) {
	mk, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^APT_PACKAGES := (.*)$`).FindSubmatch(mk)
	require.NotNil(t, m, "the Makefile's APT_PACKAGES")
	ci, err := os.ReadFile(filepath.Join(repoRoot, ".ci", "run"))
	require.NoError(t, err)
	c := regexp.MustCompile(`(?m)^apt_packages=\((.*)\)$`).FindSubmatch(ci)
	require.NotNil(t, c, ".ci/run's apt_packages")
	want := append(strings.Fields(string(m[1])), "make")
	slices.Sort(want)
	got := strings.Fields(string(c[1]))
	slices.Sort(got)
	assert.Equal(t, want, got, ".ci/run's apt_packages and the Makefile's APT_PACKAGES (plus make)")
}
