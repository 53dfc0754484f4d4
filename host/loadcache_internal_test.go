package host

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasmreg/wasmreg/host/internal/loadcache"
)

// lockedBuffer is a log target the tests read while hosts write.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// cacheHost returns a host with dir as its cache directory and its debug
// log, closed when the test ends.
func cacheHost(t testing.TB, dir string, opts ...Option) (*Host, *lockedBuffer) {
	t.Helper()
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h, err := New(context.Background(), append([]Option{WithLogger(logger), WithCompileTimeout(0), WithCompilationCacheDir(dir)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, h.Close(context.Background())) })
	return h, logs
}

func testdataModule(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// requireSamePrepared requires a prepared from the load cache to be what
// prepare computes.
func requireSamePrepared(t *testing.T, want, got prepared) {
	t.Helper()
	require.True(t, bytes.Equal(want.wasm, got.wasm), "the module to compile")
	assert.True(t, reflect.DeepEqual(want.snapshot, got.snapshot), "snapshot plan")
	assert.Equal(t, want.checks, got.checks, "interrupt plan")
	assert.Equal(t, want.memory, got.memory)
	assert.True(t, reflect.DeepEqual(want.shape, got.shape), "shape: want %+v, got %+v", want.shape, got.shape)
	assert.Equal(t, want.tables, got.tables)
	if want.noRecycle == nil {
		assert.NoError(t, got.noRecycle)
	} else {
		assert.EqualError(t, got.noRecycle, want.noRecycle.Error())
	}
}

// TestLoadCacheWarmIsCold: a Load that finds its entry in the load cache
// prepares exactly what a Load without one does, and its factory behaves
// as the cold one: same metadata, imports and exports, same outputs for
// the same builds and predictions.
func TestLoadCacheWarmIsCold(t *testing.T) {
	require.NotEmpty(t, buildIdentity(), "the test binary's build is identified, or the load cache is off")
	type build struct {
		config string
		inputs []string
	}
	cases := []struct {
		name   string
		module func(t testing.TB) []byte
		opts   []Option
		builds []build
	}{
		{"wat", func(t testing.TB) []byte { return testdataModule(t, "echo.wasm") }, nil,
			[]build{{`{}`, []string{"hello", ""}}, {`{"a":[1,2,3]}`, []string{"x"}}, {`{"big":"` + strings.Repeat("x", 20000) + `"}`, nil}}},
		{"wat, every capability", func(t testing.TB) []byte { return testdataModule(t, "echo.wasm") },
			[]Option{WithGrants(CapClock, CapRandom, CapArtifact)}, []build{{`{}`, []string{"hi"}}}},
		{"wat, without interruption", func(t testing.TB) []byte { return testdataModule(t, "echo.wasm") },
			[]Option{WithoutInterruption()}, []build{{`{}`, []string{"hi"}}}},
		{"wat, without recycling: not snapshotted", func(t testing.TB) []byte { return testdataModule(t, "echo.wasm") },
			[]Option{WithRecycling(0)}, []build{{`{"b":1}`, []string{"hi"}}}},
		{"wat, clock", func(t testing.TB) []byte { return testdataModule(t, "clock.wasm") },
			[]Option{WithGrants(CapClock)}, nil},
	}
	if !testing.Short() {
		goBuilds := []build{{`{"scale": 2.5}`, []string{`[1, 2, 4]`, `not json`, `print`}}, {`{"scale": -1}`, []string{`[3]`}}}
		cases = append(cases,
			struct {
				name   string
				module func(t testing.TB) []byte
				opts   []Option
				builds []build
			}{"go, snapshotted", buildGoGuest, nil, goBuilds},
			struct {
				name   string
				module func(t testing.TB) []byte
				opts   []Option
				builds []build
			}{"go, random: not snapshotted", buildGoGuest, []Option{WithGrants(CapRandom), WithRandomSeed(7)}, goBuilds},
			struct {
				name   string
				module func(t testing.TB) []byte
				opts   []Option
				builds []build
			}{"go, without snapshots", buildGoGuest, []Option{WithoutSnapshots()}, goBuilds[:1]},
		)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			wasm := tc.module(t)
			dir := t.TempDir()
			cold, coldLogs := cacheHost(t, dir, tc.opts...)
			want, err := cold.prepare(wasm)
			require.NoError(t, err)
			fc, err := cold.Load(ctx, wasm)
			require.NoError(t, err)
			require.Contains(t, coldLogs.String(), "load cache: no usable entry")

			warm, warmLogs := cacheHost(t, dir, tc.opts...)
			got, hit := warm.cachedPrepare(ctx, wasm, Digest(wasm))
			require.True(t, hit, "the cold Load wrote the entry: %s", warmLogs.String())
			requireSamePrepared(t, want, got)
			fw, err := warm.Load(ctx, wasm)
			require.NoError(t, err)
			require.NotContains(t, warmLogs.String(), "load cache: no usable entry")

			assert.Equal(t, fc.Info(), fw.Info())
			assert.Equal(t, fc.Name(), fw.Name())
			assert.Equal(t, fc.Imports(), fw.Imports())
			assert.Equal(t, fc.Exports(), fw.Exports())
			assert.Equal(t, fc.Snapshotted(), fw.Snapshotted())
			assert.Equal(t, fc.recycle != nil, fw.recycle != nil, "recycles")
			for _, b := range tc.builds {
				mc, errc := fc.BuildModel(ctx, []byte(b.config))
				mw, errw := fw.BuildModel(ctx, []byte(b.config))
				require.Equal(t, errc == nil, errw == nil, "build %s: cold %v, warm %v", b.config, errc, errw)
				if errc != nil {
					assert.Equal(t, errc.Error(), errw.Error())
					continue
				}
				for _, in := range b.inputs {
					outc, errc := mc.Predict(ctx, []byte(in))
					outw, errw := mw.Predict(ctx, []byte(in))
					assert.Equal(t, string(outc), string(outw), "predict %q", in)
					if errc != nil || errw != nil {
						require.Error(t, errc)
						require.Error(t, errw)
						assert.Equal(t, errc.Error(), errw.Error(), "predict %q", in)
					}
				}
				require.NoError(t, mc.Close(ctx))
				require.NoError(t, mw.Close(ctx))
			}
		})
	}
}

// entryPath returns the path of wasm's load cache entry on h.
func entryPath(h *Host, wasm []byte) string {
	dir, name := h.loadCachePath(h.loadKey(Digest(wasm)))
	return filepath.Join(dir, name)
}

// reseal recomputes the checksum of a modified entry.
func reseal(b []byte) []byte {
	body := b[:len(b)-4]
	return binary.LittleEndian.AppendUint32(body, crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
}

// TestLoadCacheBadEntries: an entry that is missing, truncated, corrupt,
// of another version, key or module, not the user's or writable by
// others, a link, too large or not decodable is ignored, with the reason
// at debug level; Load prepares the module afresh, succeeds and writes a
// sound entry in its place.
func TestLoadCacheBadEntries(t *testing.T) {
	ctx := context.Background()
	wasm := testdataModule(t, "echo.wasm")
	other := testdataModule(t, "clock.wasm")
	seed := t.TempDir()
	h0, _ := cacheHost(t, seed)
	_, err := h0.Load(ctx, wasm)
	require.NoError(t, err)
	good, err := os.ReadFile(entryPath(h0, wasm))
	require.NoError(t, err)
	hOther, _ := cacheHost(t, seed, WithGrants(CapClock))
	_, err = hOther.Load(ctx, other)
	require.NoError(t, err)
	otherEntry, err := os.ReadFile(entryPath(hOther, other))
	require.NoError(t, err)
	key := h0.loadKey(Digest(wasm))
	fields, err := loadcache.Decode(good, key, loadCacheFields)
	require.NoError(t, err)
	const versionAt = len("wasmreg-loadcache\n")

	write := func(b []byte) func(t *testing.T, path string) {
		return func(t *testing.T, path string) {
			require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
			require.NoError(t, os.WriteFile(path, b, 0o600))
		}
	}
	for _, tc := range []struct {
		name   string
		plant  func(t *testing.T, path string)
		reason string
	}{
		{"missing", func(*testing.T, string) {}, "no such file"},
		{"truncated", write(good[:len(good)/2]), "checksum"},
		{"empty", write(nil), "shorter than a header"},
		{"corrupt", write(func() []byte { b := bytes.Clone(good); b[len(b)/2] ^= 0x10; return b }()), "checksum"},
		{"another version", write(func() []byte {
			b := bytes.Clone(good)
			binary.LittleEndian.PutUint32(b[versionAt:], loadcache.Version+1)
			return reseal(b)
		}()), "format version"},
		{"another module's entry", write(otherEntry), "another key"},
		{"findings not strict JSON", write(loadcache.Encode(key, []byte(`{"Tables":1,"Extra":true}`), fields[1], fields[2])), "unknown field"},
		{"findings followed by more", write(loadcache.Encode(key, append(bytes.Clone(fields[0]), `{}`...), fields[1], fields[2])), "after the JSON value"},
		{"no module", write(loadcache.Encode(key, fields[0], nil, fields[2])), "no module"},
		{"a plan without a snapshot", write(loadcache.Encode(key, editFindings(t, fields[0], func(f *cachedFindings) { f.Snapshot = false }),
			fields[1], []byte{0, 0, 0, 0, 0, 0, 0, 0})), "without a snapshot"},
		{"a snapshot without a plan", write(loadcache.Encode(key, editFindings(t, fields[0], func(f *cachedFindings) { f.Snapshot = true }),
			fields[1], nil)), "truncated"},
		{"no interrupt checks", write(loadcache.Encode(key, editFindings(t, fields[0], func(f *cachedFindings) { f.Checks = nil }),
			fields[1], fields[2])), "interrupt checks"},
		{"memory over the limit", write(loadcache.Encode(key, editFindings(t, fields[0], func(f *cachedFindings) { f.Memory.Min = 1 << 16 }),
			fields[1], fields[2])), "over the host's limit"},
		{"too large", write(append(bytes.Clone(good), make([]byte, maxLoadCacheEntry(len(wasm)))...)), "expected"},
		{"writable by others", func(t *testing.T, path string) {
			write(good)(t, path)
			require.NoError(t, os.Chmod(path, 0o622))
		}, "writable by its group or others"},
		{"a symbolic link", func(t *testing.T, path string) {
			elsewhere := filepath.Join(t.TempDir(), "entry")
			require.NoError(t, os.WriteFile(elsewhere, good, 0o600))
			require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
			require.NoError(t, os.Symlink(elsewhere, path))
		}, "symbolic link"},
		{"a directory", func(t *testing.T, path string) { require.NoError(t, os.MkdirAll(path, 0o700)) }, "not a regular file"},
		{"another user's", func(t *testing.T, path string) {
			if os.Geteuid() != 0 {
				t.Skip("only root can give a file to another user")
			}
			write(good)(t, path)
			require.NoError(t, os.Chown(path, 12345, 12345))
		}, "owned by uid 12345"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			h, logs := cacheHost(t, dir)
			path := entryPath(h, wasm)
			tc.plant(t, path)
			_, hit := h.cachedPrepare(ctx, wasm, Digest(wasm))
			require.False(t, hit)
			assert.Contains(t, logs.String(), "load cache: no usable entry")
			assert.Contains(t, logs.String(), tc.reason)

			if tc.name == "a directory" {
				require.NoError(t, os.Remove(path)) // the rename cannot replace a directory
			}
			f, err := h.Load(ctx, wasm)
			require.NoError(t, err, "Load computes afresh")
			m, err := f.Build(ctx, []byte(`{"k":"v"}`))
			require.NoError(t, err)
			out, err := m.Predict(ctx, []byte("ping"))
			require.NoError(t, err)
			assert.Equal(t, `{"k":"v"}`, string(out), "echo answers with its config")
			require.NoError(t, m.Close(ctx))

			entry, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, good, entry, "Load wrote a sound entry in its place")
			info, err := os.Lstat(path)
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o600), info.Mode())
			_, hit = h.cachedPrepare(ctx, wasm, Digest(wasm))
			assert.True(t, hit)
		})
	}
}

// editFindings returns findings changed by edit.
func editFindings(t *testing.T, findings []byte, edit func(*cachedFindings)) []byte {
	var f cachedFindings
	require.NoError(t, json.Unmarshal(findings, &f))
	edit(&f)
	b, err := json.Marshal(f)
	require.NoError(t, err)
	return b
}

// TestLoadKey: every setting prepare reads changes the key, so an entry
// made under other settings is never used; the settings it does not read
// leave it.
func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	digest := Digest([]byte("module"))
	base, _ := cacheHost(t, dir)
	key := base.loadKey(digest)
	assert.NotEqual(t, key, base.loadKey(Digest([]byte("another module"))))
	limits := DefaultModuleLimits()
	limits.Functions--
	for _, tc := range []struct {
		name string
		opt  Option
		same bool
	}{
		{"memory limit", WithMemoryLimit(DefaultMemoryLimit / 2), false},
		{"module limits", WithModuleLimits(limits), false},
		{"table limit", WithTableLimit(DefaultTableLimit / 2), false},
		{"stack limit", WithStackLimit(DefaultStackLimit / 2), false},
		{"without interruption", WithoutInterruption(), false},
		{"without snapshots", WithoutSnapshots(), false},
		{"a grant", WithGrants(CapRandom), false},
		{"call timeout", WithCallTimeout(DefaultCallTimeout / 2), true},
		{"recycling off", WithRecycling(0), false}, // small modules are snapshotted only to be recycled
		{"recycling more", WithRecycling(DefaultRecycling + 1), true},
		{"model instances", WithModelInstances(2), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := cacheHost(t, dir, tc.opt)
			if tc.same {
				assert.Equal(t, key, h.loadKey(digest))
			} else {
				assert.NotEqual(t, key, h.loadKey(digest))
			}
		})
	}
}

// TestLoadCacheConcurrentHosts: hosts sharing a cache directory load the
// same modules at once, each writing the entries the others read: every
// Load succeeds and the entries end up sound.
func TestLoadCacheConcurrentHosts(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	modules := [][]byte{testdataModule(t, "echo.wasm"), testdataModule(t, "clock.wasm"), testdataModule(t, "guest.wasm")}
	const hosts, rounds = 3, 4
	var wg sync.WaitGroup
	errs := make(chan error, hosts*rounds*len(modules))
	for range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				h, err := New(ctx, WithCompilationCacheDir(dir), WithCompileTimeout(0), WithGrants(CapClock, CapRandom, CapArtifact),
					WithLogger(slog.New(slog.DiscardHandler)))
				if err != nil {
					errs <- err
					return
				}
				for _, wasm := range modules {
					f, err := h.Load(ctx, wasm)
					if err == nil {
						err = f.Close(ctx)
					}
					if err != nil {
						errs <- err
					}
				}
				if err := h.Close(ctx); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	h, _ := cacheHost(t, dir, WithGrants(CapClock, CapRandom, CapArtifact))
	for _, wasm := range modules {
		_, hit := h.cachedPrepare(ctx, wasm, Digest(wasm))
		assert.True(t, hit)
	}
	names, err := os.ReadDir(filepath.Join(dir, loadCacheSubdir))
	require.NoError(t, err)
	assert.Len(t, names, len(modules), "one entry per module, no temporary file left")
}
