package hyperv

import (
	"fmt"
	"os"
	"path/filepath"
)

// LocalFreeSpace measures the volume of this machine that holds folder
// (which need not exist yet: its nearest existing parent is measured). The
// pre-flight uses it for the state folder, where the undo journals go.
func LocalFreeSpace(folder string) (Space, error) {
	probe, err := existingParent(folder)
	if err != nil {
		return Space{}, err
	}
	s, err := volumeSpace(probe)
	if err != nil {
		return Space{}, fmt.Errorf("measure free space for %s: %w", folder, err)
	}
	return s, nil
}

// existingParent is folder or its nearest parent that exists.
func existingParent(folder string) (string, error) {
	probe := filepath.Clean(folder)
	for {
		if _, err := os.Stat(probe); err == nil {
			return probe, nil
		}
		parent := filepath.Dir(probe)
		if parent == probe {
			return "", fmt.Errorf("measure free space for %s: no part of it exists", folder)
		}
		probe = parent
	}
}

// HostDir is the folder of a path as a host names it (D:\VMs for
// D:\VMs\web01.vhdx), in the host's style: what FreeSpace takes.
func HostDir(p string) string { return hostDir(p) }
