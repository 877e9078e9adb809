package azurite_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
	"github.com/failback/failback/internal/testenv"
)

// Diffs of consecutive snapshots through the front, as the passes of a
// job ask them: each answer lists exactly the pages whose bytes changed,
// also where a chunk went back to bytes an older snapshot held and where
// the front answers from the checksums it kept of an earlier diff.
func TestFrontDiffsOfConsecutiveSnapshotsAreExact(t *testing.T) {
	ctx := context.Background()
	svc, err := service.NewClientFromConnectionString(testenv.AzuriteFront(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	cont := "frontdiff-" + hex.EncodeToString(rnd[:])
	if _, err := svc.CreateContainer(ctx, cont, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = svc.DeleteContainer(context.Background(), cont, nil) })
	const mib = 1 << 20
	pb := svc.NewContainerClient(cont).NewPageBlobClient("d.vhd")
	if _, err := pb.Create(ctx, 4*mib, nil); err != nil {
		t.Fatal(err)
	}
	put := func(off int64, fill byte, n int) {
		t.Helper()
		p := bytes.Repeat([]byte{fill}, n)
		if _, err := pb.UploadPages(ctx, streaming.NopCloser(bytes.NewReader(p)), blob.HTTPRange{Offset: off, Count: int64(n)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	snap := func() string {
		t.Helper()
		r, err := pb.CreateSnapshot(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		return *r.Snapshot
	}
	diff := func(cur, prev string) [][2]int64 {
		t.Helper()
		c, err := pb.WithSnapshot(cur)
		if err != nil {
			t.Fatal(err)
		}
		var out [][2]int64
		pager := c.NewGetPageRangesDiffPager(&pageblob.GetPageRangesDiffOptions{PrevSnapshot: &prev})
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range page.PageRange {
				out = append(out, [2]int64{*r.Start, *r.End + 1})
			}
		}
		return out
	}
	put(0, 1, 4*mib)
	s1 := snap()
	put(512, 2, 512) // chunk 0 changes
	s2 := snap()
	if got := diff(s2, s1); len(got) != 1 || got[0] != [2]int64{512, 1024} {
		t.Fatalf("diff s2-s1: %v, want [512 1024)", got)
	}
	put(512, 1, 512)         // chunk 0 back to s1's bytes
	put(2*mib+4096, 3, 1024) // chunk 2 changes
	s3 := snap()
	if got := diff(s3, s2); len(got) != 2 || got[0] != [2]int64{512, 1024} || got[1] != [2]int64{2*mib + 4096, 2*mib + 5120} {
		t.Fatalf("diff s3-s2: %v, want [512 1024) and [2 MiB+4096, 2 MiB+5120)", got)
	}
	if got := diff(s3, s1); len(got) != 1 || got[0] != [2]int64{2*mib + 4096, 2*mib + 5120} {
		t.Fatalf("diff s3-s1: %v, want only chunk 2's pages", got)
	}
}
