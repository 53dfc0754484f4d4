package app

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/wasmreg/wasmreg/cmd/wasmreg/internal/demo"
	"github.com/wasmreg/wasmreg/host"
)

// demoAssets is what the built-in demo runs: the mlp factory module, the
// trained weights it reads as an artifact, and held-out samples with their
// labels. They are embedded in the binary; demoAssetsFunc supplies them.
type demoAssets struct {
	factory []byte                             // the mlp factory module
	weights []byte                             // artifact demoArtifact
	samples func() ([][]float32, []int, error) // 64 pixel values 0..16, and labels 0..9
}

// The demo's contract with the mlp factory: the weights are served as an
// artifact named in the build config; a request is a JSON array of the 64
// raw pixel values; a response is {"class":N,"probabilities":[...]}.
const (
	demoArtifact = "digits"
	demoConfig   = `{"weights":"` + demoArtifact + `"}`
	demoSamples  = 10 // held-out digits the demo classifies
)

// demoResponse is the mlp factory's answer.
type demoResponse struct {
	Class         *int      `json:"class"`
	Probabilities []float64 `json:"probabilities"`
}

// runDemo is `wasmreg run` without a factory: the trained digits MLP on a
// few held-out digits, each prediction next to its label, and the accuracy.
func runDemo(cCtx *cli.Context) error {
	assets, err := demoAssetsFunc()
	if err != nil {
		return fmt.Errorf("built-in demo: %w", err)
	}
	xs, labels, err := assets.samples()
	if err != nil {
		return fmt.Errorf("built-in demo: held-out samples: %w", err)
	}
	if len(xs) != len(labels) || len(xs) == 0 {
		return fmt.Errorf("built-in demo: %d held-out samples with %d labels", len(xs), len(labels))
	}
	allXs, allLabels := xs, labels
	xs, labels = xs[:min(demoSamples, len(xs))], labels[:min(demoSamples, len(xs))]

	resumeGC := pauseGC(startupHeapLimit(len(assets.factory), memoryLimit(cCtx)))
	defer resumeGC()
	h, err := newHost(cCtx,
		host.WithGrants(host.CapRandom, host.CapArtifact),
		host.WithArtifacts(host.ArtifactMap{demoArtifact: assets.weights}))
	if err != nil {
		return err
	}
	defer closeHost(cCtx, h)
	f, err := h.Load(cCtx.Context, assets.factory)
	if err != nil {
		return fmt.Errorf("built-in demo: load the embedded factory: %w", err)
	}
	if name := f.Info().Name; name != demo.FactoryName {
		return fmt.Errorf("built-in demo: the embedded factory is %s, not %s: the demo assets are not built yet (make demo-assets)",
			f.Name(), demo.FactoryName)
	}
	m, err := f.BuildModel(cCtx.Context, []byte(demoConfig))
	resumeGC()
	if err != nil {
		return fmt.Errorf("built-in demo: build %s: %w", f.Name(), err)
	}
	defer m.Close(cCtx.Context)

	w := cCtx.App.Writer
	fmt.Fprintf(w, "wasmreg built-in demo: %s, a neural network trained on handwritten digits,\n", f.Name())
	fmt.Fprintf(w, "classifies %d held-out 8×8 images it has never seen, in a WebAssembly sandbox.\n\n", len(xs))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SAMPLE\tLABEL\tPREDICTED\tCONFIDENCE")
	correct := 0
	for i, x := range xs {
		req, err := json.Marshal(x)
		if err != nil {
			return fmt.Errorf("built-in demo: sample %d: %w", i+1, err)
		}
		out, err := m.Predict(cCtx.Context, req)
		if err != nil {
			return fmt.Errorf("built-in demo: sample %d: %w", i+1, err)
		}
		class, confidence, err := parseDemoResponse(out)
		if err != nil {
			return fmt.Errorf("built-in demo: sample %d: %w", i+1, err)
		}
		mark := "✓"
		if class == labels[i] {
			correct++
		} else {
			mark = "✗"
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%5.1f%%  %s\n", i+1, labels[i], class, confidence*100, mark)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\naccuracy on these %d: %d/%d (%.0f%%)\n", len(xs), correct, len(xs), 100*float64(correct)/float64(len(xs)))
	// A few samples say little about the model: score the whole held-out
	// split too, with the same model.
	all := 0
	for i, x := range allXs {
		req, _ := json.Marshal(x)
		out, err := m.Predict(cCtx.Context, req)
		if err != nil {
			return fmt.Errorf("built-in demo: held-out sample %d: %w", i+1, err)
		}
		if class, _, err := parseDemoResponse(out); err == nil && class == allLabels[i] {
			all++
		}
	}
	fmt.Fprintf(w, "accuracy on all %d held-out digits: %d/%d (%.1f%%)\n", len(allXs), all, len(allXs), 100*float64(all)/float64(len(allXs)))
	fmt.Fprintf(w, "\nRun a factory of your own with: wasmreg run FACTORY.wasm < requests.txt (see 'wasmreg run --help').\n")
	return nil
}

// parseDemoResponse reads the class and its probability from the mlp
// factory's answer.
func parseDemoResponse(out []byte) (class int, confidence float64, err error) {
	var r demoResponse
	if err := json.Unmarshal(out, &r); err != nil || r.Class == nil {
		return 0, 0, fmt.Errorf("the factory answered %q, not {\"class\":N,\"probabilities\":[...]}", truncateForMessage(out))
	}
	class = *r.Class
	if class >= 0 && class < len(r.Probabilities) {
		confidence = r.Probabilities[class]
	}
	return class, confidence, nil
}

func truncateForMessage(b []byte) string {
	const limit = 80
	if len(b) > limit {
		return string(b[:limit]) + "…"
	}
	return string(b)
}
