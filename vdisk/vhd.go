package vdisk

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Size limits for VHDs we create. Hyper-V stops at 2040 GiB for any VHD;
// larger fixed VHDs exist only as Azure page blobs, which stop at 8 TiB.
const (
	vhdMaxDynamicSize = 2040 << 30
	vhdMaxFixedSize   = 8<<40 - VHDFooterSize
)

// openVHD opens a fixed or dynamic VHD. A dynamic disk starts with a
// copy of its footer; a fixed one has only the footer at its end.
func openVHD(path string, o OpenOptions) (Image, error) {
	f, err := openFile(path, o.ReadOnly)
	if err != nil {
		return nil, err
	}
	img, err := openVHDFile(f, path, o.ReadOnly)
	if err != nil {
		f.Close()
		return nil, err
	}
	return img, nil
}

func openVHDFile(f *os.File, path string, ro bool) (Image, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	fileSize := st.Size()
	if fileSize < VHDFooterSize {
		return nil, corruptf(path, "VHD file is %d bytes, smaller than its 512-byte footer", fileSize)
	}
	head, headErr := readFooterAt(f, 0)
	tail, tailErr := readFooterAt(f, fileSize-VHDFooterSize)
	switch {
	case headErr == nil && head.DiskType != VHDTypeFixed:
		return openDynamicVHD(f, path, ro, head, false, fileSize)
	case tailErr == nil && tail.DiskType == VHDTypeFixed:
		return openFixedVHD(f, path, ro, tail, fileSize)
	case tailErr == nil:
		// The copy at the start is damaged; the spec says to use the
		// footer, which a dynamic disk keeps at its end.
		return openDynamicVHD(f, path, ro, tail, true, fileSize)
	case headErr != nil && isVHDCookie(f, 0):
		return nil, fmt.Errorf("%s: %w", path, headErr)
	default:
		return nil, fmt.Errorf("%s: no valid VHD footer at the end: %w", path, tailErr)
	}
}

func readFooterAt(f *os.File, off int64) (*VHDFooter, error) {
	b := make([]byte, VHDFooterSize)
	if _, err := f.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return ParseVHDFooter(b)
}

func isVHDCookie(f *os.File, off int64) bool {
	b := make([]byte, len(vhdCookie))
	_, err := f.ReadAt(b, off)
	return err == nil && string(b) == vhdCookie
}

func openFixedVHD(f *os.File, path string, ro bool, ft *VHDFooter, fileSize int64) (Image, error) {
	size := int64(ft.CurrentSize)
	if fileSize-VHDFooterSize < size {
		return nil, corruptf(path, "fixed VHD file is %d bytes but its footer says the disk holds %d bytes plus the footer: the file is truncated", fileSize, size)
	}
	info := Info{Path: path, Format: VHD, Fixed: true, LogicalSector: 512, PhysicalSector: 512}
	return newFlat(f, ro, size, info), nil
}

// createVHD makes a fixed VHD (a sparse file of the virtual size followed
// by the footer) or a dynamic one (footer copy, header, empty BAT,
// footer).
func createVHD(path string, o CreateOptions) (Image, error) {
	if err := checkVHDCreate(o); err != nil {
		return nil, err
	}
	f, err := createFile(path)
	if err != nil {
		return nil, err
	}
	var img Image
	if o.Fixed {
		img, err = writeFixedVHD(f, path, o.Size)
	} else {
		img, err = writeDynamicVHD(f, path, o.Size, o.BlockSize)
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return img, nil
}

func checkVHDCreate(o CreateOptions) error {
	if o.AzureCompatible {
		if !o.Fixed {
			return fmt.Errorf("only fixed VHDs can be Azure disks; create it fixed (--fixed)")
		}
		if err := AzureCompatibleSize(o.Size); err != nil {
			return err
		}
	}
	if o.LogicalSector != 0 && o.LogicalSector != 512 {
		return fmt.Errorf("a VHD has 512-byte sectors only; use VHDX for %d-byte sectors", o.LogicalSector)
	}
	if o.Fixed {
		if o.BlockSize != 0 {
			return fmt.Errorf("a fixed VHD has no block size; drop it or create a dynamic VHD")
		}
		if o.Size > vhdMaxFixedSize {
			return fmt.Errorf("virtual size %d is over %d, the largest fixed VHD (an 8 TiB Azure page blob less its footer)", o.Size, int64(vhdMaxFixedSize))
		}
		return nil
	}
	if o.Size > vhdMaxDynamicSize {
		return fmt.Errorf("virtual size %d is over 2040 GiB (%d), the largest dynamic VHD; use VHDX", o.Size, int64(vhdMaxDynamicSize))
	}
	if bs := o.BlockSize; bs != 0 && (bs < 512<<10 || bs > 256<<20 || bs&(bs-1) != 0) {
		return fmt.Errorf("VHD block size %d must be a power of two from 512 KiB to 256 MiB (the default is 2 MiB)", bs)
	}
	return nil
}

func writeFixedVHD(f *os.File, path string, size int64) (Image, error) {
	ft, err := newVHDFooter(VHDTypeFixed, size, vhdFixedOffset)
	if err != nil {
		return nil, err
	}
	if err := f.Truncate(size); err != nil {
		return nil, fmt.Errorf("%s: set size: %w", path, err)
	}
	if _, err := f.WriteAt(ft.Marshal(), size); err != nil {
		return nil, fmt.Errorf("%s: write footer: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	info := Info{Path: path, Format: VHD, Fixed: true, LogicalSector: 512, PhysicalSector: 512}
	return newFlat(f, false, size, info), nil
}
