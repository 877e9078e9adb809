package azure

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/failback/failback/engine"
	"github.com/failback/failback/internal/testenv"
	"github.com/failback/failback/vdisk"
)

const mib = 1 << 20

func TestSnapshotSourceReadsWhatWasWrittenAndSkipsUnallocated(t *testing.T) {
	ctx := context.Background()
	s, ct, c := newTestStorage(t)
	d, err := s.CreateDisk(ctx, c, "vm1-os.vhd", 8*mib, CreateDiskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.VirtualSize() != 8*mib || d.BlobSize() != 8*mib+512 {
		t.Fatalf("sizes: virtual %d blob %d", d.VirtualSize(), d.BlobSize())
	}
	want := make([]byte, 8*mib)
	pb := rawPageBlob(s, c, "vm1-os.vhd")
	// 16 adjacent 4 KiB writes: Azurite lists them as 16 ranges; we merge.
	for i := int64(0); i < 16; i++ {
		off := 1*mib + i*4096
		p := pattern(off, 4096, 1)
		rawPut(t, pb, off, p)
		copy(want[off:], p)
	}
	p := pattern(5*mib, 8192, 2)
	rawPut(t, pb, 5*mib, p)
	copy(want[5*mib:], p)

	snap, err := d.CreateSnapshot(ctx, SnapshotOptions{JobID: "job-1", Purpose: "phase1"})
	if err != nil {
		t.Fatal(err)
	}
	// Written after the snapshot: must not show through.
	rawPut(t, pb, 3*mib, pattern(3*mib, 4096, 3))

	src, err := d.OpenSnapshot(ctx, snap.ID)
	if err != nil {
		t.Fatal(err)
	}
	if src.Size() != 8*mib {
		t.Fatalf("source size %d", src.Size())
	}
	alloc, err := src.Allocated(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantAlloc := []engine.Extent{{Off: 1 * mib, Len: 64 << 10}, {Off: 5 * mib, Len: 8192}}
	if !reflect.DeepEqual(alloc, wantAlloc) {
		t.Fatalf("Allocated = %v, want %v (merged, footer excluded)", alloc, wantAlloc)
	}

	ct.reset()
	got := make([]byte, 8*mib)
	for off := int64(0); off < 8*mib; off += mib {
		if err := src.ReadAt(ctx, got[off:off+mib], off); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatal("snapshot content differs from what was written before it")
	}
	if n := ct.gets.Load(); n != 2 {
		t.Errorf("%d data GETs, want 2 (one per allocated range, none for zeros)", n)
	}
	if n := ct.bodyBytes.Load(); n != 64<<10+8192 {
		t.Errorf("downloaded %d bytes, want %d (allocated bytes only)", n, 64<<10+8192)
	}

	ct.reset()
	zero := make([]byte, mib)
	for i := range zero {
		zero[i] = 0xEE // must be overwritten with zeros
	}
	if err := src.ReadAt(ctx, zero, 6*mib); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(zero, make([]byte, mib)) || ct.gets.Load() != 0 {
		t.Errorf("unallocated read: zeros=%v gets=%d", bytes.Equal(zero, make([]byte, mib)), ct.gets.Load())
	}

	// The footer is not part of the disk.
	if err := src.ReadAt(ctx, make([]byte, 512), 8*mib); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("read of the footer: %v, want ErrOutOfRange", err)
	}
	// An offset so large that off+len overflows is out of range too, not
	// a read of zeros.
	if err := src.ReadAt(ctx, make([]byte, 4096), math.MaxInt64-100); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("read at an overflowing offset: %v, want ErrOutOfRange", err)
	}
}

func TestCreateDiskWritesAFooterQemuReads(t *testing.T) {
	ctx := context.Background()
	s, _, c := newTestStorage(t)
	d, err := s.CreateDisk(ctx, c, "data.vhd", 3*mib, CreateDiskOptions{Metadata: map[string]string{"owner": "lab"}})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := d.OpenTarget(ctx)
	if err != nil {
		t.Fatal(err)
	}
	data := pattern(0, 3*mib, 7)
	if err := tg.WriteAt(ctx, data, 0); err != nil {
		t.Fatal(err)
	}
	// Read the whole blob, footer included, as a file qemu-img can judge.
	whole := make([]byte, d.BlobSize())
	if err := downloadRange(ctx, d.pb, d.Name(), whole, 0, s.readPolicy(), nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	vhd, raw := filepath.Join(dir, "d.vhd"), filepath.Join(dir, "d.raw")
	if err := os.WriteFile(vhd, whole, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(raw, data, 0o644); err != nil {
		t.Fatal(err)
	}
	info := testenv.Qemu(t, "info", "-f", "vpc", vhd)
	if !strings.Contains(info, "virtual size: 3 MiB") {
		t.Errorf("qemu-img info:\n%s", info)
	}
	testenv.Qemu(t, "compare", "-f", "raw", "-F", "vpc", raw, vhd)

	if _, err := s.CreateDisk(ctx, c, "data.vhd", 3*mib, CreateDiskOptions{}); err == nil {
		t.Error("CreateDisk over an existing blob succeeded without Overwrite")
	}
	if _, err := s.CreateDisk(ctx, c, "odd.vhd", 3*mib+512, CreateDiskOptions{}); err == nil || !strings.Contains(err.Error(), "MiB") {
		t.Errorf("CreateDisk of a size Azure refuses: %v", err)
	}
	md, err := d.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := MetadataValue(md, "OWNER"); v != "lab" {
		t.Errorf("metadata %v", md)
	}
	// Merge without case: Owner replaces owner, an empty value removes.
	if err := d.SetMetadata(ctx, map[string]string{"Owner": "ops", "syncgen": "3"}); err != nil {
		t.Fatal(err)
	}
	if err := d.SetMetadata(ctx, map[string]string{"SYNCGEN": ""}); err != nil {
		t.Fatal(err)
	}
	md, err = d.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(md) != 1 || md["owner"] != "ops" {
		t.Errorf("after SetMetadata: %v", md)
	}
}

func TestOpenDiskRefusesWhatIsNotAFixedVHDPageBlob(t *testing.T) {
	ctx := context.Background()
	s, _, c := newTestStorage(t)

	bb := s.container(c).NewBlockBlobClient("block.vhd")
	if _, err := bb.UploadBuffer(ctx, make([]byte, 4096), &blockblob.UploadBufferOptions{}); err != nil {
		t.Fatal(err)
	}
	good, err := vdisk.NewFixedVHDFooter(mib)
	if err != nil {
		t.Fatal(err)
	}
	badSum := bytes.Clone(good)
	badSum[100] ^= 0xFF
	f, err := vdisk.ParseVHDFooter(good)
	if err != nil {
		t.Fatal(err)
	}
	f.DiskType, f.DataOffset = vdisk.VHDTypeDynamic, 512
	dynamic := f.Marshal()
	mk := func(name string, blobSize int64, footer []byte) {
		pb := rawPageBlob(s, c, name)
		if _, err := pb.Create(ctx, blobSize, nil); err != nil {
			t.Fatal(err)
		}
		rawPut(t, pb, blobSize-512, footer)
	}
	mk("badsum.vhd", mib+512, badSum)
	mk("dynamic.vhd", mib+512, dynamic)
	mk("mismatch.vhd", 2*mib+512, good) // footer says 1 MiB
	mk("nofooter.vhd", mib+512, make([]byte, 512))

	cases := []struct {
		container, name string
		kind            error
		says            string
	}{
		{c, "block.vhd", ErrNotPageBlob, "BlockBlob"},
		{c, "missing.vhd", ErrNotFound, "only unmanaged page-blob disks"},
		{c, "subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/disks/os", ErrNotPageBlob, "managed disk"},
		{c, "badsum.vhd", ErrBadFooter, "checksum"},
		{c, "dynamic.vhd", ErrBadFooter, "not fixed"},
		{c, "mismatch.vhd", ErrBadFooter, "is not the blob length"},
		{c, "nofooter.vhd", ErrBadFooter, "cookie"},
		{"nosuchcontainer", "x.vhd", ErrNotFound, "no such container"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.OpenDisk(ctx, tc.container, tc.name)
			t.Log(err)
			if !errors.Is(err, tc.kind) {
				t.Fatalf("err = %v, want %v", err, tc.kind)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %q does not say %q", err, tc.says)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}
