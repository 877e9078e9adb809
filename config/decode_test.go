package config

import (
	"strings"
	"testing"
)

// TestSyntaxErrorsKeepPlaceAndSayWhatToWrite proves TOML syntax and type
// errors keep the parser's line (and column) and are reworded with a fix.
func TestSyntaxErrorsKeepPlaceAndSayWhatToWrite(t *testing.T) {
	cases := []struct {
		name string
		text string
		col  int
		want []string
	}{
		{"Windows path in double quotes",
			"[[vm]]\nname = \"web01\"\n[[vm.disk]]\nimage = \"D:\\VMs\\web01.vhdx\" #<\n",
			0, []string{"not valid TOML: invalid escape", "'single quotes'", `"D:\\VMs\\web01.vhdx"`}},
		{"unquoted text",
			"[[vm]]\nname = web01 #<\n",
			8, []string{"not valid TOML: expected value", `put text in quotes (name = "web01")`}},
		{"key twice in one table",
			"[[host]]\nname = \"a\"\nname = \"b\" #<\n",
			1, []string{"has already been defined", "start a new [[host]]"}},
		{"string where a number belongs",
			"[engine]\nthreads = \"four\" #<\n",
			1, []string{"engine.threads must be an integer, not a string", "write the number without quotes"}},
		{"single brackets for a list of tables",
			"[vm] #<\nname = \"web01\"\n",
			1, []string{"vm must be a list of tables, not a table", "write [[vm]] (double brackets)"}},
		{"double brackets for a single table",
			"[[engine]] #<\nthreads = 4\n",
			1, []string{"engine must be a table, not a list of tables", "write [engine] (single brackets)"}},
		{"a string where a list belongs",
			"[[plan]]\nname = \"p\"\ngroups = \"web01\" #<\n",
			1, []string{"plan.groups must be a list, not a string", `["web01", "web02"]`}},
		{"a boolean in quotes",
			"[engine]\nverify = \"yes\" #<\n",
			1, []string{"engine.verify must be true or false, not a string"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			line := markedLine(tc.text)
			ps, path := loadProblems(t, tc.text)
			if len(ps) != 1 {
				t.Fatalf("want one problem, got %d:\n%v", len(ps), ps)
			}
			p := ps[0]
			if p.Line != line || p.File != path {
				t.Errorf("at %s:%d, want %s:%d: %s", p.File, p.Line, path, line, p.Error())
			}
			if tc.col != 0 && p.Col != tc.col {
				t.Errorf("column %d, want %d", p.Col, tc.col)
			}
			for _, w := range tc.want {
				if !strings.Contains(p.Error(), w) {
					t.Errorf("%q lacks %q", p.Error(), w)
				}
			}
		})
	}
}

// TestInvalidEscapeColumnPointsAtTheBackslash proves the column of a
// syntax error is computed from the parser's byte offset.
func TestInvalidEscapeColumnPointsAtTheBackslash(t *testing.T) {
	text := "[[vm]]\nname = \"web01\"\n[[vm.disk]]\nimage = \"D:\\VMs\\web01.vhdx\"\n"
	ps, _ := loadProblems(t, text)
	// image = "D:\VMs...: the backslash is the 12th character.
	if ps[0].Line != 4 || ps[0].Col != 12 {
		t.Errorf("at %d:%d, want 4:12: %s", ps[0].Line, ps[0].Col, ps[0].Error())
	}
}

// TestMissingFileSaysSo proves an unreadable file is an I/O error, not a
// list of problems.
func TestMissingFileSaysSo(t *testing.T) {
	_, err := Load("/nonexistent/config.toml")
	if err == nil || !strings.Contains(err.Error(), "read config") {
		t.Fatalf("err = %v", err)
	}
	if _, ok := err.(Problems); ok {
		t.Error("a missing file must not be reported as config problems")
	}
}
