package workflow_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

// The on-premises VM as admins run it: started during the job, checkpoints,
// Saved, replicated, and recreated faithfully elsewhere.

func oneVM(name string) (labtest.VM, workflow.Choices) {
	return labtest.VM{Name: name, Disks: []int64{2 << 20}},
		workflow.Choices{VM: name, Direction: workflow.DirAzureToOnPrem, Location: workflow.LocOriginal, Sync: workflow.SyncDelta}
}

func findRow(rows []workflow.CheckRow, what string) (workflow.CheckRow, bool) {
	for _, r := range rows {
		if strings.Contains(r.What, what) {
			return r, true
		}
	}
	return workflow.CheckRow{}, false
}

func passKinds(t *testing.T, l *labtest.Lab, id string) []string {
	var kinds []string
	for _, p := range readPasses(t, l.Cfg.StateDir, id)[0] {
		kinds = append(kinds, p.Kind)
	}
	return kinds
}

// TestVMStartedOnPremisesDuringPhase1StopsTheJobBeforeTheNextPass: the VM
// is started (and writes) on premises as phase 1 ends; the job stops
// before the catch-up pass with what to do, and once the VM is off again
// the resumed job compares every block, so the disk equals Azure anyway.
func TestVMStartedOnPremisesDuringPhase1StopsTheJobBeforeTheNextPass(t *testing.T) {
	vm, c := oneVM("web")
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}, MaxPasses: 1, StopBelow: "1K"})
	h := l.Hosts["hv01"]
	var started atomic.Bool
	d := l.Deps()
	d.StepHook = func(ctx context.Context, _, step string) error {
		if step == "catch-up 1" && started.CompareAndSwap(false, true) {
			if err := h.StartVM(ctx, "web"); err != nil {
				return err
			}
			labtest.WriteImage(t, l.Image("web", 0), 1<<20, []byte("written on premises while the job ran"))
		}
		return nil
	}
	m := l.Open(d)
	ctx := context.Background()
	id, err := m.Start(ctx, c, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	v := labtest.Wait(t, m, id, jobTimeout, workflow.StateFailed, workflow.StateReady)
	if v.State != workflow.StateFailed {
		t.Fatalf("the job went on with the VM running on premises: %s", v.State)
	}
	for _, want := range []string{"web on hv01 is Running (checked before catch-up pass 1)", "Stop-VM -Name 'web'", "resume the job"} {
		if !strings.Contains(v.Error, want) {
			t.Errorf("error %q lacks %q", v.Error, want)
		}
	}
	if kinds := passKinds(t, l, id); len(kinds) != 1 || kinds[0] != "phase1" {
		t.Fatalf("a pass ran after the VM started: %v", kinds)
	}
	if _, err := h.ShutdownVM(ctx, "web", 0); err != nil {
		t.Fatal(err)
	}
	if err := m.Act(ctx, id, workflow.ActResume, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateReady)
	if kinds := passKinds(t, l, id); strings.Join(kinds, ",") != "phase1,compare,catch-up" {
		t.Fatalf("passes after the resume: %v (want a compare pass before the catch-up)", kinds)
	}
	checkEqual(t, l, l.Image, vm)
	if err := m.Act(ctx, id, workflow.ActComplete, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	checkEqual(t, l, l.Image, vm)
}

// TestCheckpointsAreRefusedAndCaughtDuringTheJob: a VM with a checkpoint
// runs from a child disk; the pre-flight refuses it naming
// Remove-VMCheckpoint, and a checkpoint taken while the job runs stops it.
func TestCheckpointsAreRefusedAndCaughtDuringTheJob(t *testing.T) {
	vm, c := oneVM("db")
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}, MaxPasses: 1, StopBelow: "1K"})
	h := l.Hosts["hv01"]
	ctx := context.Background()
	if err := h.Checkpoint(ctx, "db", "before patching"); err != nil {
		t.Fatal(err)
	}
	if got, _ := h.GetVM(ctx, "db"); !strings.HasSuffix(got.Disks[0].HostPath, ".avhdx") || got.Disks[0].ParentPath != l.Image("db", 0) {
		t.Fatalf("the lab VM does not run from a child: %+v", got.Disks)
	}
	var took atomic.Bool
	d := l.Deps()
	d.StepHook = func(ctx context.Context, _, step string) error {
		if step == "catch-up 1" && took.CompareAndSwap(false, true) {
			return h.Checkpoint(ctx, "db", "taken during the job")
		}
		return nil
	}
	m := l.Open(d)
	rep, err := m.Preflight(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	row, ok := findRow(rep.Checks, "no checkpoints of VM db")
	if rep.OK || !ok || row.OK || !strings.Contains(row.Fix, "Get-VMCheckpoint -VMName 'db' | Remove-VMCheckpoint") ||
		!strings.Contains(row.Detail, "'before patching'") || strings.Contains(row.Fix, "Merge-VHD") {
		t.Fatalf("checkpoint row %+v (report ok %v)", row, rep.OK)
	}
	if err := h.RemoveCheckpoints(ctx, "db"); err != nil {
		t.Fatal(err)
	}
	id, err := m.Start(ctx, c, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	v := labtest.Wait(t, m, id, jobTimeout, workflow.StateFailed, workflow.StateReady)
	if v.State != workflow.StateFailed || !strings.Contains(v.Error, "has 1 checkpoint(s)") || !strings.Contains(v.Error, "Remove-VMCheckpoint") {
		t.Fatalf("a checkpoint taken during the job: %s %q", v.State, v.Error)
	}
	if err := h.RemoveCheckpoints(ctx, "db"); err != nil {
		t.Fatal(err)
	}
	if err := m.Act(ctx, id, workflow.ActResume, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateReady)
	checkEqual(t, l, l.Image, vm)
}

// TestImageNotAttachedToTheVMIsRefused: config.toml names a file the VM
// does not have attached.
func TestImageNotAttachedToTheVMIsRefused(t *testing.T) {
	vm, c := oneVM("app")
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}})
	other := filepath.Join(filepath.Dir(l.Image("app", 0)), "copy.vhdx")
	b, err := os.ReadFile(l.Image("app", 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, b, 0o644); err != nil {
		t.Fatal(err)
	}
	l.Cfg.VMs[0].Disks[0].Image = other
	m := l.Open(l.Deps())
	rep, err := m.Preflight(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	row, ok := findRow(rep.Checks, "image "+other+" attached to app")
	if rep.OK || !ok || row.OK || !strings.Contains(row.Detail, l.Image("app", 0)) || !strings.Contains(row.Fix, "[[vm.disk]]") {
		t.Fatalf("row %+v", row)
	}
}

// TestSavedVMIsRefusedUnlessItsStateIsDiscarded: a Saved VM would resume
// memory older than its disks.
func TestSavedVMIsRefusedUnlessItsStateIsDiscarded(t *testing.T) {
	vm, c := oneVM("app")
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}})
	h := l.Hosts["hv01"]
	ctx := context.Background()
	if err := h.SetState(ctx, "app", hyperv.StateSaved); err != nil {
		t.Fatal(err)
	}
	m := l.Open(l.Deps())
	_, err := m.Start(ctx, c, labtest.Operator)
	var pe *workflow.PreflightError
	if !errors.As(err, &pe) {
		t.Fatalf("start with a Saved VM: %v", err)
	}
	row, _ := findRow(pe.Report.Checks, "VM app is off")
	if row.OK || !strings.Contains(row.Detail, "Saved") || !strings.Contains(row.ScriptFix(), "--discard-saved-state") ||
		!strings.Contains(row.Fix, "Remove-VMSavedState -VMName 'app'") || strings.Contains(row.Fix, "--") {
		t.Fatalf("saved row %+v", row)
	}
	loc, err := m.CheckLocation(ctx, c)
	if err != nil || len(loc.SavedVMs) != 1 || loc.SavedVMs[0] != "app" {
		t.Fatalf("location report: %+v %v", loc, err)
	}
	c.DiscardSavedState = true
	id, err := m.Start(ctx, c, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateReady)
	if got, _ := h.GetVM(ctx, "app"); got.State != hyperv.StateOff {
		t.Fatalf("the saved state was not discarded: %s", got.State)
	}
	if !strings.Contains(labtest.LogText(m, id), "saved memory state was discarded") {
		t.Fatal("the log does not say the saved state was discarded")
	}
}

// TestReplicationAndSiteRecoveryAreWarnedWithWhatToDo: neither blocks.
func TestReplicationAndSiteRecoveryAreWarnedWithWhatToDo(t *testing.T) {
	vm, c := oneVM("app")
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}})
	h := l.Hosts["hv01"]
	ctx := context.Background()
	if err := h.EditVM(ctx, "app", func(v *hyperv.VM) {
		v.Replication = &hyperv.Replication{Mode: "Primary", State: "Replicating", Health: "Normal", ReplicaServer: "hvdr01"}
	}); err != nil {
		t.Fatal(err)
	}
	if err := h.EditConfig(func(cfg *hyperv.LabConfig) { cfg.SiteRecovery = "Microsoft Azure Site Recovery Provider 5.1" }); err != nil {
		t.Fatal(err)
	}
	m := l.Open(l.Deps())
	rep, err := m.Preflight(ctx, c)
	if err != nil || !rep.OK {
		t.Fatalf("warnings must not block: %+v %v", rep, err)
	}
	repl, ok1 := findRow(rep.Checks, "replication of VM app")
	asr, ok2 := findRow(rep.Checks, "Azure Site Recovery")
	if !ok1 || !repl.Warning || !strings.Contains(repl.Fix, "Suspend-VMReplication -VMName 'app'") || !strings.Contains(repl.Fix, "-Resynchronize") {
		t.Fatalf("replication row %+v", repl)
	}
	if !ok2 || !asr.Warning || !strings.Contains(asr.Fix, "before:") || !strings.Contains(asr.Fix, "after Commit") {
		t.Fatalf("site recovery row %+v", asr)
	}
}

// TestAlternateVMReproducesTheOriginal: two adapters with a VLAN each and
// a static MAC, dynamic memory and Secure Boot come back on the alternate
// host; the switch it lacks is mapped to one it has, by the operator.
func TestAlternateVMReproducesTheOriginal(t *testing.T) {
	vm := labtest.VM{Name: "fw", Disks: []int64{2 << 20}}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}, AltHosts: []string{"hv02"}})
	ctx := context.Background()
	if err := l.Hosts["hv01"].EditVM(ctx, "fw", func(v *hyperv.VM) {
		v.DynamicMemory, v.MemoryMinimum, v.MemoryMaximum = true, 256<<20, 2<<30
		v.SecureBoot, v.SecureBootTemplate = "Off", "MicrosoftUEFICertificateAuthority"
		v.Adapters = []hyperv.Adapter{
			{Name: "LAN", SwitchName: "LAN", MAC: "00155D0A1B40", StaticMAC: true, VLAN: hyperv.VLAN{Mode: "Access", AccessID: 20}},
			{Name: "DMZ", SwitchName: "DMZ", MAC: "00155D0A1B41", VLAN: hyperv.VLAN{Mode: "Trunk", NativeID: 1, Allowed: "100,200"}},
		}
	}); err != nil {
		t.Fatal(err)
	}
	alt := l.Hosts["hv02"]
	if err := alt.EditConfig(func(cfg *hyperv.LabConfig) {
		cfg.Switches = append(cfg.Switches, hyperv.Switch{Name: "DMZ-B", Type: hyperv.SwitchExternal})
		cfg.Cluster, cfg.Nodes, cfg.CSVs = "HVC", []string{"hv02"}, []string{filepath.Join(alt.Dir(), "alt")}
	}); err != nil {
		t.Fatal(err)
	}
	m := l.Open(l.Deps())
	c := workflow.Choices{VM: "fw", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncFull,
		Location: workflow.LocAlternate, AltHost: "hv02", CreateVM: true}
	loc, err := m.CheckLocation(ctx, c)
	if err != nil || loc.OK || len(loc.MissingSwitches) != 1 || loc.MissingSwitches[0] != "DMZ" || !strings.Contains(strings.Join(loc.HostSwitches, ","), "DMZ-B") {
		t.Fatalf("location without the mapping: %+v %v", loc, err)
	}
	c.SwitchMap = map[string]string{"DMZ": "DMZ-B"}
	loc, err = m.CheckLocation(ctx, c)
	if err != nil || !loc.OK {
		t.Fatalf("location with the mapping: %+v %v", loc, err)
	}
	if row, ok := findRow(loc.Checks, "switch DMZ on hv02"); !ok || !strings.Contains(row.Detail, "mapped to DMZ-B (your choice)") {
		t.Fatalf("mapping row %+v", row)
	}
	if row, ok := findRow(loc.Checks, "highly available on cluster HVC"); !ok || row.Warning {
		t.Fatalf("cluster row %+v", row)
	}
	id, err := m.Start(ctx, c, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	got, err := alt.GetVM(ctx, "fw")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Adapters) != 2 {
		t.Fatalf("adapters %+v", got.Adapters)
	}
	lan, dmz := got.Adapters[0], got.Adapters[1]
	if lan.SwitchName != "LAN" || lan.MAC != "00155D0A1B40" || !lan.StaticMAC || lan.VLAN != (hyperv.VLAN{Mode: "Access", AccessID: 20}) {
		t.Errorf("LAN adapter %+v", lan)
	}
	if dmz.SwitchName != "DMZ-B" || dmz.StaticMAC || dmz.VLAN != (hyperv.VLAN{Mode: "Trunk", NativeID: 1, Allowed: "100,200"}) {
		t.Errorf("DMZ adapter %+v", dmz)
	}
	if !got.DynamicMemory || got.MemoryMinimum != 256<<20 || got.MemoryMaximum != 2<<30 || got.MemoryBytes != 512<<20 ||
		got.SecureBoot != "Off" || got.SecureBootTemplate != "MicrosoftUEFICertificateAuthority" || !got.Clustered {
		t.Errorf("created VM %+v", got)
	}
}

// TestVMRunningAtCompleteStopsTheJobBeforeAzureIsShutDown: the VM found
// running on premises when the operator completes leaves the Azure VM
// running, and once it is off the completed job equals Azure.
func TestVMRunningAtCompleteStopsTheJobBeforeAzureIsShutDown(t *testing.T) {
	vm, c := oneVM("app")
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}})
	h := l.Hosts["hv01"]
	m := l.Open(l.Deps())
	ctx := context.Background()
	id, err := m.Start(ctx, c, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateReady)
	if err := h.StartVM(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	if err := m.Act(ctx, id, workflow.ActComplete, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	v := labtest.Wait(t, m, id, jobTimeout, workflow.StateFailed, workflow.StatePendingCommit)
	if v.State != workflow.StateFailed || !strings.Contains(v.Error, "checked before shutting the Azure VMs down") {
		t.Fatalf("complete with the VM running on premises: %s %q", v.State, v.Error)
	}
	if ps, err := l.Compute.State(ctx, "app"); err != nil || ps != azure.PowerRunning {
		t.Fatalf("the Azure VM was shut down: %v %v", ps, err)
	}
	if _, err := h.ShutdownVM(ctx, "app", 0); err != nil {
		t.Fatal(err)
	}
	if err := m.Act(ctx, id, workflow.ActResume, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	if kinds := passKinds(t, l, id); !strings.Contains(strings.Join(kinds, ","), "compare,final") {
		t.Fatalf("passes %v: want a compare pass before the final one", kinds)
	}
	checkEqual(t, l, l.Image, vm)
}
