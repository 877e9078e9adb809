package config

import (
	"testing"

	"github.com/BurntSushi/toml"
)

// TestScanPositionsTrickyTOML proves the position scanner follows TOML the
// real parser accepts: comments with brackets, multi-line strings holding
// fake keys, quoted and dotted keys, inline tables, arrays of arrays and
// nested arrays of tables.
func TestScanPositionsTrickyTOML(t *testing.T) {
	text := `# [not.a.table] = 1
state_dir = "s" # [[vm]] in a comment
notes = """
name = "not a key"
[[host]]
"""
lit = '''x = 1'''
[[host]]
name = "hv01"
"path_map" = [ { host = 'D:\VMs', local = "/mnt/d" },
  { host = 'E:\', local = "/mnt/e" } ]
[[host]]
  name = "hv02"   # second
[[host.path_map]]
host = 'F:\'
[[vm]]
name = "a"
  [[vm.disk]]
  blob = "c/a.vhd"
  [[vm.disk]]
  blob = "c/b.vhd"
[[plan]]
groups = [
  ["a"],   # one
  ["b", "c"],
]
[azure]
storage.account_url = "https://x"
date = 1979-05-27 07:32:00Z
`
	var v any
	if _, err := toml.Decode(text, &v); err != nil {
		t.Fatalf("test text is not valid TOML: %v", err)
	}
	pos := scanPositions(text)
	want := map[string]position{
		"state_dir":                 {2, 1},
		"notes":                     {3, 1},
		"lit":                       {7, 1},
		"host":                      {8, 1},
		"host[0]":                   {8, 1},
		"host[0].name":              {9, 1},
		"host[0].path_map":          {10, 1},
		"host[0].path_map[0]":       {10, 16},
		"host[0].path_map[0].local": {10, 35},
		"host[0].path_map[1].host":  {11, 5},
		"host[1].name":              {13, 3},
		"host[1].path_map[0]":       {14, 1},
		"host[1].path_map[0].host":  {15, 1},
		"vm[0].disk[1].blob":        {21, 3},
		"plan[0].groups[0][0]":      {24, 4},
		"plan[0].groups[1][1]":      {25, 9},
		"azure.storage.account_url": {28, 1},
		"azure.date":                {29, 1},
	}
	for path, w := range want {
		if got, ok := pos[path]; !ok || got != w {
			t.Errorf("%s at %v (found %v), want %v", path, got, ok, w)
		}
	}
	if pos["vm"] != (position{16, 1}) {
		t.Errorf("vm at %v, want 16:1 (not the [[vm]] in a comment)", pos["vm"])
	}
	for _, fake := range []string{"name", "not.a.table", "not"} {
		if _, ok := pos[fake]; ok {
			t.Errorf("recorded %q from inside a string or comment", fake)
		}
	}
}

// TestPositionsAtFallsBackToParent proves a missing key is located at its
// table.
func TestPositionsAtFallsBackToParent(t *testing.T) {
	p := positions{"vm[1]": {7, 1}}
	if got, ok := p.at("vm[1].disk[0].image"); !ok || got.Line != 7 {
		t.Errorf("at = %v %v", got, ok)
	}
	if stripIndexes("vm[1].disk[0].image") != "vm.disk.image" || stripIndexes("plan[0].groups[1][2]") != "plan.groups" {
		t.Error("stripIndexes")
	}
}

// TestScannerSurvivesGarbage proves the scanner never panics or loops on
// text the parser would refuse.
func TestScannerSurvivesGarbage(t *testing.T) {
	for _, s := range []string{"", "[", "[[a", "a = ", "a = [1, ", "a = {b = ", `a = "x`, `a = """x`, "= 1", "a.b.", "[a]\nb = [[[[", "\"k\\", "a = '''"} {
		scanPositions(s)
	}
}
