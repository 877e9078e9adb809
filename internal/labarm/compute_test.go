package labarm

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"
	"github.com/failback/failback/azure"
	"github.com/failback/failback/internal/azurite"
)

// TestARMComputeOnTheLab drives azure.ARMCompute, the product's compute
// client, against the lab: Inspect reads the storage profile and the NIC
// with its public IP; PowerOff returns once the running guest writer has
// stopped; Delete with KeepDisks keeps disks whose deleteOption was
// Delete; DeleteNIC removes the NIC, then its public IP.
func TestARMComputeOnTheLab(t *testing.T) {
	e := newEnv(t, nil)
	c := ctx(t)
	for _, d := range []string{"app-os", "app-data"} {
		if _, err := e.srv.CreateDisk(c, e.rg, d, 4<<20, "StandardSSD_LRS"); err != nil {
			t.Fatal(err)
		}
	}
	vmID, err := e.srv.CreateVM(c, VMSpec{RG: e.rg, Name: "app", OSType: "Linux",
		OSDisk:    DiskSpec{Disk: "app-os", DeleteOption: "Delete"},
		DataDisks: []DiskSpec{{LUN: 3, Disk: "app-data", DeleteOption: "Delete"}},
		NICs:      []NICSpec{{Name: "app-nic", PublicIP: "app-ip"}}})
	if err != nil {
		t.Fatal(err)
	}
	ac, err := azure.NewARMCompute(e.failbackARM())
	if err != nil {
		t.Fatal(err)
	}
	vm := azure.VMRef{Name: "app"}
	info, err := ac.Inspect(c, vm)
	if err != nil {
		t.Fatal(err)
	}
	nicID := e.srv.resourceID(e.rg, "Microsoft.Network/networkInterfaces", "app-nic")
	ipID := e.srv.resourceID(e.rg, "Microsoft.Network/publicIPAddresses", "app-ip")
	if info.ID != vmID || info.Location == "" || info.Size == "" || !info.OSDisk.OS || info.OSDisk.Ref.Kind != azure.KindManaged ||
		info.OSDisk.Ref.Name != "app-os" || info.OSDisk.SKU != "StandardSSD_LRS" || !info.OSDisk.DeleteWithVM || info.OSDisk.SizeGB != 1 ||
		len(info.DataDisks) != 1 || info.DataDisks[0].LUN != 3 || info.DataDisks[0].Ref.Name != "app-data" ||
		len(info.NICs) != 1 || info.NICs[0].ID != nicID || info.NICs[0].DeleteWithVM || len(info.NICs[0].PublicIPs) != 1 || info.NICs[0].PublicIPs[0] != ipID {
		t.Fatalf("Inspect: %s", dump(info))
	}

	// The VM's guest writes its disks' blobs while it runs.
	wctx, stop := context.WithCancel(c)
	defer stop()
	done := make(chan error, 1)
	go func() {
		done <- azure.RunLabVM(wctx, e.srv.stor, e.lc, "app", azure.LabWriterOptions{WritesPerSecond: 100, Poll: 100 * time.Millisecond, Seed: 7})
	}()
	waitFor(t, "the guest writes", func() bool {
		ws, _ := e.lc.WriterStatus(c, "app")
		return ws.Writing && ws.Writes > 5
	})
	// While a power off waits for the guest, another operation is refused.
	vms, _ := armcompute.NewVirtualMachinesClient(e.srv.SubscriptionID(), azure.LabToken{}, e.armOptions())
	off, err := vms.BeginPowerOff(c, e.rg, "app", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vms.BeginStart(c, e.rg, "app", nil); !isCode(err, 409, "OperationNotAllowed") {
		t.Fatalf("start during a power off: %v, want 409 OperationNotAllowed", err)
	}
	poll(t, off, nil)
	if err := ac.Start(c, vm); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the guest writes again", func() bool {
		ws, _ := e.lc.WriterStatus(c, "app")
		return ws.Writing
	})
	if err := ac.PowerOff(c, vm, azure.PowerOffOptions{}); err != nil {
		t.Fatal(err)
	}
	ws, _ := e.lc.WriterStatus(c, "app")
	if ws.Writing {
		t.Fatal("PowerOff returned while the guest still writes")
	}
	time.Sleep(100 * time.Millisecond)
	if again, _ := e.lc.WriterStatus(c, "app"); again.Writes != ws.Writes {
		t.Fatalf("the guest wrote after PowerOff returned (%d then %d writes)", ws.Writes, again.Writes)
	}
	if st, err := ac.State(c, vm); err != nil || st != azure.PowerStopped {
		t.Fatalf("State after PowerOff: %v %v", st, err)
	}
	if err := ac.Start(c, vm); err != nil {
		t.Fatal(err)
	}
	if st, _ := ac.State(c, vm); st != azure.PowerRunning {
		t.Fatalf("State after Start: %v", st)
	}

	if err := ac.Delete(c, vm, azure.DeleteOptions{KeepDisks: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.State(c, vm); !errors.Is(err, azure.ErrVMNotFound) {
		t.Fatalf("State of a deleted VM: %v, want ErrVMNotFound", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the guest writer: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the guest writer did not end with its VM")
	}
	m := e.managed(nil)
	for _, n := range []string{"app-os", "app-data"} {
		d, err := m.OpenVMDisk(c, azure.DiskRef{Kind: azure.KindManaged, ResourceGroup: e.rg, Name: n})
		if err != nil {
			t.Fatalf("disk %s (deleteOption Delete) after Delete with KeepDisks: %v", n, err)
		}
		if !strings.Contains(d.Describe(), "unattached") {
			t.Fatalf("disk %s after its VM's delete: %s", n, d.Describe())
		}
	}
	if err := ac.DeleteNIC(c, info.NICs[0]); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{e.path("Microsoft.Network/networkInterfaces", "app-nic", apiNetwork), e.path("Microsoft.Network/publicIPAddresses", "app-ip", apiNetwork)} {
		if status, b, _ := e.do("GET", p, nil); status != 404 {
			t.Fatalf("after DeleteNIC, GET %s: %d %s", p, status, b)
		}
	}
	if err := ac.DeleteNIC(c, info.NICs[0]); err != nil {
		t.Fatalf("DeleteNIC again (gone already): %v", err)
	}
	if err := ac.Delete(c, vm, azure.DeleteOptions{}); err != nil {
		t.Fatalf("Delete again (gone already): %v", err)
	}
}

// TestUnmanagedVMInspect: an unmanaged VM's disks are page blobs of the
// lab's storage account, named by VHD URI.
func TestUnmanagedVMInspect(t *testing.T) {
	e := newEnv(t, nil)
	labVM(t, e, "old")
	ac, err := azure.NewARMCompute(e.failbackARM())
	if err != nil {
		t.Fatal(err)
	}
	info, err := ac.Inspect(ctx(t), azure.VMRef{ResourceGroup: e.rg, Name: "old"})
	if err != nil {
		t.Fatal(err)
	}
	if len(info.DataDisks) != 2 || info.DataDisks[1].Ref.Kind != azure.KindPageBlob || info.DataDisks[1].Account != azurite.AccountName ||
		info.DataDisks[1].Ref.Blob != "old-old.vhd" || !strings.HasPrefix(info.DataDisks[1].Ref.Container, "labarm-vhds-") {
		t.Fatalf("Inspect of a VM with an unmanaged disk: %s", dump(info))
	}
}

// TestRestartKeepsResources: a new server on the same folder serves what
// the old one made.
func TestRestartKeepsResources(t *testing.T) {
	e := newEnv(t, nil)
	c := ctx(t)
	labVM(t, e, "keep")
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	srv, err := New(e.srv.o)
	if err != nil {
		t.Fatal(err)
	}
	// The lab's background process: Run until its context ends.
	rctx, stop := context.WithCancel(c)
	ready, ran := make(chan string, 1), make(chan error, 1)
	go func() { ran <- srv.Run(rctx, "127.0.0.1:0", func(u string) { ready <- u }) }()
	defer func() {
		stop()
		if err := <-ran; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	e.srv, e.url = srv, <-ready
	info, err := func() (azure.VMInfo, error) {
		ac, err := azure.NewARMCompute(e.failbackARM())
		if err != nil {
			return azure.VMInfo{}, err
		}
		return ac.Inspect(c, azure.VMRef{Name: "keep"})
	}()
	if err != nil || info.OSDisk.Ref.Name != "keep-os" || len(info.NICs) != 1 {
		t.Fatalf("after a restart: %v %s", err, dump(info))
	}
}

// TestSnapshotsOutliveTheirDisk: a disk deleted with its VM leaves its
// incremental snapshots readable; the blob goes with the last of them.
func TestSnapshotsOutliveTheirDisk(t *testing.T) {
	e := newEnv(t, nil)
	c := ctx(t)
	if _, err := e.srv.CreateDisk(c, e.rg, "tmp-os", 1<<20, ""); err != nil {
		t.Fatal(err)
	}
	container, blob, err := e.srv.DiskBlob(e.rg, "tmp-os")
	if err != nil {
		t.Fatal(err)
	}
	e.write(e.rg, "tmp-os", bytes.Repeat([]byte{7}, 4096), 0)
	if _, err := e.srv.CreateVM(c, VMSpec{RG: e.rg, Name: "tmp", OSDisk: DiskSpec{Disk: "tmp-os", DeleteOption: "Delete"}}); err != nil {
		t.Fatal(err)
	}
	m := e.managed(nil)
	d, err := m.OpenVMDisk(c, azure.DiskRef{Kind: azure.KindManaged, ResourceGroup: e.rg, Name: "tmp-os"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := d.CreateSnapshot(c, azure.SnapshotOptions{Purpose: "last"})
	if err != nil {
		t.Fatal(err)
	}
	ac, _ := azure.NewARMCompute(e.failbackARM())
	if err := ac.Delete(c, azure.VMRef{Name: "tmp"}, azure.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.OpenVMDisk(c, azure.DiskRef{Kind: azure.KindManaged, ResourceGroup: e.rg, Name: "tmp-os"}); !errors.Is(err, azure.ErrNotFound) {
		t.Fatalf("the disk (deleteOption Delete) after its VM's delete: %v", err)
	}
	src, err := d.OpenSnapshot(c, s.ID)
	if err != nil {
		t.Fatalf("a snapshot of a deleted disk: %v", err)
	}
	buf := make([]byte, 4096)
	if err := src.ReadAt(c, buf, 0); err != nil || buf[0] != 7 {
		t.Fatalf("read a snapshot of a deleted disk: %v %v", err, buf[:4])
	}
	if err := src.Close(c); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteSnapshot(c, s.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.blob(container, blob).GetProperties(c, nil); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("the disk's blob after its last snapshot went: %v, want 404", err)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}
