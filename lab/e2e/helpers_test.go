//go:build unix

// Package e2e runs the lab through failback's own command line, in this
// test process (cli.Main), as a user types it: lab up, lab status, the
// drill's failback commands, lab down. It is a folder of its own so that
// package lab's tests do not depend on every command's package.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/failback/failback/engine"
	"github.com/failback/failback/internal/cli"
	"github.com/failback/failback/internal/testenv"
	"github.com/failback/failback/lab"
	"github.com/failback/failback/mover"
	"github.com/failback/failback/vdisk"
)

// TestMain doubles as failback itself for the lab's Azure process, which
// lab up starts as '<this program> lab vms --dir DIR'.
func TestMain(m *testing.M) {
	if mover.IsChild(os.Args) { // a lab host's mover, started by a driver here
		mover.RunChild()
	}
	if len(os.Args) > 2 && os.Args[1] == "lab" && os.Args[2] == "vms" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := cli.Main(ctx, os.Args[1:], cli.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
		stop()
		os.Exit(code)
	}
	// What the tests start dies with this process, even on a timeout.
	os.Setenv("FAILBACK_LAB_TIE_TO_PARENT", "1")
	os.Exit(m.Run())
}

// result is one failback command's outcome.
type result struct {
	code     int
	out, err string
}

// failback runs the command line in this process.
func failback(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	code := cli.Main(ctx, args, cli.Stdio{In: strings.NewReader(""), Out: &out, Err: &errb})
	t.Logf("failback %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
	return result{code, out.String(), errb.String()}
}

// mustFailback runs a command that must succeed.
func mustFailback(t *testing.T, args ...string) result {
	t.Helper()
	r := failback(t, args...)
	if r.code != 0 {
		t.Fatalf("failback %s: exit %d: %s", strings.Join(args, " "), r.code, r.err)
	}
	return r
}

func needNode(t *testing.T) {
	t.Helper()
	for _, p := range []string{"node", "npm"} {
		if _, err := exec.LookPath(p); err != nil {
			testenv.Missing(t, "Node.js and npm (for Azurite)")
		}
	}
}

// labUp runs lab up --no-console with small disks in a test folder; the
// lab is taken down when the test ends, whatever happens.
func labUp(t *testing.T, extra ...string) (*lab.Manifest, result) {
	t.Helper()
	needNode(t)
	dir := filepath.Join(t.TempDir(), "lab")
	t.Cleanup(func() {
		if err := lab.Down(context.Background(), dir); err != nil {
			t.Errorf("clean-up: %v", err)
		}
	})
	args := append([]string{"lab", "up", "--no-console", "--dir", dir, "--disk-size", "64M"}, extra...)
	r := mustFailback(t, args...)
	m, err := lab.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m, r
}

func status(t *testing.T, dir string) (lab.Status, int) {
	t.Helper()
	r := failback(t, "lab", "status", "--json", "--dir", dir)
	var st lab.Status
	if r.code == 0 || r.code == 1 {
		if err := json.Unmarshal([]byte(r.out), &st); err != nil && r.out != "" {
			t.Fatalf("lab status --json printed something that is not a status: %v\n%s", err, r.out)
		}
	}
	return st, r.code
}

// differingBlocks compares a source with a local image (a differencing
// disk through its parent) per 1 MiB block.
func differingBlocks(t *testing.T, src engine.Source, image string) (differ, total int) {
	t.Helper()
	img, err := vdisk.OpenChain(image, vdisk.ChainOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if img.Size() != src.Size() {
		t.Fatalf("%s is %d bytes, its Azure disk %d", image, img.Size(), src.Size())
	}
	const block = 1 << 20
	a, b := make([]byte, block), make([]byte, block)
	for off := int64(0); off < src.Size(); off += block {
		n := min(block, src.Size()-off)
		if err := src.ReadAt(context.Background(), a[:n], off); err != nil {
			t.Fatal(err)
		}
		if _, err := img.ReadAt(b[:n], off); err != nil {
			t.Fatal(err)
		}
		total++
		if !bytes.Equal(a[:n], b[:n]) {
			differ++
		}
	}
	return differ, total
}

func vmNamed(m *lab.Manifest, name string) lab.VM {
	for _, v := range m.VMs {
		if v.Name == name {
			return v
		}
	}
	panic(fmt.Sprintf("no lab VM %s", name))
}
