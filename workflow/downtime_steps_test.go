package workflow_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

// overlap counts calls in flight, and the most at once.
type overlap struct {
	mu       sync.Mutex
	now, top int
}

func (o *overlap) enter() {
	o.mu.Lock()
	o.now++
	o.top = max(o.top, o.now)
	o.mu.Unlock()
}

func (o *overlap) leave() {
	o.mu.Lock()
	o.now--
	o.mu.Unlock()
}

func (o *overlap) most() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.top
}

func (o *overlap) reset() {
	o.mu.Lock()
	o.top = o.now
	o.mu.Unlock()
}

// slowSnapshots makes every snapshot take a while, so snapshots taken
// one after the other cannot pass for snapshots taken together.
type slowSnapshots struct {
	azure.DiskOpener
	o *overlap
}

func (s slowSnapshots) OpenVMDisk(ctx context.Context, ref azure.DiskRef) (azure.VMDisk, error) {
	d, err := s.DiskOpener.OpenVMDisk(ctx, ref)
	if err != nil {
		return nil, err
	}
	return slowSnapshotDisk{VMDisk: d, o: s.o}, nil
}

type slowSnapshotDisk struct {
	azure.VMDisk
	o *overlap
}

func (d slowSnapshotDisk) CreateSnapshot(ctx context.Context, o azure.SnapshotOptions) (azure.Snapshot, error) {
	d.o.enter()
	defer d.o.leave()
	time.Sleep(150 * time.Millisecond)
	return d.VMDisk.CreateSnapshot(ctx, o)
}

// slowStart makes starting a VM take a while, for the same reason.
type slowStart struct {
	hyperv.Host
	o *overlap
}

func (h slowStart) StartVM(ctx context.Context, name string) error {
	h.o.enter()
	defer h.o.leave()
	time.Sleep(150 * time.Millisecond)
	return h.Host.StartVM(ctx, name)
}

// Complete on a plan of three VMs with two disks each: every disk's final
// snapshot is taken at once (phase 1 took two at a time), the VMs of a
// group start together while the groups keep their order, and the job
// says where the downtime went, step by step, in its view, its log and
// `status`.
func TestCompleteRunsTheDowntimeTogetherAndSaysWhereItsTimeWent(t *testing.T) {
	vms := []labtest.VM{{Name: "db", Disks: []int64{2 << 20, 2 << 20}}, {Name: "web1", Disks: []int64{2 << 20, 2 << 20}},
		{Name: "web2", Disks: []int64{2 << 20, 2 << 20}}}
	l := labtest.New(t, labtest.Options{VMs: vms, Plans: map[string][][]string{"tier": {{"db"}, {"web1", "web2"}}}})
	d := l.Deps()
	snaps, starts := &overlap{}, &overlap{}
	d.Disks = slowSnapshots{DiskOpener: d.Disks, o: snaps}
	for name, h := range d.Hosts {
		d.Hosts[name] = slowStart{Host: h, o: starts}
	}
	m := l.Open(d)
	ctx := context.Background()
	id, err := m.Start(ctx, workflow.Choices{Plan: "tier", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncDelta}, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateReady)
	if n := snaps.most(); n > 2 {
		t.Fatalf("phase 1 took %d snapshots at once; the Azure VMs run then, two disks at a time", n)
	}
	if v, _ := m.Job(id); v.Downtime != nil {
		t.Fatalf("a downtime before Complete: %+v", v.Downtime)
	}
	snaps.reset()
	if err := m.Act(ctx, id, workflow.ActComplete, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	v := labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	if n := snaps.most(); n != 6 {
		t.Errorf("phase 2 took the 6 final snapshots %d at a time, want all at once", n)
	}
	if n := starts.most(); n != 2 {
		t.Errorf("%d on-premises VMs started at once, want the 2 of group 2 together (and db alone before them)", n)
	}
	dt := v.Downtime
	if dt == nil || dt.Ended.IsZero() {
		t.Fatalf("no finished downtime in the view: %+v", dt)
	}
	steps := map[string]time.Duration{"shutdown": dt.Shutdown, "snapshot": dt.Snapshot, "transfer": dt.Transfer, "verify": dt.Verify, "start": dt.Start}
	var sum time.Duration
	for name, took := range steps {
		if took <= 0 {
			t.Errorf("step %s took %v", name, took)
		}
		sum += took
	}
	if dt.Snapshot < 150*time.Millisecond {
		t.Errorf("the final snapshots took %v, less than one of them takes: the step's time is not theirs", dt.Snapshot)
	}
	if dt.Total < sum || dt.Other != dt.Total-sum {
		t.Errorf("total %v, other %v, steps %v", dt.Total, dt.Other, sum)
	}
	log := labtest.LogText(m, id)
	for _, want := range []string{"phase 2: snapshot took", "phase 2: transfer took", "downtime " + dt.Total.Round(time.Millisecond).String() + ": shutdown "} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
	// The older snapshots are deleted, but once the VMs run: no part of
	// the downtime.
	const deleted = "older snapshot(s) of this job deleted"
	began := strings.Index(log, "state: "+string(workflow.StateShutdown))
	ended := strings.Index(log, "downtime "+dt.Total.Round(time.Millisecond).String()+": shutdown ")
	if began < 0 || strings.Contains(log[began:ended], deleted) || !strings.Contains(log[ended:], deleted) {
		t.Errorf("older snapshots must be deleted after the downtime (%d to %d), not during it:\n%s", began, ended, log)
	}
	for _, vm := range vms {
		for i := range vm.Disks {
			disk, err := l.Storage.OpenDisk(ctx, l.Container, l.Blob(vm.Name, i))
			if err != nil {
				t.Fatal(err)
			}
			if snaps, err := disk.ListSnapshots(ctx); err != nil || len(snaps) != 1 || snaps[0].Purpose != "final" {
				t.Errorf("%s disk %d keeps snapshots %+v (%v) once pending commit, want only the final one", vm.Name, i, snaps, err)
			}
		}
	}
}
