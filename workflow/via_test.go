package workflow_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/failback/failback/engine"
	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

// viaSource stands for the agent's source: the direct snapshot, with
// figures of its own.
type viaSource struct{ engine.Source }

func (s viaSource) AgentStats() workflow.AgentView {
	return workflow.AgentView{AzureChecked: s.Size(), BlockBytes: 4000, LinkBytes: 3000, CompressionSaved: 1000, Fallback: true}
}

// A source opened through Deps.SourceVia reports into the disk's view
// (and the job's record, so a later process still shows it), and what it
// logs lands in the job's log with the disk it concerns, not on stderr.
func TestSourceViaFiguresAndWarningsReachTheJob(t *testing.T) {
	// Deps.SourceVia serves a driver writing through a share (movers: TestMoversReadThroughTheAgent).
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{{Name: "files", Disks: []int64{4 << 20}}}, Share: true})
	d := l.Deps()
	var opened atomic.Int64
	d.SourceVia = func(ctx context.Context, r workflow.SourceRequest) (engine.Source, func(), error) {
		opened.Add(1)
		r.Log.Warn("agent unreachable: reading the snapshot directly", "agent", "agent.example.com:8443", "retry_in", time.Minute)
		r.Log.Debug("not for the job's log")
		return viaSource{r.Direct}, func() {}, nil
	}
	m := l.Open(d)
	id, err := m.Start(context.Background(), workflow.Choices{VM: "files", Direction: workflow.DirAzureToOnPrem,
		Location: workflow.LocOriginal, Sync: workflow.SyncDelta}, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	v := labtest.Wait(t, m, id, jobTimeout, workflow.StateReady)
	a := v.VMs[0].Disks[0].Agent
	if opened.Load() != 1 || a == nil || a.AzureChecked != 4<<20 || a.LinkBytes != 3000 || a.CompressionSaved != 1000 || a.Fallback {
		t.Fatalf("agent figures after phase 1 (%d sources opened): %+v", opened.Load(), a)
	}
	var warn *workflow.LogLine
	for _, ll := range m.Log(id, 0) {
		if strings.Contains(ll.Text, "not for the job's log") {
			t.Errorf("a debug line reached the job's log: %q", ll.Text)
		}
		if strings.Contains(ll.Text, "agent unreachable") {
			warn = &ll
		}
	}
	if warn == nil || warn.Level != "warn" || warn.Text != "files files-disk0.vhd: agent unreachable: reading the snapshot directly (agent agent.example.com:8443, retry in 1m0s)" {
		t.Fatalf("agent warning in the job's log: %+v\n%s", warn, labtest.LogText(m, id))
	}
	_ = m.Close()
	ro := l.Open(workflow.Deps{ReadOnly: true})
	v, _ = ro.Job(id)
	if a := v.VMs[0].Disks[0].Agent; a == nil || a.AzureChecked != 4<<20 {
		t.Fatalf("agent figures lost with the process: %+v", a)
	}
}
