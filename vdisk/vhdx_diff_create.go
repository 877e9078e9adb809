package vdisk

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/failback/failback/internal/hostpath"
)

// CreateDifferencing makes a new differencing VHDX at path whose parent is
// o.Parent, and returns it open for writing over its parent (opened
// read-only: the parent is never written). It refuses an existing path,
// and a parent that is not a VHDX (ErrUnsupported: copy the disk
// instead). The child has the parent's size and sector sizes; its parent
// locator holds the parent's DataWriteGuid and the paths to find it.
func CreateDifferencing(path string, o DiffOptions) (Image, error) {
	if f, err := FormatFromPath(path); err != nil || f != VHDX {
		return nil, fmt.Errorf("%s: a differencing disk is a VHDX; name it .vhdx", path)
	}
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("%s already exists; remove it or choose another name (images are never overwritten)", path)
	}
	bs := o.BlockSize
	if bs == 0 {
		bs = vhdxDiffDefaultBlock
	}
	if !isPow2(bs) || bs < vhdxMinBlock || bs > vhdxMaxBlock {
		return nil, fmt.Errorf("%s: %w: block size %d: VHDX needs a power of two from 1 MiB to 256 MiB", path, ErrUnsupported, bs)
	}
	p, err := OpenChain(o.Parent, ChainOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("create differencing disk %s: %w", path, err)
	}
	pv, ok := p.(*vhdxImage)
	if !ok {
		format := p.Info().Format
		p.Close()
		return nil, fmt.Errorf("create differencing disk %s: %w: its parent %s is a %s, and a differencing VHDX needs a VHDX parent; copy the disk instead",
			path, ErrUnsupported, o.Parent, strings.ToUpper(string(format)))
	}
	loc, err := parentLocatorFor(path, o, pv.hdr.DataWriteGUID)
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("create differencing disk %s: %w", path, err)
	}
	g := newGeometry(pv.g.size, bs, pv.g.logical, pv.g.physical)
	g.differencing()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600) // the disk's contents: the user's only
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("create differencing disk %s: %w", path, err)
	}
	v, err := writeNewVHDX(path, f, g, false, loc)
	if err != nil {
		f.Close()
		os.Remove(path)
		p.Close()
		return nil, fmt.Errorf("create differencing disk %s: %w", path, err)
	}
	v.diff.parent, v.diff.parentPath = p, o.Parent
	return v, nil
}

// parentLocatorFor builds the locator: the parent's identity, a relative
// path (the host's when both host paths are known, else the local one)
// and, for a Windows host, the absolute path as Win32 names it.
func parentLocatorFor(child string, o DiffOptions, linkage guid) ([]byte, error) {
	entries := []locatorEntry{{locLinkage, linkage.String()}}
	rel, err := relativeParent(child, o)
	if err != nil {
		return nil, err
	}
	if rel != "" {
		entries = append(entries, locatorEntry{locRelative, rel})
	}
	if hostpath.IsWindowsAbs(o.ParentHostPath) {
		entries = append(entries, locatorEntry{locAbsolute, win32Absolute(o.ParentHostPath)})
	}
	if len(entries) == 1 {
		return nil, fmt.Errorf("no path from the child to its parent %s can be written (another drive, and no host path); put the child on the parent's volume", o.Parent)
	}
	return encodeLocator(entries), nil
}

// relativeParent is the parent's path from the child's folder, with "\"
// separators as MS-VHDX wants ("" when there is none: another drive).
func relativeParent(child string, o DiffOptions) (string, error) {
	if o.ParentHostPath != "" && o.ChildHostPath != "" {
		if hostpath.IsWindowsAbs(o.ParentHostPath) != hostpath.IsWindowsAbs(o.ChildHostPath) {
			return "", fmt.Errorf("host paths %s and %s are not of one kind", o.ParentHostPath, o.ChildHostPath)
		}
		if hostpath.IsWindowsAbs(o.ParentHostPath) {
			return windowsRel(o.ChildHostPath, o.ParentHostPath), nil
		}
		r, err := filepath.Rel(filepath.Dir(filepath.FromSlash(o.ChildHostPath)), filepath.FromSlash(o.ParentHostPath))
		if err != nil {
			return "", err
		}
		return strings.ReplaceAll(filepath.ToSlash(r), "/", `\`), nil
	}
	ac, err := filepath.Abs(child)
	if err != nil {
		return "", err
	}
	ap, err := filepath.Abs(o.Parent)
	if err != nil {
		return "", err
	}
	r, err := filepath.Rel(filepath.Dir(ac), ap)
	if err != nil {
		return "", nil // another volume
	}
	return strings.ReplaceAll(filepath.ToSlash(r), "/", `\`), nil
}

// windowsRel is the relative path from child's folder to parent, both
// absolute Windows paths, compared without regard to case ("" when they
// are on different drives or shares).
func windowsRel(child, parent string) string {
	split := func(p string) []string {
		return strings.FieldsFunc(p, func(r rune) bool { return r == '\\' || r == '/' })
	}
	c, p := split(child), split(parent)
	c = c[:len(c)-1] // the child's folder
	root := 1
	if strings.HasPrefix(child, `\\`) || strings.HasPrefix(child, "//") {
		root = 2 // server and share
	}
	if len(c) < root || len(p) < root+1 {
		return ""
	}
	i := 0
	for i < len(c) && i < len(p)-1 && strings.EqualFold(c[i], p[i]) {
		i++
	}
	if i < root {
		return ""
	}
	parts := make([]string, 0, len(c)-i+len(p)-i)
	for range c[i:] {
		parts = append(parts, "..")
	}
	return strings.Join(append(parts, p[i:]...), `\`)
}

// win32Absolute is a Windows path in the \\?\ form MS-VHDX shows for
// absolute_win32_path.
func win32Absolute(p string) string {
	p = strings.ReplaceAll(p, "/", `\`)
	if strings.HasPrefix(p, `\\`) {
		return `\\?\UNC\` + strings.TrimPrefix(p, `\\`)
	}
	return `\\?\` + p
}
