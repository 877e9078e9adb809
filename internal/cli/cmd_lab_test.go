//go:build unix

package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/creack/pty"

	"github.com/failback/failback/lab"
)

// The lab itself is tested in lab/ and lab/e2e; these tests cover what
// lab up does once the lab runs: open the console, or say what to run.

func readyLab(t *testing.T) *lab.Manifest {
	t.Helper()
	dir := t.TempDir()
	return &lab.Manifest{Dir: dir, Config: "config.toml",
		Certs: []lab.Cert{{File: "lab-encryption.pem", Thumbprint: "0123456789ABCDEF0123456789ABCDEF01234567", Unlocks: true}}}
}

func withConsole(t *testing.T, f func(ctx context.Context, s Stdio, configPath string) error) {
	old := openConsole
	openConsole = f
	t.Cleanup(func() { openConsole = old })
}

func TestLabUpOpensTheConsoleOnATerminal(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("open a pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	go func() { _, _ = bytes.NewBuffer(nil).ReadFrom(ptmx) }()
	m := readyLab(t)
	var opened []string
	withConsole(t, func(_ context.Context, _ Stdio, cfg string) error {
		opened = append(opened, cfg)
		return nil
	})
	s := Stdio{In: strings.NewReader(""), Out: tty, Err: tty}
	if err := labReady(context.Background(), s, m, false); err != nil {
		t.Fatal(err)
	}
	if len(opened) != 1 || opened[0] != filepath.Join(m.Dir, "config.toml") {
		t.Fatalf("console opened on %v, want the lab's config.toml once", opened)
	}
	if err := labReady(context.Background(), s, m, true); err != nil || len(opened) != 1 {
		t.Fatalf("--no-console opened the console (%d times), %v", len(opened), err)
	}
}

func TestLabUpPrintsNextStepsWithoutATerminalOrConsole(t *testing.T) {
	m := readyLab(t)
	called := false
	withConsole(t, func(context.Context, Stdio, string) error { called = true; return nil })
	var out bytes.Buffer
	if err := labReady(context.Background(), Stdio{Out: &out, Err: &out}, m, false); err != nil {
		t.Fatal(err)
	}
	if called {
		t.Fatal("the console opened on output that is not a terminal")
	}
	cfg := filepath.Join(m.Dir, "config.toml")
	for _, want := range []string{
		"--config " + cfg + "\n",
		"run --config " + cfg + " --plan tier1-web --sync delta --yes",
		"complete --config " + cfg + " JOB",
		"commit --config " + cfg + " --yes JOB",
		"serve --config " + cfg + "\n",
		"ssh -t -p 2222 127.0.0.1",
		"--plan tier2-apps --sync delta --cert 0123456789ABCDEF0123456789ABCDEF01234567 --yes",
		"--location alternate --host hv03",
		"lab down --dir " + m.Dir,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("next steps lack %q:\n%s", want, out.String())
		}
	}

	withConsole(t, nil) // a build without the console: next steps, even on a terminal
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("open a pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	go func() { _, _ = bytes.NewBuffer(nil).ReadFrom(ptmx) }()
	if err := labReady(context.Background(), Stdio{Out: tty, Err: tty}, m, false); err != nil {
		t.Fatal(err)
	}
}
