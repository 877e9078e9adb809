package workflow_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

func testVMChoices(vm string) workflow.Choices {
	return workflow.Choices{VM: vm, Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncDelta, Test: true}
}

// TestTestOnAnotherHostCopiesTheDisks: test VMs on another host get
// copies of the disks in that host's vm_folder (the other host cannot
// read the originals), on a switch made there; the copies equal the last
// snapshot, and End test removes them and the switch on that host.
func TestTestOnAnotherHostCopiesTheDisks(t *testing.T) {
	vm := labtest.VM{Name: "db", Disks: []int64{4 << 20}}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}, AltHosts: []string{"hv02"}, MaxPasses: 1, Verify: true})
	l.StartWriters(50)
	before := originals(t, l, vm)
	m := l.Open(l.Deps())
	ctx := context.Background()
	c := testVMChoices("db")
	c.TestHost = "hv02"
	id, err := m.Start(ctx, c, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	v := labtest.Wait(t, m, id, jobTimeout, workflow.StateTesting)
	d := v.Test.VMs[0].Disks[0]
	if d.Mode != "copy" || !strings.Contains(d.Why, "hv02") || !strings.HasPrefix(d.Image, filepath.Join(l.Hosts["hv02"].Dir(), "alt", "failback-test-db")) {
		t.Fatalf("test disk on another host: %+v", d)
	}
	last := lastPass(t, l, id, "db", 0)
	if diff := labtest.FirstDiff(l.SnapshotBytes(l.Blob("db", 0), last.Snapshot), labtest.ImageBytes(t, d.Image)); diff >= 0 {
		t.Fatalf("the copy differs from the last snapshot at %d", diff)
	}
	if tvm, err := l.Hosts["hv02"].GetVM(ctx, "db-test"); err != nil || tvm.State != hyperv.StateRunning {
		t.Fatalf("test VM on hv02: %v %v", tvm.State, err)
	}
	if _, err := l.Hosts["hv01"].GetVM(ctx, "db-test"); err == nil {
		t.Fatal("a test VM on hv01 too")
	}
	if err := m.Act(ctx, id, workflow.ActEndTest, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateTestEnded)
	if _, err := os.Stat(filepath.Dir(d.Image)); !os.IsNotExist(err) {
		t.Fatalf("the test folder on hv02 is left: %v", err)
	}
	if sws, _ := l.Hosts["hv02"].ListSwitches(ctx); len(sws) != 1 {
		t.Fatalf("switches left on hv02: %+v", sws)
	}
	if fileHash(t, l.Image("db", 0)) != before[l.Image("db", 0)] {
		t.Fatal("the VM's disk changed")
	}
}

// TestTestOnAnInternalSwitchChecksPorts: on an Internal switch the host
// reaches the test VM, so the VM's test_ports are checked (one answers,
// one does not); a guest without heartbeat is reported, not a reason to
// stop; the switch, not the test's, stays when the test ends.
func TestTestOnAnInternalSwitchChecksPorts(t *testing.T) {
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{{Name: "db", Disks: []int64{2 << 20}}, {Name: "web", Disks: []int64{2 << 20}}},
		Plans: map[string][][]string{"app": {{"db", "web"}}}, MaxPasses: 0})
	l.Cfg.VMs[0].TestPorts = []int{1433, 3389}
	hv := l.Hosts["hv01"]
	if err := hv.EditConfig(func(cfg *hyperv.LabConfig) {
		cfg.Switches = append(cfg.Switches, hyperv.Switch{Name: "Isolated", Type: hyperv.SwitchInternal})
		cfg.Guests = map[string]hyperv.LabGuest{"db-test": {Ports: []int{1433}}, "web-test": {NoHeartbeat: true}}
	}); err != nil {
		t.Fatal(err)
	}
	d := l.Deps()
	d.StartTimeout = time.Second
	m := l.Open(d)
	ctx := context.Background()
	c := testChoices("app")
	c.TestSwitch = "Isolated"
	rep, err := m.Preflight(ctx, c)
	if err != nil || !rep.OK {
		t.Fatalf("pre-flight: %+v %v", rep, err)
	}
	id, err := m.Start(ctx, c, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	v := labtest.Wait(t, m, id, jobTimeout, workflow.StateTesting)
	if s := v.Test.Switches[0]; s.Name != "Isolated" || s.CreatedByTest || s.Type != "Internal" {
		t.Fatalf("switch: %+v", s)
	}
	checks := map[string]workflow.TestCheck{}
	for _, r := range v.Test.VMs {
		for _, c := range r.Checks {
			checks[r.TestVM+" "+c.What] = c
		}
	}
	if c := checks["db-test TCP port 1433"]; !c.OK || !strings.Contains(c.Detail, "192.0.2.") {
		t.Fatalf("port 1433: %+v", c)
	}
	if c := checks["db-test TCP port 3389"]; c.OK || !strings.Contains(c.Detail, "refused") {
		t.Fatalf("port 3389: %+v", c)
	}
	if c := checks["web-test heartbeat"]; c.OK || !strings.Contains(c.Detail, "no heartbeat") {
		t.Fatalf("heartbeat of a silent guest: %+v", c)
	}
	if !strings.Contains(labtest.LogText(m, id), "web-test: heartbeat") {
		t.Fatal("the failed check was not logged")
	}
	if err := m.Act(ctx, id, workflow.ActCancel, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateTestEnded)
	if sws, _ := hv.ListSwitches(ctx); len(sws) != 2 {
		t.Fatalf("the test removed a switch it did not make: %+v", sws)
	}
}

// TestTestPreflightRefusals: a test VM name in use, an external test
// switch and a leftover test disk are refused before anything is made,
// each with what to do; so are choices a test cannot take.
func TestTestPreflightRefusals(t *testing.T) {
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{{Name: "db", Disks: []int64{2 << 20}}}})
	hv := l.Hosts["hv01"]
	ctx := context.Background()
	if _, err := hv.CreateVM(ctx, hyperv.VMSpec{Name: "db-test", Generation: 2, CPUCount: 1, MemoryBytes: 512 << 20, SwitchName: "LAN"}); err != nil {
		t.Fatal(err)
	}
	leftover := filepath.Join(filepath.Dir(l.Image("db", 0)), "failback-test-db", "disk0-test.vhdx")
	if err := os.MkdirAll(filepath.Dir(leftover), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(leftover, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	m := l.Open(l.Deps())
	c := testVMChoices("db")
	c.TestSwitch = "LAN"
	rep, err := m.Preflight(ctx, c)
	if err != nil || rep.OK {
		t.Fatalf("pre-flight: %+v %v", rep, err)
	}
	want := map[string]string{"test VM db-test on hv01": "Remove-VM", "test switch LAN on hv01": "Private or Internal", "test disk of disk0.vhdx": "remove " + leftover}
	for _, r := range rep.Checks {
		if fix, ok := want[r.What]; ok {
			if r.OK || !strings.Contains(r.Fix, fix) {
				t.Fatalf("%s: %+v", r.What, r)
			}
			delete(want, r.What)
		}
	}
	if len(want) > 0 {
		t.Fatalf("rows missing: %v in %+v", want, rep.Checks)
	}
	if _, err := m.Start(ctx, c, labtest.Operator); err == nil {
		t.Fatal("started despite the pre-flight")
	}
	for _, bad := range []workflow.Choices{
		{VM: "db", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncFull, Test: true},
		{VM: "db", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncDelta, Test: true, Location: workflow.LocAlternate, AltHost: "hv01"},
		{VM: "db", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncDelta, TestCopy: true},
		{VM: "db", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncDelta, Test: true, TestHost: "hv99"},
	} {
		if _, err := m.Preflight(ctx, bad); err == nil {
			t.Fatalf("choices %+v accepted", bad)
		}
	}
	if len(m.Jobs()) != 0 {
		t.Fatal("a refused test made a job")
	}
	// A test folder that is there before the test (End test removes it
	// whole) is refused even without a test disk in it.
	if err := os.Remove(leftover); err != nil {
		t.Fatal(err)
	}
	c.TestSwitch = ""
	rep, err = m.Preflight(ctx, c)
	if err != nil || rep.OK {
		t.Fatalf("pre-flight with a test folder in the way: %v, OK %v", err, rep.OK)
	}
	if rows := rowsLike(rep, "test disk of disk0.vhdx"); len(rows) != 1 || rows[0].OK || !strings.Contains(rows[0].Fix, "move or remove "+filepath.Dir(leftover)) {
		t.Fatalf("test folder rows %+v", rep.Checks)
	}
}

// TestTestResumesWhereItStopped: a test that fails while starting its
// test VMs resumes without making its disks again or redoing a pass, and
// an End test that fails half way finishes when asked again; whether the
// host's mover or this machine (data_path = "share") makes and writes the
// test disk.
func TestTestResumesWhereItStopped(t *testing.T) {
	for _, share := range []bool{false, true} {
		t.Run(map[bool]string{false: "mover", true: "share"}[share], func(t *testing.T) {
			l := labtest.New(t, labtest.Options{VMs: []labtest.VM{{Name: "db", Disks: []int64{2 << 20}}}, MaxPasses: 1, Share: share})
			fails := map[string]int{"test-vms": 1, "end-test": 1}
			d := l.Deps()
			d.StepHook = func(_ context.Context, _, step string) error {
				if fails[step] > 0 {
					fails[step]--
					return errors.New("host hv01 did not answer (drill)")
				}
				return nil
			}
			m := l.Open(d)
			ctx := context.Background()
			id, err := m.Start(ctx, testVMChoices("db"), labtest.Operator)
			if err != nil {
				t.Fatal(err)
			}
			v := labtest.Wait(t, m, id, jobTimeout, workflow.StateFailed)
			if !strings.Contains(v.Error, "did not answer") || v.Test.FinalPass <= 0 {
				t.Fatalf("failed test: %s, final pass %s", v.Error, v.Test.FinalPass)
			}
			if st := labtest.Action(m, id, workflow.ActResume); !st.Enabled {
				t.Fatalf("resume: %+v", st)
			}
			if err := m.Act(ctx, id, workflow.ActResume, labtest.Operator); err != nil {
				t.Fatal(err)
			}
			v = labtest.Wait(t, m, id, jobTimeout, workflow.StateTesting)
			log := labtest.LogText(m, id)
			if n := strings.Count(log, "test disk "+v.Test.VMs[0].Disks[0].Image+" made"); n != 1 {
				t.Fatalf("the test disk was made %d times:\n%s", n, log)
			}
			if n := strings.Count(log, "(test-final) done"); n != 1 {
				t.Fatalf("the measured pass ran %d times:\n%s", n, log)
			}
			if err := m.Act(ctx, id, workflow.ActEndTest, labtest.Operator); err != nil {
				t.Fatal(err)
			}
			labtest.Wait(t, m, id, jobTimeout, workflow.StateFailed)
			if st := labtest.Action(m, id, workflow.ActEndTest); !st.Enabled {
				t.Fatalf("end test again after a failure: %+v", st)
			}
			if err := m.Act(ctx, id, workflow.ActEndTest, labtest.Operator); err != nil {
				t.Fatal(err)
			}
			labtest.Wait(t, m, id, jobTimeout, workflow.StateTestEnded)
			checkNothingLeft(t, l, v)
		})
	}
}
