package workflow_test

import (
	"context"
	"strings"
	"testing"

	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

func TestReverseReplicationSendsOnlyWhatChangedOnPremises(t *testing.T) {
	vm := labtest.VM{Name: "files", Disks: []int64{8 << 20}}
	counter := &labtest.Counter{}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}, Transport: counter})
	l.StartWriters(100)
	m := l.Open(l.Deps())
	ctx := context.Background()
	id, err := m.Start(ctx, workflow.Choices{VM: "files", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncFull}, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	if st := labtest.Action(m, id, workflow.ActReverse); st.Enabled || st.Why != "only after commit" {
		t.Fatalf("reverse before commit: %+v", st)
	}
	if err := m.Act(ctx, id, workflow.ActCommit, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateCommitted)

	// Right after commit nothing changed on premises: nothing is sent.
	counter.Reset()
	if err := m.Act(ctx, id, workflow.ActReverseOnce, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.WaitFor(t, "the first cycle", jobTimeout, func() bool {
		v, _ := m.Job(id)
		return v.ReverseCycles == 1 && v.State == workflow.StateCommitted
	})
	if counter.WriteBytes.Load() != 0 || counter.ReadBytes.Load() != 0 {
		t.Fatalf("a cycle right after commit moved data: up %d, down %d\n%s", counter.WriteBytes.Load(), counter.ReadBytes.Load(), labtest.LogText(m, id))
	}

	// The on-premises VM changes two 256 KiB blocks.
	img := l.Image("files", 0)
	labtest.WriteImage(t, img, 512<<10+100*1024, []byte(strings.Repeat("x", 9000)))
	labtest.WriteImage(t, img, 5<<20, []byte(strings.Repeat("y", 70000)))
	counter.Reset()
	if err := m.Act(ctx, id, workflow.ActReverseOnce, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	v := labtest.Wait(t, m, id, jobTimeout, workflow.StateCommitted)
	if v.ReverseCycles != 2 {
		t.Fatalf("reverse cycles %d", v.ReverseCycles)
	}
	if got := counter.WriteBytes.Load(); got != 2*256<<10 {
		t.Fatalf("reverse replication uploaded %d bytes, want exactly the two changed blocks (%d)\n%s", got, 2*256<<10, labtest.LogText(m, id))
	}
	if n := counter.ReadBytes.Load(); n != 0 {
		t.Fatalf("reverse replication downloaded %d bytes of blob data (%d reads): changes must be found locally", n, counter.Reads.Load())
	}
	if d := labtest.FirstDiff(labtest.ImageBytes(t, img), l.BlobBytes(l.Blob("files", 0))); d >= 0 {
		t.Fatalf("blob differs from the on-premises image at %d after reverse replication", d)
	}
	disk, _ := l.Storage.OpenDisk(ctx, l.Container, l.Blob("files", 0))
	snaps, _ := disk.ListSnapshots(ctx)
	points := 0
	for _, s := range snaps {
		if s.Purpose == "reverse" && s.JobID == id {
			points++
		}
	}
	if points != 1 {
		t.Fatalf("%d recovery points after one cycle: %+v", points, snaps)
	}

	// A second cycle with nothing changed sends nothing.
	counter.Reset()
	if err := m.Act(ctx, id, workflow.ActReverseOnce, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.WaitFor(t, "the third cycle", jobTimeout, func() bool {
		v, _ := m.Job(id)
		return v.ReverseCycles == 3 && v.State == workflow.StateCommitted
	})
	if counter.WriteBytes.Load() != 0 || counter.ReadBytes.Load() != 0 {
		t.Fatalf("an idle cycle moved data: up %d, down %d\n%s", counter.WriteBytes.Load(), counter.ReadBytes.Load(), labtest.LogText(m, id))
	}
}

func TestReverseReplicationOfAnEncryptedDiskEncryptsWithItsKey(t *testing.T) {
	vm := labtest.VM{Name: "sql", Disks: []int64{4 << 20}, Encrypted: true}
	counter := &labtest.Counter{}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}, Transport: counter})
	m := l.Open(l.Deps())
	ctx := context.Background()
	id, err := m.Start(ctx, workflow.Choices{VM: "sql", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncFull,
		CertThumbprint: l.Cert.Thumbprint}, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	if err := m.Act(ctx, id, workflow.ActCommit, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateCommitted)
	img := l.Image("sql", 0)
	labtest.WriteImage(t, img, 3<<20, []byte(strings.Repeat("secret on-premises change ", 400)))
	counter.Reset()
	if err := m.Act(ctx, id, workflow.ActReverseOnce, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.WaitFor(t, "the cycle", jobTimeout, func() bool {
		v, _ := m.Job(id)
		return v.ReverseCycles == 1 && v.State == workflow.StateCommitted
	})
	if counter.ReadBytes.Load() != 0 || counter.WriteBytes.Load() == 0 || counter.WriteBytes.Load() > 256<<10 {
		t.Fatalf("encrypted reverse cycle: up %d, down %d", counter.WriteBytes.Load(), counter.ReadBytes.Load())
	}
	// BlobBytes decrypts with the disk's original data key: the blob holds
	// the new bytes encrypted with that same key.
	if d := labtest.FirstDiff(labtest.ImageBytes(t, img), l.BlobBytes(l.Blob("sql", 0))); d >= 0 {
		t.Fatalf("decrypted blob differs from the image at %d", d)
	}
}

// A committed job interrupted during reverse replication offers only what
// applies after commit: its log line must not promise a Cancel that is
// refused.
func TestInterruptedReverseSaysResumeNotCancel(t *testing.T) {
	vm := labtest.VM{Name: "files", Disks: []int64{4 << 20}}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}})
	d := l.Deps()
	inReverse := make(chan struct{}, 1)
	d.StepHook = func(ctx context.Context, _, step string) error {
		if step != "reverse" {
			return nil
		}
		inReverse <- struct{}{}
		<-ctx.Done() // hold the job in reverse replication until the process ends
		return ctx.Err()
	}
	m := l.Open(d)
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
	if err := m.Act(ctx, id, workflow.ActReverse, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	<-inReverse
	_ = m.Close()

	m2 := l.Open(l.Deps())
	v, _ := m2.Job(id)
	if v.State != workflow.StateInterrupted {
		t.Fatalf("state %s after the process ended mid-reverse", v.State)
	}
	var line string
	for _, ll := range m2.Log(id, 0) {
		if strings.HasPrefix(ll.Text, "interrupted:") {
			line = ll.Text
		}
	}
	if !strings.Contains(line, "resume runs the unfinished reverse replication cycle again") || strings.Contains(line, "cancel rolls") {
		t.Fatalf("interrupted line of a reverse-replicating job: %q", line)
	}
	if st := labtest.Action(m2, id, workflow.ActCancel); st.Enabled {
		t.Fatalf("cancel offered after commit: %+v", st)
	}
}
