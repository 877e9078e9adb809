package workflow_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/failback/failback/config"
	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

// A failure during phase 2 (the Azure VMs are off) does not leave both
// sides down: the driver tries again by itself, from the journals, says
// so, and the failback ends pending commit.
func TestPhase2FailureIsRetriedWithinTheDowntimeWindow(t *testing.T) {
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{{Name: "files", Disks: []int64{4 << 20}}}})
	l.Cfg.Engine.DowntimeRetry = config.Span(time.Minute)
	var fails atomic.Int32
	d := l.Deps()
	d.StepHook = func(_ context.Context, _, step string) error {
		if step == "verify" && fails.Add(1) <= 2 {
			return errors.New("storage call failed three times (injected)")
		}
		return nil
	}
	m := l.Open(d)
	id, err := m.Start(context.Background(), workflow.Choices{VM: "files", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncFull}, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	log := labtest.LogText(m, id)
	if strings.Count(log, "failback tries again") != 2 {
		t.Fatalf("the retries are not said in the log:\n%s", log)
	}
}

// When the window runs out, the job stops saying exactly what can be
// done: resume (retry phase 2) or cancel (Azure runs again).
func TestPhase2StopsForResumeOrCancelWhenTheWindowRunsOut(t *testing.T) {
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{{Name: "files", Disks: []int64{4 << 20}}}})
	l.Cfg.Engine.DowntimeRetry = config.Span(3 * time.Second)
	d := l.Deps()
	d.StepHook = func(_ context.Context, _, step string) error {
		if step == "verify" {
			return errors.New("storage unreachable (injected)")
		}
		return nil
	}
	m := l.Open(d)
	id, err := m.Start(context.Background(), workflow.Choices{VM: "files", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncFull}, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	v := labtest.Wait(t, m, id, jobTimeout, workflow.StateFailed)
	if !strings.Contains(v.Error, "phase 2 was tried") {
		t.Fatalf("the error does not say phase 2 was retried: %q", v.Error)
	}
	const says = "the Azure VMs are off: resume continues phase 2 from the journals; cancel starts the Azure VMs again"
	labtest.WaitFor(t, "the failure saying what to do", 10*time.Second, func() bool {
		return strings.Contains(labtest.LogText(m, id), says)
	})
	var enabled []string
	for _, a := range m.Actions(id, labtest.Operator) {
		if a.Enabled {
			enabled = append(enabled, string(a.Action))
		}
	}
	if strings.Join(enabled, ",") != "cancel,resume" && strings.Join(enabled, ",") != "resume,cancel" {
		t.Fatalf("actions offered after the window: %v, want exactly resume and cancel", enabled)
	}
}

// A driver that stops during phase 2 (a crash, a closed console) leaves
// the job interrupted with the Azure VMs off; the next driver takes it up
// by itself, even a script command's that does not resume other jobs.
func TestInterruptedPhase2ResumesAtTheNextDriverByItself(t *testing.T) {
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{{Name: "files", Disks: []int64{4 << 20}}}})
	reached := make(chan struct{})
	d := l.Deps()
	d.StepHook = func(ctx context.Context, _, step string) error {
		if step == "verify" {
			close(reached)
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}
	m, err := workflow.Open(context.Background(), l.Cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	id, err := m.Start(context.Background(), workflow.Choices{VM: "files", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncFull}, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-reached:
	case <-time.After(jobTimeout):
		t.Fatal("phase 2 never reached verify")
	}
	_ = m.Close()

	d = l.Deps() // no hook, AutoResume off: a script command's driver
	m2 := l.Open(d)
	v := labtest.Wait(t, m2, id, jobTimeout, workflow.StatePendingCommit)
	if log := labtest.LogText(m2, id); !strings.Contains(log, "phase 2 was under way with the Azure VMs off, so it goes on by itself") {
		t.Fatalf("the resume is not said (state %s):\n%s", v.State, log)
	}
}
