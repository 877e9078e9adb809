package config

import (
	"path/filepath"
	"strings"
)

// Host paths are the paths a Hyper-V host knows (D:\VMs\web01.vhdx,
// \\nas01\vms\web01.vhdx). failback writes a disk through a local path: the
// same one when the console runs on the host, else a mounted share that a
// [[host.path_map]] names.

// isWindowsAbs reports whether p is an absolute Windows path (drive or UNC).
func isWindowsAbs(p string) bool {
	if len(p) >= 3 && isLetter(p[0]) && p[1] == ':' && (p[2] == '\\' || p[2] == '/') {
		return true
	}
	if strings.HasPrefix(p, `\\`) || strings.HasPrefix(p, `//`) {
		parts := strings.FieldsFunc(p, func(r rune) bool { return r == '\\' || r == '/' })
		return len(parts) >= 2
	}
	return false
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

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

// mapPath finds the longest path_map whose host prefix covers hostPath (on a
// whole folder boundary) and returns the local path.
func mapPath(maps []PathMap, hostPath string) (string, bool) {
	hk := hostKey(hostPath)
	best := -1
	for i, m := range maps {
		mk := hostKey(m.Host)
		if mk == "" {
			continue
		}
		if hk == mk || strings.HasPrefix(hk, mk+`\`) {
			if best < 0 || len(mk) > len(hostKey(maps[best].Host)) {
				best = i
			}
		}
	}
	if best < 0 {
		return "", false
	}
	m := maps[best]
	rest := strings.TrimLeft(hostPath[len(strings.TrimRight(m.Host, `\/`)):], `\/`)
	rest = strings.ReplaceAll(rest, `\`, "/")
	if rest == "" {
		return m.Local, true
	}
	return filepath.Join(m.Local, filepath.FromSlash(rest)), true
}

// LocalPath returns the path failback writes through for a path on this
// host: the same path for transport local, the path_map translation for
// ssh, and for the lab the translation when one matches, else the path
// itself (the lab host resolves its own paths). ok is false when an ssh
// host has no path_map covering hostPath.
func (h *Host) LocalPath(hostPath string) (local string, ok bool) {
	switch h.Transport {
	case TransportLocal:
		return hostPath, true
	case TransportLab:
		if l, ok := mapPath(h.PathMap, hostPath); ok {
			return l, true
		}
		return hostPath, true
	}
	return mapPath(h.PathMap, hostPath)
}
