package joblist

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/failback/failback/ui/common"
	"github.com/failback/failback/ui/keys"
	"github.com/failback/failback/ui/styles"
	"github.com/failback/failback/workflow"
)

// Ids of any length (an older state folder's long ones next to new short
// ones) keep every column aligned under its header, at 80 and 100.
func TestColumnsStayAlignedWhateverTheIDs(t *testing.T) {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	c := &common.Common{Ctx: context.Background(), Styles: styles.New(r), Keys: keys.New(),
		Who: workflow.Actor{Name: "alice", Role: workflow.RoleOperator}}
	jobs := []workflow.JobView{
		{ID: "261128-1342-f6", Title: "tier2-apps", State: workflow.StateCatchUp, Pass: 2, Owner: workflow.Actor{Name: "root"}},
		{ID: "20261128-133903-d228d6", Title: "tier1-web", State: workflow.StateReverse, Owner: workflow.Actor{Name: "root"}},
	}
	for _, w := range []int{80, 100} {
		m := New(c)
		m.SetJobs(jobs)
		m.SetSize(w, 5)
		lines := strings.Split(m.View(), "\n")
		if len(lines) != 3 {
			t.Fatalf("%d lines:\n%s", len(lines), m.View())
		}
		for _, col := range []string{"PLAN/VM", "STATE", "OWNER"} {
			at := strings.Index(lines[0], col)
			cells := []string{"tier2-apps", "catch-up #2", "root"}
			cells2 := []string{"tier1-web", "reverse-replicating", "root"}
			i := map[string]int{"PLAN/VM": 0, "STATE": 1, "OWNER": 2}[col]
			if got := strings.Index(lines[1], cells[i]); got != at {
				t.Errorf("%d columns: %q at %d, header %s at %d:\n%s", w, cells[i], got, col, at, m.View())
			}
			if got := strings.Index(lines[2], cells2[i]); got != at {
				t.Errorf("%d columns: %q at %d, header %s at %d:\n%s", w, cells2[i], got, col, at, m.View())
			}
		}
		for _, l := range lines {
			if lipgloss.Width(l) > w {
				t.Errorf("%d columns: line too wide: %q", w, l)
			}
		}
	}
}
