package vdisk

// Differencing VHDX: a child file that holds only what was written to it,
// over a parent disk that it reads through and never writes.
//
// OpenChain opens a child with its parents (each read-only); Open still
// refuses differencing files, so nothing that expects a whole disk (a
// failback's target, a reverse replication's source) is ever handed one
// by accident. CreateDifferencing makes a new child of a VHDX parent.
//
// Reads (MS-VHDX 2.5.1.1 for a differencing file): FULLY_PRESENT blocks
// come from the child; PARTIALLY_PRESENT blocks sector by sector from the
// child where the sector bitmap bit is 1 and from the parent where it is
// 0; NOT_PRESENT and UNDEFINED blocks from the parent; ZERO and UNMAPPED
// blocks read as zeros (the spec allows zeros for both; this package never
// writes UNDEFINED or UNMAPPED).
//
// Writes: a write covering a whole block makes it FULLY_PRESENT; a
// partial write to a block the child lacks allocates the block, the
// chunk's sector bitmap block if needed, writes the sectors (completing
// partly written sectors from the parent) and makes the block
// PARTIALLY_PRESENT with those sectors' bits set; once every sector of a
// block is present it becomes FULLY_PRESENT. Sector bitmap changes go
// through the log with the BAT (vhdx_commit.go), after the payload they
// describe is durable, so a crash leaves each sector reading either its
// old (parent) or its new bytes, never garbage.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
)

// ErrDifferencing marks a differencing VHDX refused by Open (it wraps
// ErrUnsupported too); OpenChain reads it with its parent.
var ErrDifferencing = errors.New("differencing VHDX")

// ErrParentChanged marks a differencing disk whose parent was written
// after the child was made (its DataWriteGuid no longer matches the
// child's parent_linkage): the child's sectors no longer fit the parent.
var ErrParentChanged = errors.New("the parent disk changed since the differencing disk was made")

// ChainOptions say how to open a disk that may be a differencing VHDX.
type ChainOptions struct {
	// ReadOnly opens the child without write access. Parents are always
	// opened read-only.
	ReadOnly bool
	// Parent is the immediate parent as this machine reaches it, used
	// instead of the paths in the child's parent locator (which name it
	// as the Hyper-V host does). It is checked like any other: it must
	// be the disk the child was made from.
	Parent string
}

// DiffOptions say what differencing disk to create.
type DiffOptions struct {
	// Parent is the parent VHDX as this machine reaches it. It is opened
	// read-only and never written.
	Parent string
	// ParentHostPath and ChildHostPath name the two files as the Hyper-V
	// host does (D:\VMs\db01.vhdx). When given, the parent locator's
	// paths are the host's (absolute_win32_path, and relative_path from
	// the child's folder), so Hyper-V finds the parent; otherwise the
	// relative path is computed from the local paths.
	ParentHostPath string
	ChildHostPath  string
	// BlockSize of the child (0 = 2 MiB, as Hyper-V makes them).
	BlockSize int64
}

// vhdxDiff is what an open differencing VHDX adds to vhdxImage.
type vhdxDiff struct {
	parent     Image
	parentPath string
	loc        parentLocator
	// sb holds the sector bitmap BAT entries, one per chunk.
	sb []atomic.Uint64
	// wmu serializes writes to blocks that are not FULLY_PRESENT, and
	// every zeroing (lock order: wmu, then the image's mu).
	wmu sync.Mutex
	// bm holds the 4 KiB sectors of sector bitmap blocks that changed
	// since the last flush, or whose in-place write is still pending, by
	// file offset; guarded by the image's mu. The file is authoritative
	// for every other sector.
	bm    map[int64]*bmSector
	bmGen uint64
}

type bmSector struct {
	b     []byte
	dirty bool
	gen   uint64 // bumped by each change, to know when a flush covered it
}

// OpenChain opens an image; a differencing VHDX is opened with its chain
// of parents (read-only, each checked to be the disk its child was made
// from). Any other image opens as Open would open it.
func OpenChain(path string, o ChainOptions) (Image, error) {
	return openChain(path, o, map[string]bool{})
}

func openChain(path string, o ChainOptions, seen map[string]bool) (Image, error) {
	if len(seen) >= vhdxMaxChain {
		return nil, fmt.Errorf("%s: %w: a chain of more than %d differencing disks", path, ErrUnsupported, vhdxMaxChain)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if seen[abs] {
		return nil, corruptf(path, "the chain of parents loops back to this file")
	}
	seen[abs] = true
	f, err := Detect(path)
	if err != nil {
		return nil, err
	}
	if f != VHDX {
		return Open(path, OpenOptions{ReadOnly: o.ReadOnly})
	}
	v, err := openVHDXPath(path, o.ReadOnly, true)
	if err != nil {
		if errors.Is(err, ErrCorrupt) {
			return nil, &DamagedError{Format: VHDX, Path: path, Err: err}
		}
		return nil, err
	}
	if v.diff == nil {
		return v, nil
	}
	if err := v.attachParent(o.Parent, seen); err != nil {
		v.Close()
		return nil, err
	}
	return v, nil
}

// attachParent finds the parent (override first, then the locator's
// paths in the order 2.6.2.6.3 gives: relative, volume, absolute), opens
// it read-only and checks it is the one the child was made from.
func (v *vhdxImage) attachParent(override string, seen map[string]bool) error {
	type cand struct{ how, path string }
	var cands []cand
	if override != "" {
		cands = append(cands, cand{"given", override})
	}
	pl := v.diff.loc
	if pl.relative != "" {
		rel := strings.ReplaceAll(pl.relative, `\`, "/")
		cands = append(cands, cand{locRelative, filepath.Join(filepath.Dir(v.path), filepath.FromSlash(rel))})
	}
	if runtime.GOOS == "windows" {
		for _, c := range []cand{{locVolume, pl.volume}, {locAbsolute, pl.absolute}} {
			if c.path != "" {
				cands = append(cands, c)
			}
		}
	}
	var tried []string
	var lastErr error
	for _, c := range cands {
		if _, err := os.Stat(c.path); err != nil {
			tried = append(tried, fmt.Sprintf("%s %s (not found)", c.how, c.path))
			continue
		}
		p, err := openChain(c.path, ChainOptions{ReadOnly: true}, seen)
		if err != nil {
			return fmt.Errorf("%s: open its parent %s: %w", v.path, c.path, err)
		}
		if err := v.checkParent(p, c.path); err != nil {
			p.Close()
			tried = append(tried, fmt.Sprintf("%s %s (%v)", c.how, c.path, err))
			lastErr = err
			continue
		}
		v.diff.parent, v.diff.parentPath = p, c.path
		return nil
	}
	if lastErr != nil {
		return fmt.Errorf("%s: %w: %s", v.path, lastErr, strings.Join(tried, "; "))
	}
	if len(cands) == 0 {
		return fmt.Errorf("%s: its parent locator names the parent only as Windows sees it (%s%s); give the parent's path as this machine reaches it",
			v.path, pl.absolute, pl.volume)
	}
	return fmt.Errorf("%s: its parent disk was not found (tried %s); give the parent's path as this machine reaches it", v.path, strings.Join(tried, "; "))
}

// checkParent applies 2.6.2.6.3's rule (the parent's DataWriteGuid must
// be one of the child's linkage GUIDs) and checks that parent and child
// describe the same disk.
func (v *vhdxImage) checkParent(p Image, path string) error {
	pv, ok := p.(*vhdxImage)
	if !ok {
		return fmt.Errorf("%w: %s is a %s; a differencing VHDX's parent must be a VHDX", ErrUnsupported, path, p.Info().Format)
	}
	if !v.diff.loc.links(pv.hdr.DataWriteGUID) {
		return fmt.Errorf("%w: its DataWriteGuid is %s, the child was made from %s; make the differencing disk again",
			ErrParentChanged, pv.hdr.DataWriteGUID, v.diff.loc.linkage[0])
	}
	if pv.g.size != v.g.size || pv.g.logical != v.g.logical {
		return corruptf(v.path, "the parent is %d bytes of %d-byte sectors, the child %d bytes of %d-byte sectors",
			pv.g.size, pv.g.logical, v.g.size, v.g.logical)
	}
	return nil
}

// loadLocator reads and checks the parent locator of a differencing file
// (HasParent set, or a locator item present: the spec wants both).
func (v *vhdxImage) loadLocator(items map[guid]metaEntry, flags uint32) error {
	m, ok := items[guidParentLocator]
	if !ok || flags&fileParamHasParent == 0 {
		return corruptf(v.path, "a differencing VHDX needs both the HasParent flag and a parent locator")
	}
	b := make([]byte, m.Len)
	if err := v.pread(b, v.metaOff+int64(m.Off)); err != nil {
		return err
	}
	pl, err := parseLocator(b)
	if err != nil {
		return corruptf(v.path, "%v", err)
	}
	v.diff = &vhdxDiff{loc: pl, bm: map[int64]*bmSector{}}
	return nil
}

// ParentPath is the file a differencing image reads through ("" for any
// other image).
func ParentPath(img Image) string {
	if v, ok := img.(*vhdxImage); ok && v.diff != nil {
		return v.diff.parentPath
	}
	return ""
}
