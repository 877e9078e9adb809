package workflow_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

func TestFullDownloadShutsDownFirstAndWritesEverything(t *testing.T) {
	vm := labtest.VM{Name: "files", Disks: []int64{8 << 20}}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}, Verify: true})
	l.StartWriters(100)
	m := l.Open(l.Deps())
	ctx := context.Background()
	c := workflow.Choices{VM: "files", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncFull}
	id, err := m.Start(ctx, c, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	if st := labtest.Action(m, id, workflow.ActComplete); st.Enabled {
		t.Fatalf("complete offered for a full download: %+v", st)
	}
	v := labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	if ps, _ := l.Compute.State(ctx, "files"); !ps.Off() {
		t.Fatalf("Azure VM %s after a full download", ps)
	}
	checkEqual(t, l, l.Image, vm)
	d := v.VMs[0].Disks[0]
	if d.Phase != "done" || d.BytesTransferred == 0 {
		t.Fatalf("disk view after the full download: %+v", d)
	}
	log := labtest.LogText(m, id)
	if !strings.Contains(log, "(full) done") || !strings.Contains(log, "blocks verified") {
		t.Fatalf("full pass or verification missing from the log:\n%s", log)
	}
}

func TestAlternateLocationCreatesTheVMWithItsDisks(t *testing.T) {
	vm := labtest.VM{Name: "app", Disks: []int64{4 << 20, 2 << 20}}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}, AltHosts: []string{"hv02"}, MaxPasses: 1})
	m := l.Open(l.Deps())
	ctx := context.Background()
	c := workflow.Choices{VM: "app", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncDelta,
		Location: workflow.LocAlternate, AltHost: "hv02"}

	// Without "create the VM", the pre-flight says how to proceed.
	_, err := m.Start(ctx, c, labtest.Operator)
	var pe *workflow.PreflightError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "create the on-premises VM if it does not exist") {
		t.Fatalf("start at an alternate host without the VM: %v", err)
	}
	// The fix names the console's choice; the script commands get it in
	// run's flags. No front end's flags leak into the neutral text.
	for _, r := range pe.Report.Checks {
		if r.OK {
			continue
		}
		if strings.Contains(r.Fix, "--") {
			t.Errorf("fix names a CLI flag: %+v", r)
		}
		if strings.HasPrefix(r.What, "VM app on hv02") && !strings.Contains(r.ScriptFix(), "--create-vm") {
			t.Errorf("script fix lacks --create-vm: %+v", r)
		}
	}
	c.CreateVM = true
	loc, err := m.CheckLocation(ctx, c)
	if err != nil || !loc.OK || loc.Host != "hv02" {
		t.Fatalf("location check: %+v %v", loc, err)
	}
	id, err := m.Start(ctx, c, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateReady)
	if err := m.Act(ctx, id, workflow.ActComplete, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	v := labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	h := l.Hosts["hv02"]
	got, err := h.GetVM(ctx, "app")
	if err != nil || got.State != hyperv.StateRunning || got.Generation != 2 || len(got.Disks) != 2 {
		t.Fatalf("VM on hv02: %+v %v", got, err)
	}
	if len(got.Adapters) != 1 || got.Adapters[0].SwitchName != "LAN" {
		t.Fatalf("VM on hv02 is not connected to LAN: %+v", got.Adapters)
	}
	alt := func(name string, i int) string { return v.VMs[0].Disks[i].Image }
	for i := range vm.Disks {
		want := filepath.Join(h.Dir(), "alt", "app", "disk"+string(rune('0'+i))+".vhdx")
		if alt("app", i) != want {
			t.Fatalf("disk %d landed at %s, want %s", i, alt("app", i), want)
		}
	}
	checkEqual(t, l, alt, vm)
	// The original host's VM and images were left alone.
	if orig, _ := l.Hosts["hv01"].GetVM(ctx, "app"); orig.State != hyperv.StateOff {
		t.Fatalf("original VM touched: %+v", orig)
	}
}

func TestAlternateHostWithoutTheSwitchIsRefusedWithTheFix(t *testing.T) {
	vm := labtest.VM{Name: "app", Disks: []int64{2 << 20}}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}, AltHosts: []string{"hv03"}, NoSwitch: []string{"hv03"}})
	m := l.Open(l.Deps())
	c := workflow.Choices{VM: "app", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncFull,
		Location: workflow.LocAlternate, AltHost: "hv03", CreateVM: true}
	_, err := m.Start(context.Background(), c, labtest.Operator)
	var pe *workflow.PreflightError
	if !errors.As(err, &pe) {
		t.Fatalf("start: %v", err)
	}
	found := false
	for _, r := range pe.Report.Checks {
		if !r.OK && strings.Contains(r.What, "switch LAN") && strings.Contains(r.Fix, "New-VMSwitch -Name 'LAN'") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no failed switch check with the New-VMSwitch fix: %+v", pe.Report.Checks)
	}
	if len(m.Jobs()) != 0 {
		t.Fatal("a job was created although the pre-flight failed")
	}
	if _, err := os.Stat(filepath.Join(l.Hosts["hv03"].Dir(), "alt")); err == nil {
		t.Fatal("something was written on hv03")
	}
}

func TestEncryptedVMWithTheRightCertificate(t *testing.T) {
	vm := labtest.VM{Name: "sql", Disks: []int64{4 << 20}, Encrypted: true}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}, Verify: true})
	m := l.Open(l.Deps())
	ctx := context.Background()
	c := workflow.Choices{VM: "sql", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncDelta}
	cr, err := m.Certificates(ctx, c)
	if err != nil || len(cr.Needed) != 1 || cr.Needed[0] != l.Cert.Thumbprint || len(cr.Certs) != 1 || !cr.Certs[0].Matches {
		t.Fatalf("certificates: %+v %v", cr, err)
	}
	// Without a certificate the pre-flight asks for one.
	if rep, _ := m.Preflight(ctx, c); rep.OK {
		t.Fatal("pre-flight passed for an encrypted disk without a certificate")
	}
	c.CertThumbprint = l.Cert.Thumbprint
	id, err := m.Start(ctx, c, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateReady)
	if err := m.Act(ctx, id, workflow.ActComplete, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	checkEqual(t, l, l.Image, vm) // BlobBytes decrypts: the image holds plaintext
}

func TestEncryptedVMRefusesAWrongCertificateBeforeWritingAnything(t *testing.T) {
	vm := labtest.VM{Name: "sql", Disks: []int64{4 << 20}, Encrypted: true}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}})
	other := labtest.NewCert(t, l.CertsDir, "other-cert")
	before := labtest.Hash(t, l.Image("sql", 0))
	m := l.Open(l.Deps())
	ctx := context.Background()
	c := workflow.Choices{VM: "sql", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncFull, CertThumbprint: other.Thumbprint}
	_, err := m.Start(ctx, c, labtest.Operator)
	var pe *workflow.PreflightError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("start with the wrong certificate: %v", err)
	}
	if got := labtest.Hash(t, l.Image("sql", 0)); got != before {
		t.Fatal("the image changed although the certificate was refused")
	}
	d, _ := l.Storage.OpenDisk(ctx, l.Container, l.Blob("sql", 0))
	if snaps, _ := d.ListSnapshots(ctx); len(snaps) != 0 {
		t.Fatalf("snapshots were made: %+v", snaps)
	}
	if ps, _ := l.Compute.State(ctx, "sql"); ps.Off() {
		t.Fatal("the Azure VM was shut down although the certificate was refused")
	}
}
