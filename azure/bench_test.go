package azure

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"
	"github.com/failback/failback/internal/testenv"
)

// benchDisks are a fully written and a 10%-written disk of the same size,
// each with a snapshot, made once per benchmark binary.
type benchDisks struct {
	s          *Storage
	full, tenP *Disk
	fullSnap   string
	tenPSnap   string
	size       int64
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func setupBenchDisks(b *testing.B, size int64) *benchDisks {
	b.Helper()
	ctx := context.Background()
	o := testOptions(b)
	o.Parallel = 32
	s, err := NewStorage(o)
	if err != nil {
		b.Fatal(err)
	}
	c := uniqueName("bench")
	if err := s.CreateContainer(ctx, c); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.DeleteContainer(context.Background(), c) })
	bd := &benchDisks{s: s, size: size}
	mk := func(name string, every int64) (*Disk, string) {
		d, err := s.CreateDisk(ctx, c, name, size, CreateDiskOptions{})
		if err != nil {
			b.Fatal(err)
		}
		tg, err := d.OpenTarget(ctx)
		if err != nil {
			b.Fatal(err)
		}
		// Write 1 MiB out of every `every` MiB, 8 writers in parallel.
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		buf := pattern(0, mib, 1)
		for off := int64(0); off < size; off += every * mib {
			wg.Add(1)
			sem <- struct{}{}
			go func(off int64) {
				defer wg.Done()
				defer func() { <-sem }()
				if err := tg.WriteAt(ctx, buf, off); err != nil {
					b.Error(err)
				}
			}(off)
		}
		wg.Wait()
		sn, err := d.CreateSnapshot(ctx, SnapshotOptions{Purpose: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		return d, sn.ID
	}
	bd.full, bd.fullSnap = mk("full.vhd", 1)
	bd.tenP, bd.tenPSnap = mk("tenpct.vhd", 10)
	return bd
}

// readAllParallel reads the whole disk through src in 4 MiB blocks with
// `parallel` readers, as the engine does.
func readAllParallel(ctx context.Context, src *SnapshotSource, buf []byte, parallel int) error {
	const block = 4 * mib
	blocks := make(chan int64)
	errs := make(chan error, parallel)
	var wg sync.WaitGroup
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for off := range blocks {
				n := min(block, src.Size()-off)
				if err := src.ReadAt(ctx, buf[off:off+n], off); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for off := int64(0); off < src.Size(); off += block {
		blocks <- off
	}
	close(blocks)
	wg.Wait()
	close(errs)
	return <-errs
}

// BenchmarkAzureDownload measures, in one run against the same Azurite:
// a full download of a fully written page blob through SnapshotSource and
// through azblob's DownloadBuffer at the same concurrency, and the same
// Source over a disk with 10% of its pages written. Each iteration runs
// every variant once, interleaved, so drift hits them alike.
//
// FAILBACK_BENCH_SIZE_MIB (default 256) sets the disk size,
// FAILBACK_BENCH_PARALLEL (default 16) the concurrency.
func BenchmarkAzureDownload(b *testing.B) {
	ctx := context.Background()
	size := int64(envInt("FAILBACK_BENCH_SIZE_MIB", 256)) * mib
	par := envInt("FAILBACK_BENCH_PARALLEL", 16)
	bd := setupBenchDisks(b, size)
	srcFull, err := bd.full.OpenSnapshot(ctx, bd.fullSnap)
	if err != nil {
		b.Fatal(err)
	}
	srcTen, err := bd.tenP.OpenSnapshot(ctx, bd.tenPSnap)
	if err != nil {
		b.Fatal(err)
	}
	// The peer is azblob as anyone uses it: its own client, without this
	// package's adaptive limits, at the same concurrency.
	plain, err := pageblob.NewClientFromConnectionString(testenv.AzuriteConnectionString(b), bd.full.container, bd.full.name,
		&pageblob.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: newHTTPClient(par)}})
	if err != nil {
		b.Fatal(err)
	}
	snapPB, err := plain.WithSnapshot(bd.fullSnap)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, size)
	sdk := func() error {
		n, err := snapPB.DownloadBuffer(ctx, buf, &blob.DownloadBufferOptions{
			Range: blob.HTTPRange{Count: size}, BlockSize: 4 * mib, Concurrency: uint16(par),
		})
		if err == nil && n != size {
			err = fmt.Errorf("DownloadBuffer read %d of %d bytes", n, size)
		}
		return err
	}
	variants := []func() error{
		sdk,
		func() error { return readAllParallel(ctx, srcFull, buf, par) },
		func() error { return readAllParallel(ctx, srcTen, buf, par) },
	}
	took := make([]time.Duration, len(variants))
	runs := 0
	// b.Loop runs this function once (not once per probe of b.N), so the
	// disks are set up once. The order rotates so no variant always goes
	// first (cold) or last.
	for b.Loop() {
		for k := range variants {
			i := (k + runs) % len(variants)
			t0 := time.Now()
			if err := variants[i](); err != nil {
				b.Fatal(err)
			}
			took[i] += time.Since(t0)
		}
		runs++
	}
	tSDK, tSrc, tTen := took[0], took[1], took[2]
	mbps := func(d time.Duration) float64 { return float64(size) * float64(runs) / d.Seconds() / 1e6 }
	b.ReportMetric(mbps(tSDK), "azblob-MB/s")
	b.ReportMetric(mbps(tSrc), "source-MB/s")
	b.ReportMetric(tSDK.Seconds()/tSrc.Seconds(), "source/azblob-speed")
	b.ReportMetric(tTen.Seconds()/tSrc.Seconds(), "10pct/full-time")
	b.ReportMetric(0, "ns/op")
	b.Logf("%d MiB at %d parallel, %d runs: azblob DownloadBuffer %v/run, Source full %v/run, Source 10%% allocated %v/run",
		size/mib, par, runs, (tSDK / time.Duration(runs)).Round(time.Millisecond),
		(tSrc / time.Duration(runs)).Round(time.Millisecond), (tTen / time.Duration(runs)).Round(time.Millisecond))
}
