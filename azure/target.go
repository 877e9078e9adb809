package azure

import (
	"bytes"
	"context"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"
	"github.com/failback/failback/engine"
	"github.com/failback/failback/vdisk"
)

// maxClear bounds one Clear Pages call (Azure allows the whole blob; a
// bound keeps each request inside the try timeout).
const maxClear = 1 << 30

// PageBlobTarget is an engine.Target (and engine.Zeroer) over a live page
// blob, for reverse replication: writes go to the virtual disk only (never
// the footer), on whole 512-byte pages, in Put Page calls of at most 4 MiB;
// long runs of zeros and WriteZeroes become Clear Pages. Every completed call
// is durable, so Flush has nothing to do.
type PageBlobTarget struct {
	d     *Disk
	size  int64
	rp    readPolicy
	stats ReadStats
	close func(context.Context) error // releases what OpenWriter took
}

var (
	_ engine.Target = (*PageBlobTarget)(nil)
	_ engine.Zeroer = (*PageBlobTarget)(nil)
)

// OpenTarget opens the disk for writing. A disk leased by someone else
// (a VM still using it) is refused now rather than at the first write;
// a disk we lease needs WithLease first.
func (d *Disk) OpenTarget(ctx context.Context) (*PageBlobTarget, error) {
	props, err := d.pb.GetProperties(ctx, nil)
	if err != nil {
		return nil, wrapErr("open target", d.Name(), err)
	}
	if d.leaseID == "" && props.LeaseState != nil && *props.LeaseState == "leased" {
		return nil, &StorageError{Op: "open target", Object: d.Name(), Kind: ErrLeased,
			Hint: "a VM (or another tool) holds a lease on this disk; stop and delete the Azure VM using it, or break its lease, before writing"}
	}
	return &PageBlobTarget{d: d, size: d.VirtualSize(), rp: d.s.readPolicy()}, nil
}

// Size is the virtual disk size.
func (t *PageBlobTarget) Size() int64 { return t.size }

// Stats counts the target's reads.
func (t *PageBlobTarget) Stats() *ReadStats { return &t.stats }

// Throttling says what Azure's throttling does to this disk's writes.
func (t *PageBlobTarget) Throttling() Throttling {
	return t.d.s.opts.throttle.throttling(t.d.pb.URL())
}

func (t *PageBlobTarget) check(op string, off, n int64) error {
	if off%pageSize != 0 || n%pageSize != 0 {
		return fmt.Errorf("azure %s %s at %d, %d bytes: %w: page blobs are written in whole 512-byte pages; align the engine's block size to 512", op, t.d.Name(), off, n, ErrUnaligned)
	}
	if off < 0 || n < 0 || n > t.size-off {
		return fmt.Errorf("azure %s %s: [%d, %d) of a %d-byte disk: %w", op, t.d.Name(), off, off+n, t.size, ErrOutOfRange)
	}
	return nil
}

// zeroRun is the shortest run of zeros inside a write that is cleared
// rather than uploaded: standard page blobs bill written pages, so zeros
// should not become written pages, but each run costs a request.
const zeroRun = 256 << 10

// WriteAt writes p at off: runs of zeros of 256 KiB or more (aligned) are
// cleared, the rest goes in Put Page calls of at most 4 MiB.
func (t *PageBlobTarget) WriteAt(ctx context.Context, p []byte, off int64) error {
	if err := t.check("write", off, int64(len(p))); err != nil {
		return err
	}
	for _, r := range splitZeroRuns(p, zeroRun) {
		var err error
		if r.zero {
			err = t.clear(ctx, off+r.off, r.n)
		} else {
			for o := r.off; o < r.off+r.n && err == nil; o += maxPutPage {
				n := min(maxPutPage, r.off+r.n-o)
				err = t.put(ctx, p[o:o+n], off+o)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// span is a piece of a write: zeros to clear or data to upload.
type span struct {
	off, n int64
	zero   bool
}

// splitZeroRuns cuts p (whole pages) into data and zero spans, looking at
// unit-sized pieces (the last may be shorter): only whole zero units become
// zero spans, so short zero runs travel with the data around them.
func splitZeroRuns(p []byte, unit int64) []span {
	var out []span
	for o := int64(0); o < int64(len(p)); o += unit {
		n := min(unit, int64(len(p))-o)
		z := allZero(p[o : o+n])
		if k := len(out); k > 0 && out[k-1].zero == z {
			out[k-1].n += n
			continue
		}
		out = append(out, span{off: o, n: n, zero: z})
	}
	return out
}

func (t *PageBlobTarget) put(ctx context.Context, chunk []byte, off int64) error {
	_, err := t.d.pb.UploadPages(ctx, streaming.NopCloser(bytes.NewReader(chunk)),
		blob.HTTPRange{Offset: off, Count: int64(len(chunk))},
		&pageblob.UploadPagesOptions{AccessConditions: t.d.access()})
	return wrapErr("upload pages", t.d.Name(), err)
}

func (t *PageBlobTarget) clear(ctx context.Context, off, n int64) error {
	_, err := t.d.pb.ClearPages(ctx, blob.HTTPRange{Offset: off, Count: n},
		&pageblob.ClearPagesOptions{AccessConditions: t.d.access()})
	return wrapErr("clear pages", t.d.Name(), err)
}

// WriteZeroes clears [off, off+n): the pages read as zero and stop being
// allocated.
func (t *PageBlobTarget) WriteZeroes(ctx context.Context, off, n int64) error {
	if err := t.check("clear", off, n); err != nil {
		return err
	}
	for o := off; o < off+n; o += maxClear {
		if err := t.clear(ctx, o, min(maxClear, off+n-o)); err != nil {
			return err
		}
	}
	return nil
}

// ReadAt reads the live blob (the target is ours while we write it).
func (t *PageBlobTarget) ReadAt(ctx context.Context, p []byte, off int64) error {
	if off < 0 || int64(len(p)) > t.size-off {
		return fmt.Errorf("azure read %s: [%d, %d) of a %d-byte disk: %w", t.d.Name(), off, off+int64(len(p)), t.size, ErrOutOfRange)
	}
	for o := 0; o < len(p); o += maxRangeRead {
		n := min(maxRangeRead, len(p)-o)
		if err := downloadRange(ctx, t.d.pb, t.d.Name(), p[o:o+n], off+int64(o), t.rp, &t.stats); err != nil {
			return err
		}
	}
	return nil
}

// Allocated lists the blob's written pages within the virtual disk;
// gaps shorter than allocGranule count as written (they read as zeros),
// so the list stays bounded however fragmented the blob.
func (t *PageBlobTarget) Allocated(ctx context.Context) ([]engine.Extent, error) {
	ex, err := listPageRanges(ctx, t.d.pb, "", "", t.size, allocGranule(t.size))
	return ex, wrapErr("list page ranges", t.d.Name(), err)
}

// Flush has nothing to do: Azure acknowledges a Put Page once it is durable.
func (t *PageBlobTarget) Flush(context.Context) error { return nil }

// Close releases what opening the target took (the lease OpenWriter
// acquired); a target from OpenTarget has nothing to release.
func (t *PageBlobTarget) Close(ctx context.Context) error {
	if t.close == nil {
		return nil
	}
	c := t.close
	t.close = nil
	return c(ctx)
}

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if b[0]|b[1]|b[2]|b[3]|b[4]|b[5]|b[6]|b[7] != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// CreateDiskOptions say how to create a disk blob.
type CreateDiskOptions struct {
	// Metadata is set on the new blob.
	Metadata map[string]string
	// Overwrite replaces an existing blob; otherwise an existing blob is
	// an error, so a typo cannot wipe a disk.
	Overwrite bool
}

// CreateDisk creates an empty page-blob disk of the given virtual size (a
// whole number of MiB, as Azure requires) ending in a fixed-VHD footer.
func (s *Storage) CreateDisk(ctx context.Context, container, name string, virtualSize int64, o CreateDiskOptions) (*Disk, error) {
	obj := container + "/" + name
	footer, err := vdisk.NewFixedVHDFooter(virtualSize)
	if err != nil {
		return nil, fmt.Errorf("azure create disk %s: %w", obj, err)
	}
	pb := s.container(container).NewPageBlobClient(name)
	co := &pageblob.CreateOptions{Metadata: toMetadata(o.Metadata)}
	if !o.Overwrite {
		any := azcore.ETagAny
		co.AccessConditions = &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfNoneMatch: &any}}
	}
	if _, err := pb.Create(ctx, virtualSize+vdisk.VHDFooterSize, co); err != nil {
		if hasCode(err, "BlobAlreadyExists") || statusOf(err) == 409 {
			return nil, &StorageError{Op: "create disk", Object: obj, Status: statusOf(err), Code: codeOf(err), Err: err,
				Hint: "a blob of that name exists; pick another name or delete it first"}
		}
		return nil, wrapErr("create disk", obj, err)
	}
	_, err = pb.UploadPages(ctx, streaming.NopCloser(bytes.NewReader(footer)),
		blob.HTTPRange{Offset: virtualSize, Count: vdisk.VHDFooterSize}, nil)
	if err != nil {
		return nil, wrapErr("write VHD footer", obj, err)
	}
	return s.OpenDisk(ctx, container, name)
}
