package common

import (
	"strings"
	"testing"
)

// A size never splits from its unit at a line break: "17.0" at the end
// of one line and "MiB" at the start of the next read as two figures.
func TestWrapKeepsNumbersWithTheirUnits(t *testing.T) {
	text := "copy what changed since the last snapshot (the last catch-up pass moved 17.0 MiB), verify it"
	for w := 20; w <= 80; w++ {
		for _, lines := range [][]string{strings.Split(Wrap(text, w), "\n"), WrapCell(text, w)} {
			for _, l := range lines {
				if strings.HasPrefix(strings.TrimSpace(l), "MiB") || strings.HasSuffix(l, "17.0") {
					t.Fatalf("width %d splits the size: %q", w, lines)
				}
			}
		}
	}
	if got := Words("moved 3.0 GiB/s, 12 blocks and 40 MiB."); strings.Join(got, "|") != "moved|3.0 GiB/s,|12|blocks|and|40 MiB." {
		t.Fatalf("Words: %q", got)
	}
}
