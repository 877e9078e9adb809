package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/failback/failback/vdisk"
)

// ImageSource reads a local disk image (any vdisk format) as a Source.
// The caller keeps ownership of img (and closes it).
func ImageSource(img vdisk.Image) Source { return imageDisk{img} }

// ImageTarget writes a local disk image as a Target. When the image
// implements vdisk.Zeroer, so does the Target: zero blocks then release
// space instead of being written. When it implements vdisk.Deallocator
// (dynamic VHDX and VHD), the Target is a Deallocator too: a rollback
// makes blocks that were unallocated unallocated again and cuts the file
// back.
func ImageTarget(img vdisk.Image) Target {
	_, dealloc := img.(vdisk.Deallocator)
	_, zeroer := img.(vdisk.Zeroer)
	switch {
	case dealloc && zeroer:
		return imageDeallocator{imageZeroer{imageDisk{img}}}
	case zeroer:
		return imageZeroer{imageDisk{img}}
	}
	return imageDisk{img}
}

type imageDisk struct{ img vdisk.Image }

func (d imageDisk) Size() int64 { return d.img.Size() }

func (d imageDisk) ReadAt(ctx context.Context, p []byte, off int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n, err := d.img.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return d.named(err)
}

func (d imageDisk) WriteAt(ctx context.Context, p []byte, off int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n, err := d.img.WriteAt(p, off)
	if err == nil && n != len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return d.named(err)
	}
	return nil
}

// named puts the image's path in front of err, unless err names it
// already (vdisk's and os's errors do).
func (d imageDisk) named(err error) error {
	if p := d.img.Info().Path; !strings.Contains(err.Error(), p) {
		return fmt.Errorf("%s: %w", p, err)
	}
	return err
}

// View lends the image's bytes when it can (vdisk.Viewer).
func (d imageDisk) View(ctx context.Context, off, n int64, f func(p []byte)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	v, ok := d.img.(vdisk.Viewer)
	if !ok {
		return ErrNoView
	}
	if err := v.View(off, n, f); err != nil && !errors.Is(err, ErrNoView) {
		return d.named(err)
	} else if err != nil {
		return err
	}
	return nil
}

func (d imageDisk) Allocated(ctx context.Context) ([]Extent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return d.img.Allocated()
}

func (d imageDisk) Flush(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return d.img.Flush()
}

type imageZeroer struct{ imageDisk }

func (d imageZeroer) WriteZeroes(ctx context.Context, off, n int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return d.img.(vdisk.Zeroer).WriteZeroes(off, n)
}

type imageDeallocator struct{ imageZeroer }

func (d imageDeallocator) Deallocate(ctx context.Context, off, n int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return d.img.(vdisk.Deallocator).Deallocate(off, n)
}

func (d imageDeallocator) Trim(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return d.img.(vdisk.Deallocator).Trim()
}
