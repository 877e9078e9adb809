package labtest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/failback/failback/workflow"
)

// Operator is the actor tests act as.
var Operator = workflow.Actor{Name: "tester", Role: workflow.RoleOperator, Via: "test"}

// Wait waits until the job is in one of states and returns its view. A
// job that fails instead (unless failed is among states) fails the test
// with its log.
func Wait(t testing.TB, svc workflow.Service, id string, timeout time.Duration, states ...workflow.JobState) workflow.JobView {
	t.Helper()
	ch, stop := svc.Subscribe()
	defer stop()
	deadline := time.After(timeout)
	for {
		v, ok := svc.Job(id)
		if ok && slices.Contains(states, v.State) {
			return v
		}
		if ok && (v.State == workflow.StateFailed || v.State == workflow.StateInterrupted) {
			t.Fatalf("job %s is %s (%s), wanted %v\n%s", id, v.State, v.Error, states, LogText(svc, id))
		}
		select {
		case <-ch:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("job %s still %s after %s, wanted %v\n%s", id, v.State, timeout, states, LogText(svc, id))
		}
	}
}

// WaitFor polls cond until it holds.
func WaitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// LogText is a job's log, one line per event.
func LogText(svc workflow.Service, id string) string {
	var b strings.Builder
	for _, l := range svc.Log(id, 0) {
		fmt.Fprintf(&b, "  %s %-5s %s\n", l.Time.Format("15:04:05.000"), l.Level, l.Text)
	}
	return b.String()
}

// Action returns the state of one action.
func Action(svc workflow.Service, id string, a workflow.Action) workflow.ActionState {
	for _, s := range svc.Actions(id, Operator) {
		if s.Action == a {
			return s
		}
	}
	return workflow.ActionState{Action: a}
}
