// Package testenv gives tests the real outside parts they need: qemu-img as
// the disk-format oracle and a running Azurite. A missing tool skips a test
// locally and fails it when CI=true, so CI can never pass by skipping.
package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/failback/failback/internal/azurite"
)

// InCI reports whether the tests run under CI, where nothing may be skipped.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing skips the test locally, or fails it in CI, because what is named
// is not available.
func Missing(t testing.TB, what string) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s is required in CI but is not available", what)
	}
	t.Skipf("%s not available; skipping (CI=true would fail here)", what)
}

// QemuImg returns the path of qemu-img, or skips/fails as Missing does.
func QemuImg(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("qemu-img")
	if err != nil {
		Missing(t, "qemu-img (Debian package qemu-utils)")
	}
	return p
}

// Qemu runs qemu-img with args and returns its combined output; a non-zero
// exit fails the test with that output.
func Qemu(t testing.TB, args ...string) string {
	t.Helper()
	bin := QemuImg(t)
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("qemu-img %v: %v\n%s", args, err, out)
	}
	return string(out)
}

var (
	azMu   sync.Mutex
	azPort int
	azErr  error
)

// AzuritePort returns the port of a running Azurite shared by the tests of
// this package (started once, in memory, on a free loopback port; it dies
// with the test process). FAILBACK_TEST_AZURITE_PORT names one already
// running, as .ci/run starts it.
func AzuritePort(t testing.TB) int {
	t.Helper()
	azMu.Lock()
	defer azMu.Unlock()
	if azPort == 0 && azErr == nil {
		azPort, azErr = startAzurite()
	}
	if azErr != nil {
		Missing(t, fmt.Sprintf("Azurite (%v)", azErr))
	}
	return azPort
}

// AzuriteConnectionString is the connection string of AzuritePort's server.
func AzuriteConnectionString(t testing.TB) string {
	t.Helper()
	return azurite.ConnectionString(AzuritePort(t))
}

func startAzurite() (int, error) {
	if v := os.Getenv("FAILBACK_TEST_AZURITE_PORT"); v != "" {
		return strconv.Atoi(v)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	bin, err := azurite.Ensure(context.Background(), filepath.Join(cache, "failback"), os.Stderr)
	if err != nil {
		return 0, err
	}
	srv, err := azurite.Start(context.Background(), bin, azurite.Options{})
	if err != nil {
		return 0, err
	}
	return srv.Port, nil
}

var (
	frontMu  sync.Mutex
	front    *azurite.Front
	frontErr error
)

// AzuriteFront returns the connection string of a blob endpoint in front
// of AzuritePort's server that answers snapshot diffs correctly, cleared
// ranges included (azurite.Front): tests of anything that rests on a diff
// use it, because Azurite alone omits cleared pages.
func AzuriteFront(t testing.TB) string {
	t.Helper()
	port := AzuritePort(t)
	frontMu.Lock()
	defer frontMu.Unlock()
	if front == nil && frontErr == nil {
		front, frontErr = azurite.StartFront(port, 0)
	}
	if frontErr != nil {
		t.Fatalf("azurite front: %v", frontErr)
	}
	return front.ConnectionString()
}
