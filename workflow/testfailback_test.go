package workflow_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

func testChoices(plan string) workflow.Choices {
	return workflow.Choices{Plan: plan, Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncDelta, Test: true}
}

// originals hashes every on-premises disk file of the VMs (the bytes of
// the files, headers included: a read-only open must not even start a
// write session).
func originals(t *testing.T, l *labtest.Lab, vms ...labtest.VM) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	for _, vm := range vms {
		for i := range vm.Disks {
			out[l.Image(vm.Name, i)] = fileHash(t, l.Image(vm.Name, i))
		}
	}
	return out
}

// TestTestFailbackLeavesProductionUntouched is the drill of the issue: a
// test failback of a two-group plan while the Azure VMs keep writing.
// The test disks (children read through their parents) equal the Azure
// snapshot of the last pass byte for byte, the VMs' own disks are the
// same files before and after, the Azure VMs run throughout, the test VMs
// run on a private switch the test made and were checked, and End test
// leaves no VM, file or switch behind.
func TestTestFailbackLeavesProductionUntouched(t *testing.T) {
	o := twoVMPlan()
	l := labtest.New(t, o)
	l.StartWriters(100)
	before := originals(t, l, o.VMs...)
	m := l.Open(l.Deps())
	ctx := context.Background()
	id, err := m.Start(ctx, testChoices("app"), labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	v := labtest.Wait(t, m, id, jobTimeout, workflow.StateTesting)
	if v.Test == nil || !v.Choices.Test {
		t.Fatalf("a test job without its report: %+v", v)
	}
	if v.Percent != 100 {
		t.Fatalf("a test that is testing shows %.0f%%, not 100%%", v.Percent)
	}
	// The hosts' movers made and wrote the test disks: the journals are
	// in the host's mover state folder, none in the state folder here.
	if _, err := os.Stat(filepath.Join(l.Cfg.Host("hv01").MoverStateDir(), "jobs", id)); err != nil {
		t.Fatalf("no test journals on the host: %v", err)
	}
	if undo, _ := filepath.Glob(filepath.Join(l.Cfg.StateDir, "jobs", id, "disks", "*", "*", "pass-*", "undo")); len(undo) > 0 {
		t.Fatalf("test journals in the driver's state folder: %s", undo)
	}
	for _, vm := range v.VMs {
		for _, d := range vm.Disks {
			if !strings.Contains(d.Image, "failback-test-") {
				t.Fatalf("%s %s shows %s: a test's view must name the test disk it writes, not the VM's", vm.Name, d.Name, d.Image)
			}
		}
	}
	for _, a := range m.Actions(id, labtest.Operator) {
		if a.Why == "unknown action" {
			t.Fatalf("%s on a test: %q", a.Action, a.Why)
		}
	}
	hv := l.Hosts["hv01"]
	sw := "failback-test-app"
	if len(v.Test.Switches) != 1 || v.Test.Switches[0].Name != sw || !v.Test.Switches[0].CreatedByTest || v.Test.Switches[0].Type != "Private" {
		t.Fatalf("test switch: %+v", v.Test.Switches)
	}
	if v.Test.FinalPass <= 0 || len(v.Test.Steps) != 4 || slices.ContainsFunc(v.Test.Steps, func(s workflow.TestStep) bool { return !s.Done }) {
		t.Fatalf("final pass %s, steps %+v", v.Test.FinalPass, v.Test.Steps)
	}
	for _, vm := range o.VMs {
		rep := v.Test.VMs[slices.IndexFunc(v.Test.VMs, func(r workflow.TestVMReport) bool { return r.VM == vm.Name })]
		if rep.TestVM != vm.Name+"-test" || rep.State != "started" || len(rep.Checks) != 2 ||
			rep.Checks[0].What != "running" || !rep.Checks[0].OK || rep.Checks[1].What != "heartbeat" || !rep.Checks[1].OK {
			t.Fatalf("report of %s: %+v", vm.Name, rep)
		}
		tvm, err := hv.GetVM(ctx, vm.Name+"-test")
		if err != nil || tvm.State != hyperv.StateRunning {
			t.Fatalf("test VM of %s: %+v %v", vm.Name, tvm.State, err)
		}
		for _, a := range tvm.Adapters {
			if a.SwitchName != sw {
				t.Fatalf("test VM %s has an adapter on %s, not the test switch", tvm.Name, a.SwitchName)
			}
		}
		for i := range vm.Disks {
			d := rep.Disks[i]
			if d.Mode != "differencing" || d.Parent != l.Image(vm.Name, i) || tvm.Disks[i].HostPath != d.Image || tvm.Disks[i].ParentPath != l.Image(vm.Name, i) {
				t.Fatalf("test disk %d of %s: %+v, attached %+v", i, vm.Name, d, tvm.Disks[i])
			}
			last := lastPass(t, l, id, vm.Name, i)
			if last.Kind != "test-final" || !last.Done {
				t.Fatalf("%s disk %d: last pass %+v", vm.Name, i, last)
			}
			want := l.SnapshotBytes(l.Blob(vm.Name, i), last.Snapshot)
			if d := labtest.FirstDiff(want, labtest.ImageBytes(t, d.Image)); d >= 0 {
				t.Fatalf("%s disk %d: the test disk read through its parent differs from snapshot %s at %d", vm.Name, i, last.Snapshot, d)
			}
		}
	}
	checkAzureRunning(t, l, o.VMs...)
	for _, a := range []workflow.Action{workflow.ActComplete, workflow.ActCommit, workflow.ActReverse, workflow.ActUndo} {
		if st := labtest.Action(m, id, a); st.Enabled || !strings.Contains(st.Why, "never completes") {
			t.Fatalf("%s on a test: %+v", a, st)
		}
	}
	if err := m.Act(ctx, id, workflow.ActComplete, labtest.Operator); !errors.Is(err, workflow.ErrRefused) {
		t.Fatalf("complete a test: %v", err)
	}
	st := labtest.Action(m, id, workflow.ActEndTest)
	if !st.Enabled || !strings.Contains(st.Confirm, "db-test, web-test") || !strings.Contains(st.Confirm, sw) {
		t.Fatalf("end test: %+v", st)
	}
	if err := m.Act(ctx, id, workflow.ActEndTest, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	if ended := labtest.Wait(t, m, id, jobTimeout, workflow.StateTestEnded); ended.DoneText() != "-" {
		t.Fatalf("an ended test shows %q done: nothing of it is left to be done", ended.DoneText())
	}
	t.Log(labtest.LogText(m, id))
	checkNothingLeft(t, l, v)
	for p, h := range before {
		if fileHash(t, p) != h {
			t.Fatalf("%s changed during the test", p)
		}
	}
	checkAzureRunning(t, l, o.VMs...)
}

// TestCancelDuringPhase1EndsTheTest: Cancel of a test at any moment ends
// it the same way, and nothing of the VMs' changes.
func TestCancelDuringPhase1EndsTheTest(t *testing.T) {
	vm := labtest.VM{Name: "db", Disks: []int64{8 << 20}}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}, Bandwidth: "1M", BlockSize: "64K", MaxPasses: 2})
	l.StartWriters(50)
	before := originals(t, l, vm)
	m := l.Open(l.Deps())
	ctx := context.Background()
	c := testChoices("")
	c.Plan, c.VM = "", "db"
	id, err := m.Start(ctx, c, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.WaitFor(t, "phase 1 to write the test disk", jobTimeout, func() bool {
		v, _ := m.Job(id)
		return v.State == workflow.StatePhase1 && v.VMs[0].Disks[0].BytesTransferred > 0
	})
	v, _ := m.Job(id)
	if err := m.Act(ctx, id, workflow.ActCancel, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateTestEnded)
	checkNothingLeft(t, l, v)
	if fileHash(t, l.Image("db", 0)) != before[l.Image("db", 0)] {
		t.Fatal("the VM's disk changed")
	}
	checkAzureRunning(t, l, vm)
}

func checkAzureRunning(t *testing.T, l *labtest.Lab, vms ...labtest.VM) {
	t.Helper()
	for _, vm := range vms {
		st, err := l.Compute.State(context.Background(), vm.Name)
		if err != nil || st.Off() {
			t.Fatalf("Azure VM %s: %v %v; a test must never stop it", vm.Name, st, err)
		}
	}
}

// checkNothingLeft: no test VM, test disk, test folder or test switch
// remains, and the job holds no snapshot.
func checkNothingLeft(t *testing.T, l *labtest.Lab, v workflow.JobView) {
	t.Helper()
	ctx := context.Background()
	hv := l.Hosts["hv01"]
	for _, r := range v.Test.VMs {
		if _, err := hv.GetVM(ctx, r.TestVM); !errors.Is(err, hyperv.ErrVMNotFound) {
			t.Fatalf("test VM %s: %v", r.TestVM, err)
		}
		for _, d := range r.Disks {
			if _, err := os.Stat(d.Image); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("test disk %s is left: %v", d.Image, err)
			}
			if _, err := os.Stat(filepath.Dir(d.Image)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("test folder %s is left: %v", filepath.Dir(d.Image), err)
			}
		}
	}
	sws, err := hv.ListSwitches(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sws {
		if strings.HasPrefix(s.Name, "failback-test-") {
			t.Fatalf("test switch %s is left", s.Name)
		}
	}
	filepath.WalkDir(hv.Dir(), func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), "failback-test") || strings.HasSuffix(p, ".running") {
			t.Errorf("left on the host: %s", p)
		}
		return nil
	})
	for _, vm := range v.VMs {
		for i := range vm.Disks {
			d, err := l.Storage.OpenDisk(ctx, l.Container, l.Blob(vm.Name, i))
			if err != nil {
				t.Fatal(err)
			}
			snaps, err := d.ListSnapshots(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range snaps {
				if s.JobID == v.ID {
					t.Fatalf("snapshot %s of the test is left", s.ID)
				}
			}
		}
	}
}

// fileHash is the SHA-256 of a file's bytes.
func fileHash(t *testing.T, p string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// testPass is the part of a pass record the test tests read.
type testPass struct {
	Kind     string `json:"kind"`
	Done     bool   `json:"done"`
	Snapshot string `json:"snapshot"`
}

// lastPass is the newest pass of disk i of VM vm in job.json.
func lastPass(t *testing.T, l *labtest.Lab, id, vm string, i int) testPass {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(l.Cfg.StateDir, "jobs", id, "job.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		VMs []struct {
			Name  string `json:"name"`
			Disks []struct {
				Passes []testPass `json:"passes"`
			} `json:"disks"`
		} `json:"vms"`
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	for _, v := range rec.VMs {
		if v.Name == vm {
			p := v.Disks[i].Passes
			return p[len(p)-1]
		}
	}
	t.Fatalf("no VM %s in job %s", vm, id)
	return testPass{}
}
