package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/urfave/cli/v2"
	"sigs.k8s.io/yaml"

	"github.com/wasmreg/wasmreg/host"
	"github.com/wasmreg/wasmreg/internal/oci"
	"github.com/wasmreg/wasmreg/serve"
)

// maxModelsFile bounds the models file read.
const maxModelsFile = 1 << 20

// modelsFile is the --models file: YAML or JSON, decoded strictly.
type modelsFile struct {
	Models []modelEntry `json:"models"`
}

// modelEntry is one model to serve: an entry of the models file, or
// FACTORY and its flags.
type modelEntry struct {
	Name    string `json:"name"`
	Factory string `json:"factory"`
	// Config is the build configuration: a JSON (or YAML) value, or a
	// string holding JSON text; "{}" if absent.
	Config    json.RawMessage `json:"config,omitempty"`
	Grants    []string        `json:"grants,omitempty"`
	Instances int             `json:"instances,omitempty"`
	Isolation string          `json:"isolation,omitempty"`
	SHA256    string          `json:"sha256,omitempty"`

	config     []byte // Config checked, as the factory gets it
	grants     Grants
	configFile string // FACTORY's --config @FILE
	demo       bool   // the built-in demo: FACTORY and --models both absent
}

// servedModel is what the command serves under a name.
type servedModel struct {
	entry modelEntry
	key   string   // the entry and the sha256 of its files: equal keys serve the same
	files []string // the files it was made from, to watch: module (unless oci://), artifacts, --config @FILE
}

// modelManager loads, reloads and unloads the command's models, and owns
// the hosts of their factories until the server releases them. Its
// methods but release and resolve, which the server calls from its own
// goroutines, are called by the command's goroutine only.
type modelManager struct {
	cCtx   *cli.Context
	srv    *serve.Server
	logger *slog.Logger
	models string // --models file, or "" for FACTORY

	loaded   atomic.Bool // every configured model was loaded once
	draining atomic.Bool // a terminate signal came
	quiet    bool        // shutting down for a failed start: the error says it all

	mu    sync.Mutex                   // guards hosts
	hosts map[*host.Factory]*host.Host // factory → the host that loaded it

	current map[string]*servedModel // by model name: what the command loaded
	single  string                  // the model name of FACTORY, once known
	watched map[string]fileState    // files whose change reloads
}

// fileState is what the watch last saw of a file.
type fileState struct {
	size    int64
	modTime time.Time
	digest  string // "" if it could not be read
}

// desired returns the models the command should serve now: the entries
// of the models file, or FACTORY's.
func (m *modelManager) desired() ([]modelEntry, error) {
	if m.models == "" {
		return m.factoryEntry()
	}
	return readModelsFile(m.models)
}

// factoryEntry is FACTORY with its flags.
func (m *modelManager) factoryEntry() ([]modelEntry, error) {
	cCtx := m.cCtx
	if cCtx.NArg() == 0 {
		return m.demoEntry()
	}
	e := modelEntry{Name: cCtx.String(flagModelName), Factory: cCtx.Args().First(), Grants: cCtx.StringSlice(flagGrant),
		Instances: cCtx.Int(flagInstances), Isolation: cCtx.String(flagIsolation), SHA256: cCtx.String(flagSHA256)}
	if m.single != "" {
		e.Name = m.single
	}
	config, err := readConfig(cCtx)
	if err != nil {
		return nil, err
	}
	if f, ok := strings.CutPrefix(cCtx.String(flagConfig), "@"); ok && cCtx.IsSet(flagConfig) {
		e.configFile = f
	}
	// As a models file writes JSON text: in a string.
	if e.Config, err = json.Marshal(string(config)); err != nil {
		return nil, err
	}
	if err := e.check(); err != nil {
		return nil, usageError{err}
	}
	return []modelEntry{e}, nil
}

// demoModel is the model name the built-in demo is served under.
const demoModel = "digits"

// demoEntry is the built-in demo (the trained digits MLP that `wasmreg
// run` runs), served when neither FACTORY nor --models is given, so that
// the image and a bare `wasmreg serve` answer out of the box.
func (m *modelManager) demoEntry() ([]modelEntry, error) {
	cCtx := m.cCtx
	for _, f := range []string{flagConfig, flagGrant, flagSHA256} {
		if cCtx.IsSet(f) {
			return nil, usageErrorf("--%s is for a FACTORY argument; the built-in demo (no FACTORY) takes none", f)
		}
	}
	e := modelEntry{Name: cCtx.String(flagModelName), Factory: "(built-in demo)", Instances: cCtx.Int(flagInstances),
		Isolation: cCtx.String(flagIsolation), demo: true}
	if e.Name == "" {
		e.Name = demoModel
	}
	if err := e.check(); err != nil {
		return nil, usageError{err}
	}
	e.config = []byte(demoConfig)
	return []modelEntry{e}, nil
}

// loadDemo builds the built-in demo's factory on a host of its own that
// serves the embedded weights as its artifact.
func (m *modelManager) loadDemo() (*host.Host, *host.Factory, string, error) {
	assets, err := demoAssetsFunc()
	if err != nil {
		return nil, nil, "", fmt.Errorf("built-in demo: %w", err)
	}
	h, err := openHost(m.cCtx, m.cCtx.App.ErrWriter,
		host.WithGrants(host.CapRandom, host.CapArtifact),
		host.WithArtifacts(host.ArtifactMap{demoArtifact: assets.weights}))
	if err != nil {
		return nil, nil, "", err
	}
	f, err := h.Load(m.cCtx.Context, assets.factory)
	if err != nil {
		closeHost(m.cCtx, h)
		return nil, nil, "", fmt.Errorf("built-in demo: load the embedded factory: %w", err)
	}
	return h, f, host.Digest(assets.factory), nil
}

// readModelsFile reads and checks a models file.
func readModelsFile(path string) ([]modelEntry, error) {
	what := "--" + flagModels + " " + path
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", what)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxModelsFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if len(b) > maxModelsFile {
		return nil, fmt.Errorf("%s: larger than %s", what, sizeString(maxModelsFile))
	}
	return parseModels(what, b)
}

// parseModels decodes a models file strictly: an unknown field, a
// duplicate key or name, or a bad value is an error naming it.
func parseModels(what string, b []byte) ([]modelEntry, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, fmt.Errorf("%s: empty; want a \"models\" list", what)
	}
	var mf modelsFile
	if err := yaml.UnmarshalStrict(b, &mf); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	seen := map[string]bool{}
	for i := range mf.Models {
		e := &mf.Models[i]
		if e.Name == "" {
			return nil, fmt.Errorf("%s: models[%d]: no name", what, i)
		}
		if seen[e.Name] {
			return nil, fmt.Errorf("%s: models[%d]: a second model named %q", what, i, e.Name)
		}
		seen[e.Name] = true
		if e.Factory == "" {
			return nil, fmt.Errorf("%s: model %q: no factory", what, e.Name)
		}
		if err := e.check(); err != nil {
			return nil, fmt.Errorf("%s: model %q: %w", what, e.Name, err)
		}
	}
	return mf.Models, nil
}

// check checks an entry's values and sets config and grants.
func (e *modelEntry) check() error {
	var err error
	if e.grants, err = ParseGrants(e.Grants); err != nil {
		return err
	}
	if _, err := parseDigest(e.SHA256); err != nil {
		return err
	}
	if e.Instances < 0 || e.Instances > 1024 {
		return fmt.Errorf("instances %d, want 1-1024", e.Instances)
	}
	switch serve.Isolation(e.Isolation) {
	case "", serve.IsolationModel, serve.IsolationRequest:
	default:
		return fmt.Errorf("isolation %q, want %q or %q", e.Isolation, serve.IsolationModel, serve.IsolationRequest)
	}
	c := bytes.TrimSpace(e.Config)
	switch {
	case len(c) == 0 || string(c) == "null":
		e.config = []byte("{}")
	case c[0] == '"':
		var s string
		if err := json.Unmarshal(c, &s); err != nil {
			return fmt.Errorf("config: %w", err)
		}
		if !json.Valid([]byte(s)) {
			return fmt.Errorf("config: the string %q is not JSON text; give the config as an object, or its JSON in a string", clipString(s))
		}
		e.config = []byte(strings.TrimSpace(s))
	default:
		var buf bytes.Buffer
		if err := json.Compact(&buf, c); err != nil {
			return fmt.Errorf("config: %w", err)
		}
		e.config = buf.Bytes()
	}
	return nil
}

func clipString(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// key is what decides whether an entry changed: its values, its module's
// sha256 and the sha256 of the files it was read from.
func (e modelEntry) key(moduleDigest string, files []string) string {
	digests := make([]string, len(files))
	for i, f := range files {
		digests[i] = f + "=" + fileStateOf(f, fileState{}).digest
	}
	b, _ := json.Marshal(struct {
		modelEntry
		C string   `json:"c"`
		D string   `json:"d"`
		F []string `json:"f"`
	}{e, string(e.config), moduleDigest, digests})
	return string(b)
}

// files are the files an entry reads besides its module: its artifacts,
// and FACTORY's --config @FILE.
func (e modelEntry) files() []string {
	var files []string
	for _, f := range e.grants.Artifacts {
		files = append(files, f)
	}
	sort.Strings(files)
	if e.configFile != "" {
		files = append(files, e.configFile)
	}
	return files
}

// loadAll loads every entry, failing at the first that does not load.
func (m *modelManager) loadAll(entries []modelEntry) error {
	for _, e := range entries {
		if err := m.load(e); err != nil && !errors.Is(err, errUnchanged) {
			return err
		}
	}
	m.rewatch()
	return nil
}

// load serves e, replacing what is served under its name if e or its
// module changed; errUnchanged if neither did.
func (m *modelManager) load(e modelEntry) error {
	cCtx := m.cCtx
	label := e.Name
	if label == "" {
		label = e.Factory
	}
	if e.demo {
		if m.current[e.Name] != nil { // embedded: it never changes
			return errUnchanged
		}
		h, f, digest, err := m.loadDemo()
		if err != nil {
			return fmt.Errorf("model %q: %w", e.Name, err)
		}
		return m.serve(e, h, f, e.key(digest, nil), nil)
	}
	grantOpts, err := e.grants.Options()
	if err != nil {
		return fmt.Errorf("model %q: %w", label, err)
	}
	digest, _ := parseDigest(e.SHA256)
	mod, err := findModule(cCtx, moduleRequest{arg: e.Factory, digest: digest, grants: grantOpts})
	if err != nil {
		return fmt.Errorf("model %q: %w", label, err)
	}
	files := e.files()
	if !oci.IsReference(e.Factory) {
		files = append(files, mod.path)
	}
	key := e.key(host.Digest(mod.wasm), files)
	if cur := m.current[e.Name]; cur != nil && cur.key == key {
		return errUnchanged
	}
	ff := factoryFlags{grants: e.grants, grantOpts: grantOpts, config: e.config, wantDigest: digest}
	h, f, err := ff.load(cCtx, cCtx.App.ErrWriter, mod)
	if err != nil {
		return fmt.Errorf("model %q: %w", label, err)
	}
	if e.Name == "" { // FACTORY without --name
		e.Name = f.Info().Name
		m.single = e.Name
		key = e.key(host.Digest(mod.wasm), files)
	}
	return m.serve(e, h, f, key, files)
}

// serve serves f, loaded by h, under e's name.
func (m *modelManager) serve(e modelEntry, h *host.Host, f *host.Factory, key string, files []string) error {
	m.own(f, h)
	spec := serve.ModelSpec{Name: e.Name, Factory: f, Config: e.config, Instances: e.Instances, Isolation: serve.Isolation(e.Isolation)}
	if err := m.srv.Load(context.Background(), spec); err != nil {
		return fmt.Errorf("model %q: %w", e.Name, err)
	}
	m.current[e.Name] = &servedModel{entry: e, key: key, files: files}
	return nil
}

// own records that h, which loaded f, is closed when the server releases f.
func (m *modelManager) own(f *host.Factory, h *host.Host) {
	m.mu.Lock()
	m.hosts[f] = h
	m.mu.Unlock()
}

// release is the server's WithRelease: it closes the host of the factory
// the server no longer uses.
func (m *modelManager) release(spec serve.ModelSpec) {
	m.mu.Lock()
	h := m.hosts[spec.Factory]
	delete(m.hosts, spec.Factory)
	m.mu.Unlock()
	if h != nil {
		_ = spec.Factory.Close(context.Background())
		_ = h.Close(context.Background())
		m.logger.Debug("closed a model's factory", "model", spec.Name, "factory", spec.Factory.Name())
	}
}

// closeAll closes every host still owned, once the server is shut down.
func (m *modelManager) closeAll() {
	m.mu.Lock()
	hosts := m.hosts
	m.hosts = map[*host.Factory]*host.Host{}
	m.mu.Unlock()
	for _, h := range hosts {
		_ = h.Close(context.Background())
	}
}

// resolve is the repository extension's resolver: it loads the factory
// name from --dir (names only: no path, no oci:// reference), granting it
// nothing.
func (m *modelManager) resolve(_ context.Context, name string) (*host.Factory, error) {
	if looksLikePath(name) || oci.IsReference(name) {
		return nil, fmt.Errorf("%q: the repository extension loads factories by name from --%s only", name, flagDir)
	}
	scan, err := scanFlags(m.cCtx)
	if err != nil {
		return nil, err
	}
	mod, err := findByName(m.cCtx, scan, moduleRequest{arg: name})
	if err != nil {
		return nil, err
	}
	grantOpts, err := Grants{}.Options()
	if err != nil {
		return nil, err
	}
	h, f, err := factoryFlags{grantOpts: grantOpts}.load(m.cCtx, m.cCtx.App.ErrWriter, mod)
	if err != nil {
		return nil, err
	}
	m.own(f, h)
	return f, nil
}

// reload makes what is served what the models file (or FACTORY) says
// now: changed models are replaced, removed ones unloaded, added ones
// loaded. A model that fails to load keeps its old version serving.
func (m *modelManager) reload(why string) {
	m.logger.Info("reloading", "reason", why)
	defer m.rewatch()
	entries, err := m.desired()
	if err != nil {
		m.logger.Error("reload failed; every model keeps serving", "reason", why, "error", errLine(err))
		return
	}
	keep := map[string]bool{}
	for _, e := range entries {
		keep[e.Name] = true
		switch err := m.load(e); {
		case errors.Is(err, errUnchanged):
		case err != nil:
			if m.current[e.Name] != nil {
				m.logger.Error("reload failed; the old model keeps serving", "model", e.Name, "error", errLine(err))
			} else {
				m.logger.Error("reload failed; the model is not served", "model", e.Name, "error", errLine(err))
			}
		default:
			m.logger.Info("model reloaded", "model", e.Name)
		}
	}
	if m.models == "" {
		return
	}
	var gone []string
	for name := range m.current {
		if !keep[name] {
			gone = append(gone, name)
		}
	}
	sort.Strings(gone)
	for _, name := range gone {
		delete(m.current, name)
		m.logger.Info("unloading a model removed from the models file", "model", name)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), m.cCtx.Duration(flagShutdownTimeout))
			defer cancel()
			if err := m.srv.Unload(ctx, name); err != nil && !errors.Is(err, serve.ErrModelNotFound) {
				m.logger.Warn("unloading a model", "model", name, "error", err)
			}
		}()
	}
}

// watchedFiles are the files whose change reloads: the models file and
// the files of every model served.
func (m *modelManager) watchedFiles() []string {
	var files []string
	if m.models != "" {
		files = append(files, m.models)
	}
	for _, sm := range m.current {
		files = append(files, sm.files...)
	}
	return files
}

// rewatch starts watching the files of what is served now, as they are
// now.
func (m *modelManager) rewatch() {
	w := map[string]fileState{}
	for _, f := range m.watchedFiles() {
		if st, ok := m.watched[f]; ok {
			w[f] = st
		} else {
			w[f] = fileStateOf(f, fileState{})
		}
	}
	m.watched = w
}

// changed returns a file that changed since the watch last looked, or "".
// A file's sha256 is computed only when its size or time changed.
func (m *modelManager) changed() string {
	var what string
	for f, old := range m.watched {
		st := fileStateOf(f, old)
		m.watched[f] = st
		if st.digest != old.digest && what == "" {
			what = f
		}
	}
	return what
}

// fileStateOf is file's state now, its sha256 computed again only if its
// size or modification time differ from old's.
func fileStateOf(file string, old fileState) fileState {
	fi, err := os.Stat(file)
	if err != nil {
		return fileState{}
	}
	st := fileState{size: fi.Size(), modTime: fi.ModTime()}
	if old.digest != "" && st.size == old.size && st.modTime.Equal(old.modTime) {
		st.digest = old.digest
		return st
	}
	f, err := os.Open(file)
	if err != nil {
		return st
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return st
	}
	st.digest = hex.EncodeToString(h.Sum(nil))
	return st
}
