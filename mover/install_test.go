package mover

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/failback/failback/hyperv"
)

// TestInstallCopiesOverSFTPAndEverySessionChecksTheFile: install copies
// this build to mover_dir over SFTP (a folder that does not exist yet),
// starts it there and remembers its build and hash; a session then runs
// it. A program changed on the host afterwards is refused with the
// command that installs it again. A build for another system, or no Go
// program at all, is refused before anything is copied.
func TestInstallCopiesOverSFTPAndEverySessionChecksTheFile(t *testing.T) {
	ctx := context.Background()
	_, sc := startExecServer(t)
	r, err := hyperv.NewSSHRunner(sc)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	hostDir := filepath.Join(t.TempDir(), "ProgramData", "failback")
	prog, state, driver := filepath.Join(hostDir, "failback"), filepath.Join(hostDir, "state"), t.TempDir()
	in, err := Install(ctx, r, InstallOptions{Host: "hv01", Binary: self, Program: prog, StateDir: state, DriverState: driver})
	if err != nil {
		t.Fatal(err)
	}
	sum, _ := FileSHA256(self)
	if in.SHA256 != sum || in.Build != Build() || in.Program != prog {
		t.Fatalf("installed %+v", in)
	}
	got, ok, err := LoadInstalled(driver, "hv01")
	if err != nil || !ok || got.SHA256 != sum {
		t.Fatalf("remembered %+v %v %v", got, ok, err)
	}
	if st, err := os.Stat(prog + ".new"); err == nil {
		t.Fatalf("the temporary copy stays: %v", st.Name())
	}
	fix := "failback mover install --host hv01"
	c := NewClient(SSH(r, prog, state), ClientOptions{Host: "hv01", Build: Build(), SHA256: got.SHA256, Fix: fix})
	if _, err := c.Hello(ctx); err != nil {
		t.Fatal(err)
	}
	c.Close()

	// Someone replaces the program on the host (here: the same build with
	// a byte more, which still runs).
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(prog); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(prog, append(b, 0), 0o755); err != nil {
		t.Fatal(err)
	}
	c = NewClient(SSH(r, prog, state), ClientOptions{Host: "hv01", Build: Build(), SHA256: got.SHA256, Fix: fix})
	defer c.Close()
	if _, err := c.Hello(ctx); !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), fix) || !strings.Contains(err.Error(), "SHA-256") {
		t.Fatalf("a changed program: %v", err)
	}

	_, err = Install(ctx, r, InstallOptions{Host: "hv02", Binary: self, Program: `C:\ProgramData\failback\failback.exe`, DriverState: driver})
	if err == nil || !strings.Contains(err.Error(), "needs windows/amd64") || !strings.Contains(err.Error(), "GOOS=windows GOARCH=amd64 go build") {
		t.Fatalf("a build for another system: %v", err)
	}
	notGo := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(notGo, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Install(ctx, r, InstallOptions{Host: "hv02", Binary: notGo, Program: prog, DriverState: driver}); err == nil || !strings.Contains(err.Error(), "not a Go program") {
		t.Fatalf("not a Go program: %v", err)
	}
	if _, ok, _ := LoadInstalled(driver, "hv02"); ok {
		t.Fatal("a refused install was remembered")
	}
}

// TestSFTPPath: Win32-OpenSSH names D:\x as /D:/x.
func TestSFTPPath(t *testing.T) {
	for in, want := range map[string]string{`C:\ProgramData\failback\failback.exe`: "/C:/ProgramData/failback/failback.exe", "/opt/failback": "/opt/failback"} {
		if got := hyperv.SFTPPath(in); got != want {
			t.Errorf("SFTPPath(%q) = %q, want %q", in, got, want)
		}
	}
}
