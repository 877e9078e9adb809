package labtest

import (
	"context"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/failback/failback/azure"
	"github.com/failback/failback/internal/labarm"
	"github.com/failback/failback/internal/testenv"
)

// ResourceGroup is the drill's Azure resource group when it runs on the
// lab's ARM endpoint (Options.ARM).
const ResourceGroup = "rg-test"

// ARMOptions put the drill on the lab's loopback ARM endpoint (an
// in-process internal/labarm server): its VMs are ARM VMs, reached
// through azure.ARMCompute, and VMs marked Managed run on managed disks
// (azure.ManagedDisks), read through SAS grants on the blob front that
// answers snapshot diffs as Azure does.
type ARMOptions struct {
	// SnapshotsPerWindow and SnapshotWindow are the server's snapshot
	// pacing (default Azure's 7 per 5 minutes).
	SnapshotsPerWindow int
	SnapshotWindow     time.Duration
	// SASDuration is the client's grant length (default 1 h).
	SASDuration time.Duration
	// Log gets one line per request the server answers.
	Log io.Writer
}

// startARM starts the lab ARM endpoint for the drill.
func (l *Lab) startARM(o ARMOptions) {
	t := l.T
	front, err := url.Parse(connEndpoint(testenv.AzuriteFront(t)))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := labarm.New(labarm.Options{Dir: filepath.Join(l.Dir, "arm"), AzuriteURL: connEndpoint(l.Conn),
		BlobURL: front.String(), Container: l.Container, Compute: l.Compute,
		SnapshotsPerWindow: o.SnapshotsPerWindow, SnapshotWindow: o.SnapshotWindow, Log: o.Log})
	if err != nil {
		t.Fatal(err)
	}
	if l.ARMURL, err = srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	l.ARM = srv
}

// armOptions reach the drill's ARM endpoint with the lab token.
func (l *Lab) armOptions() azure.ARMOptions {
	return azure.ARMOptions{SubscriptionID: labarm.DefaultSubscription, ResourceGroup: ResourceGroup,
		Endpoint: l.ARMURL, Credential: azure.LabToken{}, PollInterval: 10 * time.Millisecond,
		RetryDelay: 10 * time.Millisecond, MaxRetryDelay: 100 * time.Millisecond}
}

// ARMDeps are the dependencies of a drill on the ARM endpoint: its disks
// and its compute, as the workflow reaches them.
func (l *Lab) ARMDeps() (*azure.Disks, azure.Compute) {
	t := l.T
	md, err := azure.NewManagedDisks(azure.ManagedOptions{ARM: l.armOptions(), SASDuration: l.opts.ARM.SASDuration,
		SnapshotsPerWindow: l.opts.ARM.SnapshotsPerWindow, Window: l.opts.ARM.SnapshotWindow,
		Read: azure.StorageOptions{RetryDelay: 10 * time.Millisecond, MaxRetryDelay: 100 * time.Millisecond, TryTimeout: 30 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	ac, err := azure.NewARMCompute(l.armOptions())
	if err != nil {
		t.Fatal(err)
	}
	return &azure.Disks{Storage: l.Storage, Managed: md}, ac
}

// Replicas are the drill's replica store: a container of its own, reached
// through the blob front (Azurite copies only from a URL of the host it
// was asked on, and read grants point at the front).
func (l *Lab) Replicas() *azure.Replicas {
	t := l.T
	st, err := azure.NewStorage(azure.StorageOptions{ConnectionString: azure.NewSecret(testenv.AzuriteFront(t)),
		AccountID:  "/subscriptions/" + labarm.DefaultSubscription + "/resourceGroups/" + ResourceGroup + "/providers/Microsoft.Storage/storageAccounts/devstoreaccount1",
		RetryDelay: 10 * time.Millisecond, MaxRetryDelay: 100 * time.Millisecond, TryTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c := strings.TrimSuffix(l.Container[:min(len(l.Container), 55)], "-") + "-rep"
	t.Cleanup(func() { _ = st.DeleteContainer(context.Background(), c) })
	return &azure.Replicas{Storage: st, Container: c}
}

// DiskName is the managed disk name of disk i of vm.
func (l *Lab) DiskName(vm string, i int) string {
	if i == 0 {
		return vm + "-os"
	}
	return vm + "-data" + string(rune('0'+i-1))
}

// createManagedDisks makes vm's managed disks; their backing blobs
// become the drill's blobs of the VM.
func (l *Lab) createManagedDisks(vm VM) {
	t := l.T
	for i, size := range vm.Disks {
		if _, err := l.ARM.CreateDisk(context.Background(), ResourceGroup, l.DiskName(vm.Name, i), size, "Premium_LRS"); err != nil {
			t.Fatal(err)
		}
		_, blob, err := l.ARM.DiskBlob(ResourceGroup, l.DiskName(vm.Name, i))
		if err != nil {
			t.Fatal(err)
		}
		l.blobs[blobKey(vm.Name, i)] = blob
	}
}

// createARMVM makes the ARM VM (and its LabCompute VM) for vm, on its
// managed disks or on its page blobs, with one NIC and a public IP.
func (l *Lab) createARMVM(vm VM) {
	spec := labarm.VMSpec{RG: ResourceGroup, Name: vm.Name,
		NICs: []labarm.NICSpec{{Name: vm.Name + "-nic", PublicIP: vm.Name + "-ip"}}}
	for i := range vm.Disks {
		ds := labarm.DiskSpec{LUN: int32(i - 1)}
		if vm.Managed {
			ds.Disk = l.DiskName(vm.Name, i)
		} else {
			ds.Container, ds.Blob = l.Container, l.Blob(vm.Name, i)
		}
		if i == 0 {
			ds.LUN = 0
			spec.OSDisk = ds
		} else {
			spec.DataDisks = append(spec.DataDisks, ds)
		}
	}
	if _, err := l.ARM.CreateVM(context.Background(), spec); err != nil {
		l.T.Fatal(err)
	}
}

func blobKey(vm string, i int) string { return vm + "/" + string(rune('0'+i)) }

// connEndpoint is the BlobEndpoint of a connection string.
func connEndpoint(conn string) string {
	for _, kv := range splitSemi(conn) {
		if len(kv) > len("BlobEndpoint=") && kv[:len("BlobEndpoint=")] == "BlobEndpoint=" {
			return kv[len("BlobEndpoint="):]
		}
	}
	return ""
}

func splitSemi(s string) []string {
	var out []string
	start := 0
	for i := range len(s) + 1 {
		if i == len(s) || s[i] == ';' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}

// ARMNetwork lists the drill's network interfaces and public IPs that
// still exist (each VM has "<vm>-nic" holding "<vm>-ip").
func (l *Lab) ARMNetwork(t testing.TB) []string {
	o := l.armOptions()
	co := &arm.ClientOptions{ClientOptions: policy.ClientOptions{InsecureAllowCredentialWithHTTP: true,
		Cloud: cloud.Configuration{Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Endpoint: o.Endpoint, Audience: o.Endpoint}}}}}
	nics, err := armnetwork.NewInterfacesClient(o.SubscriptionID, azure.LabToken{}, co)
	if err != nil {
		t.Fatal(err)
	}
	pips, err := armnetwork.NewPublicIPAddressesClient(o.SubscriptionID, azure.LabToken{}, co)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, vm := range l.opts.VMs {
		if _, err := nics.Get(context.Background(), ResourceGroup, vm.Name+"-nic", nil); err == nil {
			left = append(left, vm.Name+"-nic")
		}
		if _, err := pips.Get(context.Background(), ResourceGroup, vm.Name+"-ip", nil); err == nil {
			left = append(left, vm.Name+"-ip")
		}
	}
	return left
}
