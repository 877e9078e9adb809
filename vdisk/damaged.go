package vdisk

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// DamagedError is an image that its name (.vhdx, .vhd) or its content
// says is a VHDX or VHD but that does not parse as one. Such a file is
// never read as raw bytes unless the caller forces the raw format: a VHDX
// whose headers were zeroed would otherwise pass for a raw disk of about
// the same size, and a failback would write raw bytes into it.
type DamagedError struct {
	// Format is what the file should be (by its name, or its content).
	Format Format
	Path   string
	// Err is why it does not parse.
	Err error
	// Fix says what to do; empty for the usual advice (restore, or check
	// with Test-VHD/Repair-VHD).
	Fix string
}

// Error says "damaged VHDX: why; what to do".
func (e *DamagedError) Error() string {
	fix := e.Fix
	if fix == "" {
		fix = "restore the disk from a backup or check it with Hyper-V's Test-VHD/Repair-VHD"
	}
	return fmt.Sprintf("damaged %s: %v; %s", strings.ToUpper(string(e.Format)), e.Err, fix)
}

// Unwrap lets errors.Is find ErrCorrupt and the cause.
func (e *DamagedError) Unwrap() []error { return []error{ErrCorrupt, e.Err} }

// NamedFormat is the format a file's extension requires: VHDX for .vhdx,
// VHD for .vhd (either case), "" for any other name (then the content
// decides). Hyper-V goes by the extension too.
func NamedFormat(path string) Format {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".vhdx":
		return VHDX
	case ".vhd":
		return VHD
	}
	return ""
}

// openDetected opens an image whose format was not forced: a .vhdx or .vhd
// name requires that format; any other name is detected from the content.
// A file that fails to parse as the format it should have is a
// DamagedError, never a raw disk.
func openDetected(path string, o OpenOptions) (Image, error) {
	format := NamedFormat(path)
	if format == "" {
		var err error
		if format, err = Detect(path); err != nil {
			return nil, err
		}
	}
	img, err := openAs(path, format, o)
	var de *DamagedError
	if !errors.As(err, &de) {
		return img, err
	}
	if other, derr := Detect(path); derr == nil && other != format && other != Raw {
		// A VHD named .vhdx (or the other way round) is whole, only
		// misnamed: say so rather than describe the parse failure.
		de.Err = fmt.Errorf("%s holds a %s, not a %s", path, strings.ToUpper(string(other)), strings.ToUpper(string(format)))
		de.Fix = fmt.Sprintf("if it should be a %s, rename it to .%s (Hyper-V goes by the extension); otherwise restore the disk from a backup", strings.ToUpper(string(other)), other)
	}
	return nil, de
}

// openAs opens path in a known format, marking a VHDX or VHD that does
// not parse as damaged.
func openAs(path string, format Format, o OpenOptions) (Image, error) {
	var (
		img Image
		err error
	)
	switch format {
	case VHDX:
		img, err = openVHDX(path, o)
	case VHD:
		img, err = openVHD(path, o)
	case Raw:
		return openRaw(path, o)
	default:
		return nil, fmt.Errorf("%s: unknown image format %q (want vhdx, vhd or raw)", path, format)
	}
	if err != nil && errors.Is(err, ErrCorrupt) {
		return nil, &DamagedError{Format: format, Path: path, Err: err}
	}
	return img, err
}
