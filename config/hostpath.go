package config

import (
	"errors"
	"path"
	"path/filepath"
	"strings"

	"github.com/failback/failback/internal/hostpath"
)

// Host paths are the paths a Hyper-V host knows (D:\VMs\web01.vhdx,
// \\nas01\vms\web01.vhdx). failback writes a disk through a local path: the
// same one when the console runs on the host, else a mounted share that a
// [[host.path_map]] names.

// isWindowsAbs reports whether p is an absolute Windows path (drive or UNC).
func isWindowsAbs(p string) bool { return hostpath.IsWindowsAbs(p) }

// isHostAbs reports whether p is absolute on a host of this transport: a
// Windows path, or for the lab also a POSIX one.
func isHostAbs(transport, p string) bool {
	return isWindowsAbs(p) || (transport == TransportLab && strings.HasPrefix(p, "/"))
}

// hostKey normalises a host path for comparing: backslashes, lower case,
// no trailing separator. Windows paths are case-insensitive.
func hostKey(p string) string {
	p = strings.ReplaceAll(p, "/", `\`)
	p = strings.TrimRight(p, `\`)
	return strings.ToLower(p)
}

// mapPath finds the deepest path_map whose host folder covers hostPath
// and returns the local path (internal/hostpath: never outside that
// folder). The error wraps hostpath.ErrNotCovered or ErrBadComponent.
func mapPath(maps []PathMap, hostPath string) (string, error) {
	ms := make([]hostpath.Mapping, 0, len(maps))
	for _, m := range maps {
		if m.Host != "" {
			ms = append(ms, hostpath.Mapping{Host: m.Host, Local: m.Local})
		}
	}
	return hostpath.ToLocal(ms, hostPath)
}

// LocalPath returns the path failback writes through for a path on this
// host: the same path for transport local, the path_map translation for
// ssh, and for the lab the translation when one matches, else the path
// itself (the lab host resolves its own paths). ok is false when an ssh
// host has no path_map covering hostPath, or the path would lead outside
// the mapped folder ("..", or a name Windows reads differently).
func (h *Host) LocalPath(hostPath string) (local string, ok bool) {
	local, err := h.localPath(hostPath)
	return local, err == nil
}

// localPath is LocalPath with the reason it fails.
func (h *Host) localPath(hostPath string) (string, error) {
	switch h.Transport {
	case TransportLocal:
		return hostPath, nil
	case TransportLab:
		l, err := mapPath(h.PathMap, hostPath)
		if errors.Is(err, hostpath.ErrNotCovered) {
			return hostPath, nil
		}
		return l, err
	}
	return mapPath(h.PathMap, hostPath)
}

// MoverProgram is the mover's program file on the host (ssh): failback.exe
// in mover_dir, or failback in a POSIX folder.
func (h *Host) MoverProgram() string {
	if isWindowsAbs(h.MoverDir) {
		return strings.TrimRight(h.MoverDir, `\/`) + `\failback.exe`
	}
	return path.Join(h.MoverDir, "failback")
}

// MoverStateDir is the mover's state folder on the host: mover_dir's
// state folder, or a lab host's lab_dir/mover-state.
func (h *Host) MoverStateDir() string {
	switch {
	case h.Transport == TransportLab && h.MoverDir == "":
		return filepath.Join(h.LabDir, "mover-state")
	case isWindowsAbs(h.MoverDir):
		return strings.TrimRight(h.MoverDir, `\/`) + `\state`
	}
	return path.Join(h.MoverDir, "state")
}

// UsesMover says the host's disks are written by a mover on the host.
func (h *Host) UsesMover() bool { return h.DataPath != DataShare }
