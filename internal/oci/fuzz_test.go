package oci

import (
	"encoding/json"

	"testing"
	"time"

	specs "github.com/opencontainers/image-spec/specs-go"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func FuzzParseReference(f *testing.F) {
	for _, s := range []string{"oci://127.0.0.1:5000/f/echo:v1", "oci://ghcr.io/a/b@sha256:" + digest.FromString("x").Encoded(),
		"oci://h/r:t@sha256:" + digest.FromString("y").Encoded(), "oci://", "docker://h/r:t", "oci://h/r", "oci://h/r@md5:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseReference(s)
		if err != nil {
			require.ErrorIs(t, err, ErrReference)
			return
		}
		require.True(t, r.Tag != "" || r.Digest != "")
		again, err := ParseReference(r.String())
		require.NoError(t, err, "String of %q is %q", s, r.String())
		require.Equal(t, r, again)
	})
}

func FuzzDecodeManifest(f *testing.F) {
	layer := ocispec.Descriptor{MediaType: MediaTypeLayer, Digest: digest.FromString("wasm"), Size: 4}
	cfg, man, err := encodeArtifact(layer, Metadata{Name: "n"}, time.Unix(0, 0))
	require.NoError(f, err)
	f.Add(man, cfg)
	f.Add([]byte(`{"schemaVersion":2,"layers":[]}`), []byte(`{}`))
	f.Fuzz(func(t *testing.T, man, cfg []byte) {
		m, err := decodeManifest(man, 1<<20)
		if err != nil {
			return
		}
		require.Len(t, m.Layers, 1)
		require.LessOrEqual(t, m.Layers[0].Size, int64(1<<20))
		_ = decodeConfig(cfg, m.Layers[0].Digest)
	})
}

func TestParseReference(t *testing.T) {
	d := "sha256:" + digest.FromString("x").Encoded()
	tests := []struct {
		name, in string
		want     Reference
		bad      bool
	}{
		{name: "tag", in: "oci://127.0.0.1:5000/f/echo:v1", want: Reference{Registry: "127.0.0.1:5000", Repository: "f/echo", Tag: "v1"}},
		{name: "digest", in: "oci://ghcr.io/a/b@" + d, want: Reference{Registry: "ghcr.io", Repository: "a/b", Digest: d}},
		{name: "tag and digest", in: "oci://h/r:t@" + d, want: Reference{Registry: "h", Repository: "r", Tag: "t", Digest: d}},
		{name: "no scheme", in: "h/r:t", bad: true},
		{name: "other scheme", in: "docker://h/r:t", bad: true},
		{name: "no tag", in: "oci://h/r", bad: true},
		{name: "upper-case repo", in: "oci://h/R:t", bad: true},
		{name: "md5", in: "oci://h/r@md5:0123456789abcdef0123456789abcdef", bad: true},
		{name: "empty", in: "oci://", bad: true},
		{name: "credentials", in: "oci://user:hunter2@h/r:t", bad: true},
		{name: "credentials and digest", in: "oci://user:hunter2@h/r@" + d, bad: true},
		{name: "user", in: "oci://hunter2@h:5000/r:t", bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseReference(tc.in)
			if tc.bad {
				require.ErrorIs(t, err, ErrReference)
				assert.NotContains(t, err.Error(), "hunter2", "credentials typed into a reference are not shown")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestDecodeManifestRefuses(t *testing.T) {
	layer := ocispec.Descriptor{MediaType: MediaTypeLayer, Digest: digest.FromString("wasm"), Size: 4}
	other := layer
	other.MediaType = "application/octet-stream"
	cfgDesc := ocispec.Descriptor{MediaType: MediaTypeConfig, Digest: digest.FromString("{}"), Size: 2}
	tests := []struct {
		name   string
		layers []ocispec.Descriptor
		config ocispec.Descriptor
	}{
		{"two layers", []ocispec.Descriptor{layer, layer}, cfgDesc},
		{"no layer", nil, cfgDesc},
		{"other layer media type", []ocispec.Descriptor{other}, cfgDesc},
		{"other config media type", []ocispec.Descriptor{layer}, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: cfgDesc.Digest, Size: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(ocispec.Manifest{Versioned: specsVersioned, MediaType: ocispec.MediaTypeImageManifest, Config: tc.config, Layers: tc.layers})
			require.NoError(t, err)
			_, err = decodeManifest(b, 1<<20)
			require.ErrorIs(t, err, ErrManifest)
		})
	}
}

var specsVersioned = specs.Versioned{SchemaVersion: 2}
