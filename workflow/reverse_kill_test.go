package workflow_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/failback/failback/config"
	"github.com/failback/failback/internal/testenv"
	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

// TestHelperReverseOnce is not a test: run as a child process by
// TestKilledReverseCycleNeverLeavesAMixtureWithoutAPoint, it opens a
// Manager on the drill's config.toml, asks the committed job for one
// reverse replication cycle and keeps driving it until it is killed.
func TestHelperReverseOnce(t *testing.T) {
	if os.Getenv("FAILBACK_WF_REVERSE_HELPER") != "1" {
		return
	}
	cfg, err := config.Load(os.Getenv("FAILBACK_WF_CONFIG"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Engine.BandwidthLimit = config.Bytes(512 << 10) // slow: the parent kills it mid-cycle
	d, release, err := labtest.DepsFromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	m, err := workflow.Open(context.Background(), cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Act(context.Background(), os.Getenv("FAILBACK_WF_JOB"), workflow.ActReverseOnce, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Minute) // killed long before
}

// A reverse replication cycle killed in the middle (kill -9) leaves the
// blob half-sent, but never a recovery point of that mixture; the next
// cycle sends everything changed since the last finished one, and its
// recovery point holds exactly the on-premises disk.
func TestKilledReverseCycleNeverLeavesAMixtureWithoutAPoint(t *testing.T) {
	vm := labtest.VM{Name: "files", Disks: []int64{8 << 20}}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}, BlockSize: "64K"})
	m, err := workflow.Open(context.Background(), l.Cfg, l.Deps())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id, err := m.Start(ctx, workflow.Choices{VM: "files", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncFull}, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	if err := m.Act(ctx, id, workflow.ActCommit, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateCommitted)
	_ = m.Close()

	// The on-premises VM changes 4 MiB: the cycle takes seconds at 512 KiB/s.
	img := l.Image("files", 0)
	labtest.WriteImage(t, img, 2<<20, []byte(strings.Repeat("z", 4<<20)))

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperReverseOnce$")
	cmd.Env = append(os.Environ(), "FAILBACK_WF_REVERSE_HELPER=1", "FAILBACK_WF_CONFIG="+l.ConfigFile, "FAILBACK_WF_JOB="+id,
		"FAILBACK_TEST_AZURITE_PORT="+strconv.Itoa(testenv.AzuritePort(t)))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	audit := filepath.Join(l.Cfg.StateDir, "jobs", id, "audit.log")
	labtest.WaitFor(t, "the child to be sending", jobTimeout, func() bool {
		b, _ := os.ReadFile(audit)
		return strings.Contains(string(b), "state: reverse-replicating")
	})
	time.Sleep(2 * time.Second) // about 1 MiB of the 4 sent
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if b, _ := os.ReadFile(audit); strings.Contains(string(b), "recovery point") {
		t.Fatal("the killed cycle left a recovery point: the test killed it too late")
	}

	d := l.Deps()
	d.AutoResume = true
	m2 := l.Open(d)
	labtest.WaitFor(t, "the resumed cycle", jobTimeout, func() bool {
		v, _ := m2.Job(id)
		return v.State == workflow.StateCommitted && v.ReverseCycles == 1
	})
	v, _ := m2.Job(id)
	if len(v.VMs[0].RecoveryPoints) != 1 {
		t.Fatalf("recovery points after the resumed cycle: %+v", v.VMs[0].RecoveryPoints)
	}
	want := labtest.ImageBytes(t, img)
	if d := labtest.FirstDiff(want, l.BlobBytes(l.Blob("files", 0))); d >= 0 {
		t.Fatalf("the blob differs from the on-premises disk at %d after the resumed cycle", d)
	}
	disk, err := l.Storage.OpenDisk(ctx, l.Container, l.Blob("files", 0))
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := disk.ListSnapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var point string
	for _, s := range snaps {
		if s.Purpose == "reverse" {
			point = s.ID
		}
	}
	if point == "" || labtest.FirstDiff(want, snapshotBytes(t, disk, point)) >= 0 {
		t.Fatalf("the recovery point %q does not hold the on-premises disk", point)
	}
}
