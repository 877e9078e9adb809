package workflow_test

import (
	"context"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

func TestSecondDriverIsRefusedNamingTheFirst(t *testing.T) {
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{{Name: "files", Disks: []int64{2 << 20}}}})
	d := l.Deps()
	d.Command = "failback serve --listen :2222"
	l.Open(d)
	_, err := workflow.Open(context.Background(), l.Cfg, l.Deps())
	var be *workflow.BusyError
	if !errors.Is(err, workflow.ErrBusy) || !errors.As(err, &be) || be.PID != os.Getpid() || !strings.Contains(err.Error(), "failback serve --listen :2222") {
		t.Fatalf("second Open: %v", err)
	}
}

func TestClientDrivesJobsThroughTheControlSocket(t *testing.T) {
	vm := labtest.VM{Name: "files", Disks: []int64{4 << 20}}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}})
	m := l.Open(l.Deps())
	ctx := context.Background()
	c, err := workflow.Dial(ctx, l.Cfg.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if pid, _ := c.Driver(); pid != os.Getpid() {
		t.Fatalf("driver pid %d", pid)
	}
	// The disks' sizes arrive in the background: compare once both agree
	// on a settled answer.
	labtest.WaitFor(t, "the same plans and sites through the socket", 30*time.Second, func() bool {
		return reflect.DeepEqual(c.Plans(), m.Plans()) && reflect.DeepEqual(c.Sites(), m.Sites())
	})
	viewer := workflow.Actor{Name: "eve", Role: workflow.RoleViewer, Via: "cli"}
	full := workflow.Choices{VM: "files", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncFull}
	if _, err := c.Start(ctx, full, viewer); !errors.Is(err, workflow.ErrNotAllowed) {
		t.Fatalf("viewer start through the socket: %v", err)
	}
	if _, err := c.Start(ctx, workflow.Choices{VM: "nope", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncFull}, labtest.Operator); err == nil {
		t.Fatal("unknown VM started")
	}
	id, err := c.Start(ctx, full, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, c, id, jobTimeout, workflow.StatePendingCommit) // long polls
	if err := c.Act(ctx, id, workflow.ActComplete, labtest.Operator); !errors.Is(err, workflow.ErrRefused) {
		t.Fatalf("complete on a pending-commit job: %v", err)
	}
	if err := c.Act(ctx, "nope", workflow.ActCommit, labtest.Operator); !errors.Is(err, workflow.ErrUnknownJob) {
		t.Fatalf("unknown job: %v", err)
	}
	if err := c.Act(ctx, id, workflow.ActCommit, viewer); !errors.Is(err, workflow.ErrNotAllowed) {
		t.Fatalf("viewer commit: %v", err)
	}
	// The caller's word about who it is counts for nothing: the kernel
	// says which user is at the other end of the socket.
	forged := workflow.Actor{Name: "ceo@board", Role: workflow.RoleOperator, Via: "ssh"}
	if err := c.Act(ctx, id, workflow.ActCommit, forged); err != nil {
		t.Fatal(err)
	}
	v := labtest.Wait(t, c, id, jobTimeout, workflow.StateCommitted)
	if mv, _ := m.Job(id); mv.State != v.State {
		t.Fatal("the client's view differs from the driver's")
	}
	labtest.WaitFor(t, "the client to see the driver's whole log", jobTimeout, func() bool { return len(c.Log(id, 0)) == len(m.Log(id, 0)) })
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	log := labtest.LogText(c, id)
	if !strings.Contains(log, me.Username+" asked to commit (via socket)") || strings.Contains(log, "ceo@board") {
		t.Fatalf("the audit log does not name the socket's peer (%s) alone:\n%s", me.Username, log)
	}
	audit, err := os.ReadFile(filepath.Join(l.Cfg.StateDir, "jobs", id, "audit.log"))
	if err != nil || !strings.Contains(string(audit), `"who":"`+me.Username+` (operator via socket)"`) || strings.Contains(string(audit), "ceo@board") {
		t.Fatalf("audit.log names a forged actor (%v):\n%s", err, audit)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := workflow.Dial(ctx, l.Cfg.StateDir); !errors.Is(err, workflow.ErrNoDriver) {
		t.Fatalf("dial after the driver closed: %v", err)
	}
}

func TestViewersCannotActAndSeeWhy(t *testing.T) {
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{{Name: "files", Disks: []int64{2 << 20}}}})
	m := l.Open(l.Deps())
	viewer := workflow.Actor{Name: "eve", Role: workflow.RoleViewer, Via: "ssh"}
	full := workflow.Choices{VM: "files", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncFull}
	if _, err := m.Start(context.Background(), full, viewer); !errors.Is(err, workflow.ErrNotAllowed) {
		t.Fatalf("viewer start: %v", err)
	}
	id, err := m.Start(context.Background(), full, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	for _, st := range m.Actions(id, viewer) {
		if st.Enabled || st.Why == "" {
			t.Fatalf("viewer action %+v", st)
		}
		if st.Action == workflow.ActCommit && st.Why != workflow.ErrNotAllowed.Error() {
			t.Fatalf("viewer commit: %+v", st)
		}
	}
}
