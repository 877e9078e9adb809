//go:build windows

package hyperv

import (
	"path/filepath"

	"golang.org/x/sys/windows"
)

// volumeSpace measures the volume holding the existing path p.
func volumeSpace(p string) (Space, error) {
	ptr, err := windows.UTF16PtrFromString(p)
	if err != nil {
		return Space{}, err
	}
	var free, total, totalFree uint64
	if err := windows.GetDiskFreeSpaceEx(ptr, &free, &total, &totalFree); err != nil {
		return Space{}, err
	}
	return Space{Volume: filepath.VolumeName(p), Free: int64(free), Total: int64(total)}, nil
}
