package azure_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
	"github.com/failback/failback/azure"
	"github.com/failback/failback/azure/disktest"
	"github.com/failback/failback/internal/testenv"
)

// TestPageBlobDiskConformance runs the VMDisk suite on page-blob disks in
// Azurite, behind the front that answers snapshot diffs as Azure does.
func TestPageBlobDiskConformance(t *testing.T) {
	cs := testenv.AzuriteFront(t)
	st, err := azure.NewStorage(azure.StorageOptions{ConnectionString: azure.NewSecret(cs),
		RetryDelay: 10 * time.Millisecond, MaxRetryDelay: 100 * time.Millisecond, TryTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := service.NewClientFromConnectionString(cs, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pb := func(ref azure.DiskRef) *pageblob.Client {
		return raw.NewContainerClient(ref.Container).NewPageBlobClient(ref.Blob)
	}
	disktest.Run(t, disktest.Harness{
		New: func(t *testing.T, size int64) (azure.DiskOpener, azure.DiskRef) {
			var rnd [6]byte
			_, _ = rand.Read(rnd[:])
			container := "conf-" + hex.EncodeToString(rnd[:])
			if err := st.CreateContainer(ctx, container); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.DeleteContainer(context.Background(), container) })
			if _, err := st.CreateDisk(ctx, container, "disk.vhd", size, azure.CreateDiskOptions{}); err != nil {
				t.Fatal(err)
			}
			return &azure.Disks{Storage: st}, azure.PageBlobRef(container, "disk.vhd")
		},
		Write: func(t *testing.T, ref azure.DiskRef, p []byte, off int64) {
			const maxPut = 4 << 20
			for o := 0; o < len(p); o += maxPut {
				n := min(maxPut, len(p)-o)
				_, err := pb(ref).UploadPages(ctx, streaming.NopCloser(bytes.NewReader(p[o:o+n])),
					blob.HTTPRange{Offset: off + int64(o), Count: int64(n)}, nil)
				if err != nil {
					t.Fatal(err)
				}
			}
		},
		Clear: func(t *testing.T, ref azure.DiskRef, off, n int64) {
			if _, err := pb(ref).ClearPages(ctx, blob.HTTPRange{Offset: off, Count: n}, nil); err != nil {
				t.Fatal(err)
			}
		},
		Missing:  azure.PageBlobRef("nosuchcontainer", "none.vhd"),
		Writable: true,
	})
}
