package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Fragments that make a valid config when put together; tests change one
// thing and mark the line the problem must point at with "#<".
const (
	azureLab = `
state_dir = "state"
[azure]
compute = "lab"
lab_dir = "lab/azure"
[azure.storage]
connection_string = "UseDevelopmentStorage=true"
`
	siteDC = `
[[site]]
name = "dc1"
`
	hostSSH = `
[[host]]
name = "hv01.example.com"
site = "dc1"
transport = "ssh"
address = "hv01.example.com"
user = "failback"
key_file = "id_ed25519"
[[host.path_map]]
host = 'D:\VMs'
local = "/mnt/hv01/vms"
`
	vmWeb01 = `
[[vm]]
name = "web01"
host = "hv01.example.com"
generation = 2
[[vm.disk]]
blob = "vhds/web01-os.vhd"
image = 'D:\VMs\web01.vhdx'
`
	planWeb = `
[[plan]]
name = "web"
groups = [["web01"]]
`
)

// validDoc is a complete valid config.
const validDoc = azureLab + siteDC + hostSSH + vmWeb01 + planWeb

// writeConfig writes text as config.toml in a fresh folder.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadProblems loads text and returns its problems (failing if it loads
// without errors).
func loadProblems(t *testing.T, text string) (Problems, string) {
	t.Helper()
	path := writeConfig(t, text)
	_, err := Load(path)
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Load: want Problems, got %v (%T)", err, err)
	}
	return ps, path
}

// loadOK loads text and fails the test on any error.
func loadOK(t *testing.T, text string) *Config {
	t.Helper()
	c, err := Load(writeConfig(t, text))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

// markedLine is the 1-based line holding "#<", or 0.
func markedLine(text string) int {
	for i, l := range strings.Split(text, "\n") {
		if strings.Contains(l, "#<") {
			return i + 1
		}
	}
	return 0
}

// findProblem returns the problem at line whose text holds want.
func findProblem(ps Problems, line int, want string) (Problem, bool) {
	for _, p := range ps {
		if p.Line == line && strings.Contains(p.Error(), want) {
			return p, true
		}
	}
	return Problem{}, false
}

// hostShare is hostSSH writing its disks through the path_map.
var hostShare = strings.Replace(hostSSH, `key_file = "id_ed25519"`, "key_file = \"id_ed25519\"\ndata_path = \"share\"", 1)
