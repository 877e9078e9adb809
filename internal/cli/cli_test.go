package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommandTableIsTheOneList proves the command table is sound and
// follows the layout: names are unique, every command has a summary and a
// Run, command NAME is defined in cmd_NAME.go, and every cmd_*.go file is
// a command of the table.
func TestCommandTableIsTheOneList(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range commands() {
		if seen[c.Name] {
			t.Errorf("command %q is listed twice", c.Name)
		}
		seen[c.Name] = true
		if c.Summary == "" || c.Run == nil {
			t.Errorf("command %q lacks a summary or a Run", c.Name)
		}
		if _, err := os.Stat("cmd_" + c.Name + ".go"); err != nil {
			t.Errorf("command %q: %v (command NAME lives in cmd_NAME.go)", c.Name, err)
		}
	}
	files, err := filepath.Glob("cmd_*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		if name := strings.TrimSuffix(strings.TrimPrefix(f, "cmd_"), ".go"); !seen[name] {
			t.Errorf("%s defines no command of the table in cli.go", f)
		}
	}
}
