package hyperv

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/failback/failback/internal/secret"
)

// TestLocalRunnerOffWindows: on other systems the local runner says what
// to configure instead of failing obscurely.
func TestLocalRunnerOffWindows(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("this checks the refusal on other systems")
	}
	_, err := NewPSHost("localhost", LocalRunner{}).ListSwitches(ctx)
	if !errors.Is(err, ErrUnreachable) || !errors.Is(err, ErrNotWindows) || !strings.Contains(err.Error(), "SSH address") {
		t.Fatalf("%v", err)
	}
}

func TestNewSSHRunnerRefusesIncompleteConfig(t *testing.T) {
	cases := map[string]SSHConfig{
		"address":     {User: "u", Password: secret.New("p"), KnownHostsFile: "/dev/null"},
		"key file or": {Addr: "hv01.example.com", User: "u", KnownHostsFile: "/dev/null"},
		"known_hosts": {Addr: "hv01.example.com", User: "u", Password: secret.New("p")},
		"read known":  {Addr: "hv01.example.com", User: "u", Password: secret.New("p"), KnownHostsFile: "/nonexistent/known_hosts"},
		"private key": {Addr: "hv01.example.com", User: "u", KeyFile: "/nonexistent/id_ed25519", KnownHostsFile: "/dev/null"},
	}
	for want, cfg := range cases {
		if _, err := NewSSHRunner(cfg); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", want, err)
		}
	}
}
