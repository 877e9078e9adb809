package hyperv

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden scripts in testdata/scripts")

// step is one expected script and the recorded answer to it.
type step struct {
	golden string // testdata/scripts/<golden>.ps1
	output string // testdata/outputs/<output>.json, or "" for stdout below
	stdout string
	stderr string
	exit   int
	err    error
}

// replayRunner expects exactly the golden scripts, in order, and answers
// with recorded outputs.
type replayRunner struct {
	t     *testing.T
	mu    sync.Mutex
	steps []step
	n     int
}

func (r *replayRunner) Describe() string { return "replay" }

func (r *replayRunner) Run(ctx context.Context, script string) (Output, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n >= len(r.steps) {
		r.t.Errorf("unexpected script:\n%s", script)
		return Output{}, fmt.Errorf("unexpected script")
	}
	st := r.steps[r.n]
	r.n++
	checkGolden(r.t, filepath.Join("testdata", "scripts", st.golden+".ps1"), script)
	if st.err != nil {
		return Output{}, st.err
	}
	out := Output{Stdout: []byte(st.stdout), Stderr: []byte(st.stderr), ExitCode: st.exit}
	if st.output != "" {
		b, err := os.ReadFile(filepath.Join("testdata", "outputs", st.output+".json"))
		if err != nil {
			r.t.Fatal(err)
		}
		out.Stdout = b
		if strings.HasPrefix(st.output, "error-") {
			out.ExitCode = 1
		}
	}
	return out, nil
}

func (r *replayRunner) done() {
	r.t.Helper()
	if r.n != len(r.steps) {
		r.t.Errorf("%d of %d expected scripts were run", r.n, len(r.steps))
	}
}

// checkGolden compares text with a golden file, or rewrites it with -update.
func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./hyperv -run %s -update to create it)", err, t.Name())
	}
	if string(want) == got {
		return
	}
	wl, gl := strings.Split(string(want), "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			t.Fatalf("%s differs at line %d:\nwant: %q\ngot:  %q\n(if the change is intended: go test ./hyperv -update)", path, i+1, w, g)
		}
	}
}

func replayHost(t *testing.T, steps ...step) (*PSHost, *replayRunner) {
	r := &replayRunner{t: t, steps: steps}
	t.Cleanup(r.done)
	return NewPSHost("hv01.example.com", r), r
}
