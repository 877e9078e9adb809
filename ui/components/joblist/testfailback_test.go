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

// A test failback is marked TEST in the list, a failback is not.
func TestTestJobsAreMarked(t *testing.T) {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	c := &common.Common{Ctx: context.Background(), Styles: styles.New(r), Keys: keys.New(),
		Who: workflow.Actor{Name: "alice", Role: workflow.RoleOperator}}
	m := New(c)
	m.SetJobs([]workflow.JobView{
		{ID: "261128-1342-f6", Title: "tier1-web", State: workflow.StateTesting, Choices: workflow.Choices{Test: true}, Test: &workflow.TestReport{}},
		{ID: "261128-1300-a1", Title: "tier2-apps", State: workflow.StateReady},
	})
	m.SetSize(100, 5)
	for _, l := range strings.Split(m.View(), "\n")[1:] {
		test := strings.Contains(l, "261128-1342-f6")
		if test != strings.Contains(l, "TEST tier1-web") || strings.Contains(l, "TEST tier2-apps") {
			t.Fatalf("list:\n%s", m.View())
		}
	}
}
