package azure

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"
	"github.com/failback/failback/engine"
)

// coalesceGap: allocated pieces of one read closer than this are fetched
// with one request (the gap reads as zeros from the service anyway), since
// a request costs more than a few KiB of zeros.
const coalesceGap = 64 << 10

// maxRangeRead bounds one ranged GET, so that a large ReadAt is several
// requests that each fit the try timeout.
const maxRangeRead = 8 << 20

// SnapshotSource is an engine.Source over one snapshot of a disk: the
// virtual disk only (never the footer), unallocated runs (of at least
// allocGranule) read as zeros without a request, the rest by ranged GETs
// that resume after transient failures. Safe for concurrent use.
type SnapshotSource struct {
	obj      string
	snapshot string
	size     int64
	rp       readPolicy
	stats    ReadStats
	thr      *throttles

	mu    sync.Mutex
	pb    *pageblob.Client
	alloc []engine.Extent
	ok    bool
	close func(context.Context) error // ends what opening took (a SAS grant)
	// access, when set, renews the client's access (a SAS grant that
	// expires): access is called for a client that stays valid at least
	// a while (force: the service refused the current one).
	access func(ctx context.Context, force bool) (*pageblob.Client, error)
	// url, when set, makes a URL reading this snapshot alone (AccessURL).
	url func(ctx context.Context, force bool) (Access, error)
}

var _ engine.Source = (*SnapshotSource)(nil)

// OpenSnapshot opens a snapshot of the disk for reading. The snapshot's
// own footer is checked: a disk resized after the snapshot keeps the
// snapshot's size.
func (d *Disk) OpenSnapshot(ctx context.Context, snapshot string) (*SnapshotSource, error) {
	if snapshot == "" {
		return nil, fmt.Errorf("azure: open snapshot of %s: no snapshot id given; reads come from snapshots only, never from the live blob", d.Name())
	}
	pb, err := d.pb.WithSnapshot(snapshot)
	if err != nil {
		return nil, fmt.Errorf("azure: snapshot id %q of %s: %w", snapshot, d.Name(), err)
	}
	obj := d.Name() + "@" + snapshot
	props, err := pb.GetProperties(ctx, nil)
	if err != nil {
		if statusOf(err) == 404 {
			return nil, &StorageError{Op: "open snapshot", Object: obj, Status: 404, Kind: ErrNotFound, Err: err,
				Hint: "the snapshot (or its disk) does not exist any more; start the job again to take a new snapshot"}
		}
		return nil, wrapErr("open snapshot", obj, err)
	}
	var blobSize int64
	if props.ContentLength != nil {
		blobSize = *props.ContentLength
	}
	f, err := readFooter(ctx, pb, obj, blobSize, d.s.readPolicy())
	if err != nil {
		return nil, err
	}
	src := &SnapshotSource{pb: pb, obj: obj, snapshot: snapshot, size: int64(f.CurrentSize), rp: d.s.readPolicy(), thr: d.s.opts.throttle}
	src.url = func(ctx context.Context, _ bool) (Access, error) { return d.signSnapshotURL(ctx, pb, snapshot) }
	return src, nil
}

// Size is the virtual disk size.
func (s *SnapshotSource) Size() int64 { return s.size }

// Close ends what opening the snapshot took (a managed disk's read
// grant); a page-blob snapshot holds nothing. It may be called again.
func (s *SnapshotSource) Close(ctx context.Context) error {
	s.mu.Lock()
	c := s.close
	s.close = nil
	s.mu.Unlock()
	if c == nil {
		return nil
	}
	return c(ctx)
}

// Snapshot is the snapshot id read.
func (s *SnapshotSource) Snapshot() string { return s.snapshot }

// Stats counts the requests and bytes this source sent and received.
func (s *SnapshotSource) Stats() *ReadStats { return &s.stats }

// Throttling says what Azure's throttling does to this disk's reads
// (zero before the first read of a managed disk's snapshot).
func (s *SnapshotSource) Throttling() Throttling {
	s.mu.Lock()
	pb := s.pb
	s.mu.Unlock()
	if pb == nil {
		return Throttling{}
	}
	return s.thr.throttling(pb.URL())
}

// Allocated lists the snapshot's written pages within the virtual disk,
// merged; gaps shorter than allocGranule count as written (they read as
// zeros), so the list stays bounded however fragmented the blob. The list
// is fetched once: a snapshot never changes. Callers get their own copy.
func (s *SnapshotSource) Allocated(ctx context.Context) ([]engine.Extent, error) {
	ex, err := s.allocated(ctx)
	return slices.Clone(ex), err
}

func (s *SnapshotSource) allocated(ctx context.Context) ([]engine.Extent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ok {
		return s.alloc, nil
	}
	var ex []engine.Extent
	err := s.retryDenied(ctx, func(pb *pageblob.Client) error {
		var err error
		ex, err = listPageRanges(ctx, pb, "", "", s.size, allocGranule(s.size))
		return err
	}, true)
	if err != nil {
		return nil, wrapErr("list page ranges", s.obj, err)
	}
	s.alloc, s.ok = ex, true
	return ex, nil
}

// client is the blob client to read with, its access renewed first when
// it is about to end.
func (s *SnapshotSource) client(ctx context.Context, force bool, locked bool) (*pageblob.Client, error) {
	if !locked {
		s.mu.Lock()
		defer s.mu.Unlock()
	}
	if s.access == nil {
		return s.pb, nil
	}
	pb, err := s.access(ctx, force)
	if err != nil {
		return nil, err
	}
	s.pb = pb
	return pb, nil
}

// retryDenied runs f with the client; when the service refuses the
// access (an expired grant) and it can be renewed, it renews it once and
// runs f again. locked says the caller holds s.mu.
func (s *SnapshotSource) retryDenied(ctx context.Context, f func(*pageblob.Client) error, locked bool) error {
	pb, err := s.client(ctx, false, locked)
	if err != nil {
		return err
	}
	err = f(pb)
	if err == nil || s.access == nil || !errors.Is(wrapErr("", "", err), ErrAccessDenied) {
		return err
	}
	if pb, err = s.client(ctx, true, locked); err != nil {
		return err
	}
	return f(pb)
}

// ReadAt fills p from the virtual disk at off: zeros where no page is
// allocated, ranged GETs (gaps under 64 KiB coalesced) elsewhere.
func (s *SnapshotSource) ReadAt(ctx context.Context, p []byte, off int64) error {
	if off < 0 || int64(len(p)) > s.size-off {
		return fmt.Errorf("azure read %s: [%d, %d) of a %d-byte disk: %w", s.obj, off, off+int64(len(p)), s.size, ErrOutOfRange)
	}
	alloc, err := s.allocated(ctx)
	if err != nil {
		return err
	}
	pos := off
	for _, e := range coalesce(intersect(alloc, off, int64(len(p))), coalesceGap) {
		clear(p[pos-off : e.Off-off])
		for o := e.Off; o < e.End(); o += maxRangeRead {
			n := min(maxRangeRead, e.End()-o)
			err := s.retryDenied(ctx, func(pb *pageblob.Client) error {
				return downloadRange(ctx, pb, s.obj, p[o-off:o-off+n], o, s.rp, &s.stats)
			}, false)
			if err != nil {
				return err
			}
		}
		pos = e.End()
	}
	clear(p[pos-off:])
	return nil
}

// coalesce joins sorted extents separated by less than gap.
func coalesce(ex []engine.Extent, gap int64) []engine.Extent {
	out := ex[:0:0]
	for _, e := range ex {
		if n := len(out); n > 0 && e.Off-out[n-1].End() < gap {
			out[n-1].Len = e.End() - out[n-1].Off
			continue
		}
		out = append(out, e)
	}
	return out
}

// blobLength is the length of the blob src reads, renewing a refused
// grant once.
func (src *SnapshotSource) blobLength(ctx context.Context) (int64, error) {
	var length int64
	err := src.retryDenied(ctx, func(pb *pageblob.Client) error {
		props, err := pb.GetProperties(ctx, nil)
		if err == nil && props.ContentLength != nil {
			length = *props.ContentLength
		}
		return err
	}, false)
	return length, err
}
