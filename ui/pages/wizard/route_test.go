package wizard

import (
	"context"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/failback/failback/ui/common"
	"github.com/failback/failback/ui/keys"
	"github.com/failback/failback/ui/styles"
	"github.com/failback/failback/ui/uitest"
	"github.com/failback/failback/workflow"
)

func testState() *state {
	f := uitest.New()
	c := &common.Common{Ctx: context.Background(), WorkCtx: context.Background(), Svc: f,
		Who: uitest.Operator, Styles: styles.New(nil), Keys: keys.New()}
	return &state{c: c, plans: f.Plans(), sites: f.Sites(),
		choices: workflow.Choices{Plan: "web-shop", Direction: workflow.DirAzureToOnPrem}}
}

// Only the answer to the latest question is taken, whatever the order
// answers arrive in.
func TestLocationTakesOnlyLatestAnswer(t *testing.T) {
	s := testState()
	l := newLocationStep(s)
	l.enter()
	first := l.req.id
	l.key(tea.KeyMsg{Type: tea.KeyTab}) // alternate: a new question
	second := l.req.id
	if first == second {
		t.Fatal("a new question kept the old request id")
	}
	stale := workflow.LocationReport{Host: "stale", OK: true}
	latest := workflow.LocationReport{Host: "latest", OK: false}

	l.Update(loaded[workflow.LocationReport]{id: first, val: stale})
	if l.rep != nil || !l.busy() {
		t.Fatalf("an answer to a superseded question was taken: %+v", l.rep)
	}
	l.Update(loaded[workflow.LocationReport]{id: second, val: latest})
	if l.rep == nil || l.rep.Host != "latest" || l.busy() {
		t.Fatalf("the latest answer was not taken: %+v", l.rep)
	}
	l.Update(loaded[workflow.LocationReport]{id: first, val: stale})
	if l.rep.Host != "latest" {
		t.Fatalf("a late stale answer replaced the latest one: %+v", l.rep)
	}
}

// A step's answers never reach another step, even with equal ids.
func TestAnswersRouteByType(t *testing.T) {
	s := testState()
	pre := newPreflightStep(s)
	pre.enter()
	y := newSyncStep(s)
	y.req.id, y.req.busy = pre.req.id, true // same id, other step
	y.Update(loaded[workflow.PreflightReport]{id: pre.req.id, val: workflow.PreflightReport{OK: true}})
	if y.est != nil || !y.busy() {
		t.Fatal("the sync step took a pre-flight answer")
	}
	pre.Update(loaded[workflow.PreflightReport]{id: pre.req.id, val: workflow.PreflightReport{OK: true}})
	if pre.rep == nil || !pre.rep.OK {
		t.Fatal("the pre-flight step did not take its answer")
	}
}
