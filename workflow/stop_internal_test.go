package workflow

import (
	"strings"
	"testing"
)

// What a stopped job's log line offers follows the actions that apply:
// Cancel before the on-premises VMs run, Undo once they do, neither after
// commit.
func TestNextAfterStopOffersOnlyWhatApplies(t *testing.T) {
	started := []vmRecord{{Name: "web", StartedOnPrem: true}}
	for _, c := range []struct {
		name      string
		r         jobRecord
		want, not []string
	}{
		{"phase 1", jobRecord{Flow: flowStart, State: StateInterrupted, Was: StatePhase1},
			[]string{"resume continues", "cancel rolls every disk back"}, []string{"undo"}},
		{"VMs started", jobRecord{Flow: flowComplete, State: StateFailed, Was: StateStarting, VMs: started},
			[]string{"resume continues", "undo stops the on-premises VMs"}, []string{"cancel"}},
		{"committing", jobRecord{Flow: flowCommit, State: StateInterrupted, Was: StateCommitting},
			[]string{"resume finishes the commit", "no longer apply"}, []string{"rolls"}},
		{"reverse", jobRecord{Flow: flowReverse, State: StateInterrupted, Was: StateReverse},
			[]string{"reverse replication cycle again", "no longer apply"}, []string{"rolls"}},
		{"cancelling", jobRecord{Flow: flowCancel, State: StateInterrupted, Was: StateCancelling},
			[]string{"finishes rolling every disk back"}, nil},
	} {
		got := (&job{}).nextAfterStop(&c.r)
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", c.name, got, w)
			}
		}
		for _, n := range c.not {
			if strings.Contains(got, n) {
				t.Errorf("%s: %q offers %q", c.name, got, n)
			}
		}
	}
}
