package vdisk

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// MaxImageSize is the largest virtual size this package creates: the VHDX
// limit (64 TiB). Larger requests are mistakes (a unit typed wrong).
const MaxImageSize = 64 << 40

// Open opens an image. Unless o.Format forces one, a .vhdx or .vhd name
// requires that format and any other name is detected from the content;
// a VHDX or VHD that does not parse is a *DamagedError (never read as raw
// bytes unless o.Format is Raw).
func Open(path string, o OpenOptions) (Image, error) {
	if o.Format == "" {
		return openDetected(path, o)
	}
	return openAs(path, o.Format, o)
}

// Detect names the format of an existing image from its content: VHDX by
// its signature, a dynamic VHD by the footer copy at its start, a fixed
// VHD by a valid footer at its end, raw otherwise.
func Detect(path string) (Format, error) {
	f, err := openFile(path, true)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	head := make([]byte, 8)
	if _, err := f.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("%s: read: %w", path, err)
	}
	switch string(head) {
	case "vhdxfile":
		return VHDX, nil
	case vhdCookie:
		return VHD, nil
	}
	if st.Size() >= VHDFooterSize {
		if _, err := readFooterAt(f, st.Size()-VHDFooterSize); err == nil {
			return VHD, nil
		}
	}
	return Raw, nil
}

// FormatFromPath names the format a file name asks for by its extension.
func FormatFromPath(path string) (Format, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".vhdx":
		return VHDX, nil
	case ".vhd":
		return VHD, nil
	case ".raw", ".img", ".bin":
		return Raw, nil
	}
	return "", fmt.Errorf("%s: cannot tell the image format from the extension; name it .vhdx, .vhd, .raw, .img or .bin, or give the format", path)
}

// Create makes a new image. It never overwrites an existing file, checks
// the options before creating anything, and removes what it created when
// it fails.
func Create(path string, o CreateOptions) (Image, error) {
	if o.Format == "" {
		var err error
		if o.Format, err = FormatFromPath(path); err != nil {
			return nil, err
		}
	}
	if err := checkCreate(o); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("%s already exists; remove it or choose another name (images are never overwritten)", path)
	}
	var (
		img Image
		err error
	)
	switch o.Format {
	case VHDX:
		img, err = createVHDX(path, o)
	case VHD:
		img, err = createVHD(path, o)
	case Raw:
		img, err = createRaw(path, o)
	}
	if err != nil {
		if !errors.Is(err, os.ErrExist) {
			os.Remove(path)
		}
		return nil, err
	}
	return img, nil
}

func checkCreate(o CreateOptions) error {
	sector := int64(512)
	switch o.Format {
	case VHDX:
		if o.LogicalSector != 0 {
			sector = int64(o.LogicalSector)
		}
		if sector != 512 && sector != 4096 {
			return fmt.Errorf("logical sector size %d: use 512 or 4096", o.LogicalSector)
		}
	case VHD:
	case Raw:
		if o.Fixed || o.BlockSize != 0 || o.AzureCompatible {
			return fmt.Errorf("a raw image has no fixed/dynamic kind, block size or Azure form; use a VHD for Azure")
		}
		// A raw image is its bytes: any size, so that it can hold a
		// source (an exported disk, a file) that is not whole sectors.
		sector = 1
	default:
		return fmt.Errorf("unknown image format %q (want vhdx, vhd or raw)", o.Format)
	}
	if o.Format == VHD && o.AzureCompatible {
		// Azure's rule is stricter than the sector rule and its message
		// names the sizes to use instead.
		if err := AzureCompatibleSize(o.Size); err != nil {
			return err
		}
	}
	switch {
	case o.Size <= 0:
		return fmt.Errorf("virtual size %d: give a positive size", o.Size)
	case o.Size%sector != 0:
		down, up := o.Size/sector*sector, (o.Size/sector+1)*sector
		if down == 0 {
			return fmt.Errorf("virtual size %d is not a multiple of the %d-byte sector; use %d", o.Size, sector, up)
		}
		return fmt.Errorf("virtual size %d is not a multiple of the %d-byte sector; use %d or %d", o.Size, sector, down, up)
	case o.Size > MaxImageSize:
		return fmt.Errorf("virtual size %d is over 64 TiB, the largest disk image; check the unit", o.Size)
	}
	if o.Format == VHD {
		return checkVHDCreate(o)
	}
	return nil
}
