package main

// The estimate itself is wasmbin's (Module.CompileCost, host/internal/
// wasmbin/cost.go), which the host's CompileCost limit bounds; the model
// mode checks it against the measurements.

// modelRow compares one measured point with the estimate.
type modelRow struct {
	Shape    string  `json:"shape"`
	N        int     `json:"n"`
	Checked  bool    `json:"checked"`
	Measured float64 `json:"measured_s"`
	Model    float64 `json:"model_s"`
	Within   bool    `json:"within_function_limits"`
}
