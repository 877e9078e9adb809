package labarm

import (
	"context"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/failback/failback/azure"
	"github.com/failback/failback/azure/disktest"
)

// TestManagedDiskConformance runs the VMDisk suite on azure.ManagedDisks,
// the real client, against the lab server: snapshots through ARM, reads
// through SAS grants, diffs through the front (cleared pages included).
// The suite writes each disk's backing blob as its VM's guest would.
func TestManagedDiskConformance(t *testing.T) {
	e := newEnv(t, nil)
	m := e.managed(nil)
	disktest.Run(t, disktest.Harness{
		New: func(t *testing.T, size int64) (azure.DiskOpener, azure.DiskRef) {
			name := "conf-" + rnd()
			id, err := e.srv.CreateDisk(context.Background(), e.rg, name, size, "Premium_LRS")
			if err != nil {
				t.Fatal(err)
			}
			return &azure.Disks{Managed: m}, azure.DiskRef{Kind: azure.KindManaged, ResourceGroup: e.rg, Name: name, ID: id}
		},
		Write: func(t *testing.T, ref azure.DiskRef, p []byte, off int64) {
			e.write(ref.ResourceGroup, ref.Name, p, off)
		},
		Clear: func(t *testing.T, ref azure.DiskRef, off, n int64) {
			if _, err := e.pageBlob(ref.ResourceGroup, ref.Name).ClearPages(context.Background(), blob.HTTPRange{Offset: off, Count: n}, nil); err != nil {
				t.Fatal(err)
			}
		},
		Missing: azure.DiskRef{Kind: azure.KindManaged, ResourceGroup: e.rg, Name: "no-such-disk"},
	})
}
