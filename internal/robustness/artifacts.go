package robustness

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/anishathalye/porcupine"
)

// artifactDir is where the history and the visualization of a failed run
// go: $TRUCE_ROBUSTNESS_OUT, or a new directory under the system's temp
// directory. It outlives the test, so that the failure can name it.
func artifactDir() (string, error) {
	if d := os.Getenv("TRUCE_ROBUSTNESS_OUT"); d != "" {
		return d, os.MkdirAll(d, 0o755)
	}
	return os.MkdirTemp("", "truce-robustness-")
}

// recordedOp is one operation as written to history.json.
type recordedOp struct {
	Client int   `json:"client"`
	Call   int64 `json:"callNs"`
	Return int64 `json:"returnNs"`
	Input  any   `json:"input"`
	Output any   `json:"output"`
}

// writeArtifacts writes name.history.json (every operation, times in ns
// since the run began) and name.html (porcupine's visualization of the
// partitions, with the longest linearizable prefix of the failing one), and
// returns their paths.
func writeArtifacts(name string, model porcupine.Model, history []porcupine.Operation, info porcupine.LinearizationInfo, faults []FaultRecord) (string, string, error) {
	dir, err := artifactDir()
	if err != nil {
		return "", "", err
	}
	ops := make([]recordedOp, len(history))
	for i, op := range history {
		ops[i] = recordedOp{Client: op.ClientId, Call: op.Call, Return: op.Return, Input: op.Input, Output: op.Output}
	}
	b, err := json.MarshalIndent(struct {
		Faults     []FaultRecord `json:"faults"`
		Operations []recordedOp  `json:"operations"`
	}{faults, ops}, "", " ")
	if err != nil {
		return "", "", err
	}
	hist := filepath.Join(dir, name+".history.json")
	if err := os.WriteFile(hist, b, 0o644); err != nil {
		return "", "", err
	}
	html := filepath.Join(dir, name+".html")
	if err := porcupine.VisualizePath(model, info, html); err != nil {
		return hist, "", fmt.Errorf("visualize: %w", err)
	}
	return hist, html, nil
}
