package vdisk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
)

// copyChunk is the unit of Copy and Compare: memory stays bounded whatever
// the disk size, and all-zero chunks aligned to it are skipped, so every
// block format with blocks of 1 MiB or more keeps unwritten blocks
// unallocated.
const copyChunk = 1 << 20

var zeroChunk = make([]byte, copyChunk)

// Copy copies the virtual content of src to dst, reading only the ranges
// src reports allocated and skipping all-zero chunks, so sparse stays
// sparse. dst must read as zeros wherever Copy does not write (a newly
// created image) and be at least as large as src. progress, if not nil,
// gets the bytes examined so far out of the allocated total.
func Copy(ctx context.Context, dst, src Image, progress func(done, total int64)) error {
	if dst.Size() < src.Size() {
		return fmt.Errorf("destination is %d bytes, smaller than the %d-byte source", dst.Size(), src.Size())
	}
	ext, err := src.Allocated()
	if err != nil {
		return err
	}
	total := extentBytes(ext)
	var done int64
	buf := make([]byte, copyChunk)
	for _, e := range ext {
		for off := e.Off; off < e.End(); {
			if err := ctx.Err(); err != nil {
				return err
			}
			c := min(e.End(), (off/copyChunk+1)*copyChunk) - off
			if err := readFull(src, buf[:c], off); err != nil {
				return fmt.Errorf("read source at %d: %w", off, err)
			}
			if !bytes.Equal(buf[:c], zeroChunk[:c]) {
				if _, err := dst.WriteAt(buf[:c], off); err != nil {
					return fmt.Errorf("write destination at %d: %w", off, err)
				}
			}
			off += c
			done += c
			if progress != nil {
				progress(done, total)
			}
		}
	}
	return dst.Flush()
}

// Compare reports whether a and b have the same virtual content, and if
// not the first offset where they differ (-1 when equal). Different sizes
// are a difference: at the end of the shorter image if nothing differs
// before. Ranges that both images report unallocated are not read.
func Compare(ctx context.Context, a, b Image) (equal bool, firstDiff int64, err error) {
	common := min(a.Size(), b.Size())
	ea, err := a.Allocated()
	if err != nil {
		return false, -1, err
	}
	eb, err := b.Allocated()
	if err != nil {
		return false, -1, err
	}
	ba, bb := make([]byte, copyChunk), make([]byte, copyChunk)
	for _, e := range NormalizeExtents(append(slices.Clone(ea), eb...), common) {
		for off := e.Off; off < e.End(); {
			if err := ctx.Err(); err != nil {
				return false, -1, err
			}
			c := min(e.End(), (off/copyChunk+1)*copyChunk) - off
			if err := readFull(a, ba[:c], off); err != nil {
				return false, -1, fmt.Errorf("read first image at %d: %w", off, err)
			}
			if err := readFull(b, bb[:c], off); err != nil {
				return false, -1, fmt.Errorf("read second image at %d: %w", off, err)
			}
			if !bytes.Equal(ba[:c], bb[:c]) {
				for i := range c {
					if ba[i] != bb[i] {
						return false, off + i, nil
					}
				}
			}
			off += c
		}
	}
	if a.Size() != b.Size() {
		return false, common, nil
	}
	return true, -1, nil
}

// readFull reads len(p) bytes at off; io.EOF is an error only when fewer
// bytes came back.
func readFull(img Image, p []byte, off int64) error {
	n, err := img.ReadAt(p, off)
	if n == len(p) && (err == nil || errors.Is(err, io.EOF)) {
		return nil
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return err
}
