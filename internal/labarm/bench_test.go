package labarm

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"
	"github.com/failback/failback/azure"
	"github.com/failback/failback/engine"
	"github.com/failback/failback/internal/azurite"
	"github.com/failback/failback/internal/testenv"
	"github.com/failback/failback/vdisk"
)

func benchEnv(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkManagedPhase1 measures phase 1 of a managed disk (engine.Sync
// from its incremental snapshot, read through a SAS grant, into an empty
// local image: every byte is read and written) against azblob's
// DownloadBuffer of the same snapshot through a SAS URL of its own, at
// the same concurrency, in one run on one Azurite behind the front. It
// prints the ratio (aim: >= 0.90; above 1 means failback is faster).
// scripts/bench-managed.sh runs it.
func BenchmarkManagedPhase1(b *testing.B) {
	size := int64(benchEnv("FAILBACK_BENCH_SIZE_MIB", 256)) << 20
	par := benchEnv("FAILBACK_BENCH_PARALLEL", 8)
	ctx := context.Background()
	port := testenv.AzuritePort(b)
	_, front, _ := strings.Cut(testenv.AzuriteFront(b), "BlobEndpoint=")
	lc, err := azure.NewLabCompute(b.TempDir(), azure.LabOptions{})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := New(Options{Dir: b.TempDir(), AzuriteURL: fmt.Sprintf("http://127.0.0.1:%d/%s", port, azurite.AccountName),
		BlobURL: strings.TrimSuffix(front, ";"), Compute: lc, Container: "bench-" + rnd()})
	if err != nil {
		b.Fatal(err)
	}
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Close() })
	const rg = "rg-bench"
	if _, err := srv.CreateDisk(ctx, rg, "bench", size, "Premium_LRS"); err != nil {
		b.Fatal(err)
	}
	c, bl, err := srv.DiskBlob(rg, "bench")
	if err != nil {
		b.Fatal(err)
	}
	fillBlob(b, srv.blob(c, bl), size)

	armo := azure.ARMOptions{SubscriptionID: srv.SubscriptionID(), ResourceGroup: rg, Credential: azure.LabToken{},
		Endpoint: url, PollInterval: 10 * time.Millisecond}
	md, err := azure.NewManagedDisks(azure.ManagedOptions{ARM: armo, Read: azure.StorageOptions{Parallel: par}})
	if err != nil {
		b.Fatal(err)
	}
	disk, err := md.OpenVMDisk(ctx, azure.DiskRef{Kind: azure.KindManaged, ResourceGroup: rg, Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	snap, err := disk.CreateSnapshot(ctx, azure.SnapshotOptions{Purpose: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	sas := grantSAS(b, url, srv.SubscriptionID(), rg, snap.ID)
	var ours, theirs time.Duration
	for i := 0; i < b.N; i++ {
		ours += timePhase1(b, disk, snap.ID, par)
		theirs += timeDownloadBuffer(b, sas, size, par)
	}
	ratio := theirs.Seconds() / ours.Seconds()
	b.ReportMetric(ratio, "downloadbuffer/phase1-speed")
	fmt.Printf("managed disk %d MiB, %d parallel: phase 1 %.2fs, DownloadBuffer %.2fs a run; speed ratio phase1/DownloadBuffer %.2f\n",
		size>>20, par, ours.Seconds()/float64(b.N), theirs.Seconds()/float64(b.N), ratio)
}

// fillBlob writes random data over the whole disk, 8 writers at a time.
func fillBlob(b *testing.B, pb *pageblob.Client, size int64) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for off := int64(0); off < size; off += 4 << 20 {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			buf := make([]byte, 4<<20)
			r := rand.New(rand.NewPCG(uint64(off), 1))
			for i := range buf {
				buf[i] = byte(r.Uint32())
			}
			if _, err := pb.UploadPages(context.Background(), streaming.NopCloser(bytes.NewReader(buf)),
				blob.HTTPRange{Offset: off, Count: int64(len(buf))}, nil); err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
}

// timePhase1 is one phase 1 into a fresh empty image.
func timePhase1(b *testing.B, disk azure.VMDisk, snap string, par int) time.Duration {
	ctx := context.Background()
	src, err := disk.OpenSnapshot(ctx, snap)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = src.Close(ctx) }()
	path := filepath.Join(b.TempDir(), "disk.raw")
	img, err := vdisk.Create(path, vdisk.CreateOptions{Format: vdisk.Raw, Size: src.Size()})
	if err != nil {
		b.Fatal(err)
	}
	defer img.Close()
	start := time.Now()
	if _, err := engine.Sync(ctx, src, engine.ImageTarget(img), engine.Options{Mode: engine.Delta, Threads: par, NoJournal: true}); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// timeDownloadBuffer is azblob's DownloadBuffer of the disk's bytes.
func timeDownloadBuffer(b *testing.B, sas string, size int64, par int) time.Duration {
	pb, err := pageblob.NewClientWithNoCredential(sas, nil)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, size)
	start := time.Now()
	if _, err := pb.DownloadBuffer(context.Background(), buf, &blob.DownloadBufferOptions{
		Range: blob.HTTPRange{Count: size}, BlockSize: 4 << 20, Concurrency: uint16(par)}); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// grantSAS asks the server for a read SAS on the snapshot, as any client
// of Azure would.
func grantSAS(b *testing.B, url, sub, rg, snap string) string {
	e := &env{url: url}
	sc, err := armcompute.NewSnapshotsClient(sub, azure.LabToken{}, e.armOptions())
	if err != nil {
		b.Fatal(err)
	}
	read, secs := armcompute.AccessLevelRead, int32(3600)
	p, err := sc.BeginGrantAccess(context.Background(), rg, snap, armcompute.GrantAccessData{Access: &read, DurationInSeconds: &secs}, nil)
	if err != nil {
		b.Fatal(err)
	}
	resp, err := p.PollUntilDone(context.Background(), &runtime.PollUntilDoneOptions{Frequency: 10 * time.Millisecond})
	if err != nil || resp.AccessSAS == nil {
		b.Fatalf("grant: %v", err)
	}
	return *resp.AccessSAS
}
