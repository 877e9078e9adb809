package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/failback/failback/config"
)

// runCLI runs failback with args and returns stdout, stderr and the exit code.
func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, Stdio{In: strings.NewReader(""), Out: &out, Err: &errb})
	return out.String(), errb.String(), code
}

func fixture(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "config", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConfigCheckOK proves a valid file prints the summary and exits 0.
func TestConfigCheckOK(t *testing.T) {
	p := fixture(t, "minimal.toml")
	out, errOut, code := runCLI(t, "config", "check", "--config", p)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	want := "config OK: 1 VM (1 disk), 1 plan, 1 host in 1 site: " + p + "\n"
	if out != want {
		t.Errorf("stdout = %q, want %q", out, want)
	}
}

// TestConfigCheckListsEveryProblem proves problems are all listed with
// file:line and the exit code is 1.
func TestConfigCheckListsEveryProblem(t *testing.T) {
	p := fixture(t, "broken.toml")
	out, errOut, code := runCLI(t, "config", "check", "--config", p)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{
		p + ":10:1: threads = 64 is out of range",
		p + `:16:1: unknown key "pasword"`,
		p + `:25:23: plan "web" names VM "web1"`,
		p + `:30:1: unknown key "bind" in [ssh]`,
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q, want prefix %q", i+1, lines[i], w)
		}
	}
	if !strings.Contains(errOut, "has 4 problems") {
		t.Errorf("stderr = %q", errOut)
	}
}

// TestConfigCheckJSON proves --json reports the same, machine-readably.
func TestConfigCheckJSON(t *testing.T) {
	out, _, code := runCLI(t, "config", "check", "--json", "--config", fixture(t, "broken.toml"))
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	var rep checkReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if rep.OK || len(rep.Problems) != 4 || rep.Problems[2].Line != 25 || rep.Problems[2].Col != 23 || rep.Problems[2].Fix != `did you mean "web01"?` {
		t.Errorf("report = %+v", rep)
	}

	out, _, code = runCLI(t, "config", "check", "--json", "--config", fixture(t, "minimal.toml"))
	rep = checkReport{}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || !rep.OK || rep.VMs != 1 || rep.Disks != 1 || rep.Problems == nil {
		t.Errorf("exit %d report %+v (%v)", code, rep, err)
	}
}

// TestConfigFileFromEnvThenDefault proves the lookup order: --config, then
// $FAILBACK_CONFIG, then ./config.toml.
func TestConfigFileFromEnvThenDefault(t *testing.T) {
	t.Setenv(configEnv, fixture(t, "minimal.toml"))
	if out, _, code := runCLI(t, "config", "check"); code != 0 || !strings.Contains(out, "minimal.toml") {
		t.Errorf("env: exit %d %s", code, out)
	}
	// --config wins over the environment.
	if _, _, code := runCLI(t, "config", "check", "--config", fixture(t, "broken.toml")); code != 1 {
		t.Errorf("--config did not win over $%s", configEnv)
	}

	minimal := fixture(t, "minimal.toml")
	t.Setenv(configEnv, "")
	dir := t.TempDir()
	t.Chdir(dir)
	_, errOut, code := runCLI(t, "config", "check")
	if code != 1 || !strings.Contains(errOut, "no config file at config.toml (the default)") || !strings.Contains(errOut, "config.toml.example") {
		t.Errorf("missing default: exit %d %q", code, errOut)
	}
	b, err := os.ReadFile(minimal)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "config.toml"), b, 0o600)
	if out, _, code := runCLI(t, "config", "check"); code != 0 || !strings.HasSuffix(out, ": config.toml\n") {
		t.Errorf("default: exit %d %q", code, out)
	}
}

// TestLoadConfigKeepsProblems proves other commands get the problems as a
// config.Problems through loadConfig's error.
func TestLoadConfigKeepsProblems(t *testing.T) {
	_, err := loadConfig(fixture(t, "broken.toml"))
	var ps config.Problems
	if !errors.As(err, &ps) || len(ps) != 4 {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "broken.toml:10:1:") {
		t.Errorf("error does not list the problems: %v", err)
	}
}

// TestConfigShowRedacts proves config show prints the effective config
// without the secret.
func TestConfigShowRedacts(t *testing.T) {
	out, _, code := runCLI(t, "config", "show", "--config", fixture(t, "minimal.toml"))
	if code != 0 || strings.Contains(out, "UseDevelopmentStorage") || !strings.Contains(out, `connection_string = "[redacted]"`) ||
		!strings.Contains(out, `threads = 8`) {
		t.Errorf("exit %d\n%s", code, out)
	}
}
