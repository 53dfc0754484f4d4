package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The media types of the CNCF TAG Runtime's Wasm OCI artifact.
const (
	MediaTypeConfig = "application/vnd.wasm.config.v0+json"
	MediaTypeLayer  = "application/wasm"
)

// wasmreg's own annotations, beside the org.opencontainers.image.* ones.
const (
	AnnotationCapabilities = "dev.wasmreg.factory.capabilities"
	AnnotationABI          = "dev.wasmreg.factory.abi"
	AnnotationName         = "dev.wasmreg.factory.name"
)

// ErrManifest is the error of a manifest or config that is not a Wasm
// artifact of the CNCF layout.
var ErrManifest = errors.New("oci: not a wasm artifact")

// maxManifest bounds a manifest or config read from a registry.
const maxManifest = 1 << 20

// Metadata is what Push writes into annotations, so that a listing needs
// no layer download. It is a plain value, safe for concurrent reads.
type Metadata struct {
	Name, Version, Description string
	Capabilities               []string
	ABIVersion                 int
}

// wasmConfig is the config blob of the CNCF layout.
type wasmConfig struct {
	Created      string   `json:"created,omitempty"`
	Architecture string   `json:"architecture"`
	OS           string   `json:"os"`
	LayerDigests []string `json:"layerDigests"`
}

// annotations returns m as manifest annotations.
func (m Metadata) annotations(created time.Time) map[string]string {
	a := map[string]string{ocispec.AnnotationCreated: created.UTC().Format(time.RFC3339)}
	set := func(k, v string) {
		if v != "" {
			a[k] = v
		}
	}
	set(ocispec.AnnotationTitle, m.Name)
	set(AnnotationName, m.Name)
	set(ocispec.AnnotationVersion, m.Version)
	set(ocispec.AnnotationDescription, m.Description)
	if len(m.Capabilities) > 0 {
		b, _ := json.Marshal(m.Capabilities)
		a[AnnotationCapabilities] = string(b)
	}
	if m.ABIVersion > 0 {
		a[AnnotationABI] = fmt.Sprint(m.ABIVersion)
	}
	return a
}

// encodeArtifact returns the config and manifest of the CNCF layout for a
// module with the layer descriptor layer.
func encodeArtifact(layer ocispec.Descriptor, m Metadata, created time.Time) (config, manifest []byte, err error) {
	config, err = json.Marshal(wasmConfig{Created: created.UTC().Format(time.RFC3339), Architecture: "wasm", OS: "wasip1",
		LayerDigests: []string{layer.Digest.String()}})
	if err != nil {
		return nil, nil, err
	}
	man := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config: ocispec.Descriptor{MediaType: MediaTypeConfig, Digest: digest.FromBytes(config),
			Size: int64(len(config))},
		Layers:      []ocispec.Descriptor{layer},
		Annotations: m.annotations(created),
	}
	manifest, err = json.Marshal(man)
	return config, manifest, err
}

// decodeManifest parses a manifest and checks that it is the CNCF layout:
// an image manifest whose config is a Wasm config and that has exactly one
// application/wasm layer, with a sha256 digest and a size within limit.
// Errors wrap ErrManifest, or ErrTooLarge for the layer's size.
func decodeManifest(b []byte, limit int64) (ocispec.Manifest, error) {
	var m ocispec.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%w: manifest: %w", ErrManifest, err)
	}
	switch {
	case m.SchemaVersion != 2:
		return m, fmt.Errorf("%w: manifest schemaVersion %d, want 2", ErrManifest, m.SchemaVersion)
	case m.MediaType != "" && m.MediaType != ocispec.MediaTypeImageManifest:
		return m, fmt.Errorf("%w: manifest media type %q, want %s", ErrManifest, m.MediaType, ocispec.MediaTypeImageManifest)
	case m.Config.MediaType != MediaTypeConfig:
		return m, fmt.Errorf("%w: config media type %q, want %s", ErrManifest, m.Config.MediaType, MediaTypeConfig)
	case len(m.Layers) != 1:
		return m, fmt.Errorf("%w: %d layers, want exactly one", ErrManifest, len(m.Layers))
	case m.Layers[0].MediaType != MediaTypeLayer:
		return m, fmt.Errorf("%w: layer media type %q, want %s", ErrManifest, m.Layers[0].MediaType, MediaTypeLayer)
	}
	for _, d := range []ocispec.Descriptor{m.Config, m.Layers[0]} {
		if err := d.Digest.Validate(); err != nil || d.Digest.Algorithm() != digest.SHA256 {
			return m, fmt.Errorf("%w: digest %q is not a sha256 digest", ErrManifest, d.Digest)
		}
		if d.Size < 0 {
			return m, fmt.Errorf("%w: negative size %d", ErrManifest, d.Size)
		}
	}
	if m.Config.Size > maxManifest {
		return m, fmt.Errorf("%w: config of %d bytes, over %d", ErrManifest, m.Config.Size, maxManifest)
	}
	if m.Layers[0].Size > limit {
		return m, fmt.Errorf("%w: layer %s is %d bytes, over the module size limit of %d", ErrTooLarge, m.Layers[0].Digest, m.Layers[0].Size, limit)
	}
	return m, nil
}

// decodeConfig parses a Wasm config and checks that it names layer.
func decodeConfig(b []byte, layer digest.Digest) error {
	var c wasmConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return fmt.Errorf("%w: config: %w", ErrManifest, err)
	}
	if c.Architecture != "wasm" {
		return fmt.Errorf("%w: config architecture %q, want wasm", ErrManifest, c.Architecture)
	}
	if len(c.LayerDigests) > 0 && (len(c.LayerDigests) != 1 || c.LayerDigests[0] != layer.String()) {
		return fmt.Errorf("%w: config layerDigests %q do not match the layer %s", ErrManifest, c.LayerDigests, layer)
	}
	return nil
}
