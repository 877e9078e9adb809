package hyperv

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/failback/failback/internal/hostpath"
)

// PathMapping maps one folder as the host knows it to the folder the engine
// writes through: "D:\VMs" = "/mnt/hv01/VMs" (an SMB share mounted on the
// console's machine), or the same local folder for a lab host.
type PathMapping struct {
	Host  string `json:"host" toml:"host"`
	Local string `json:"local" toml:"local"`
}

// PathMap is the list of mappings of one host (internal/hostpath does the
// mapping). The deepest matching prefix wins. Windows host paths (D:\..., \\server\share\...) match without
// regard to case and with either slash; other host paths (a lab host's)
// match exactly.
type PathMap struct {
	// HostName names the host in errors.
	HostName string
	Mappings []PathMapping
}

// ParsePathMapping reads "HOSTPREFIX=LOCALPREFIX" as written in config.
func ParsePathMapping(s string) (PathMapping, error) {
	i := strings.LastIndex(s, "=")
	if i <= 0 || i == len(s)-1 {
		return PathMapping{}, fmt.Errorf("path mapping %q: want HOSTPATH=LOCALPATH, e.g. D:\\VMs=/mnt/hv01/VMs", s)
	}
	m := PathMapping{Host: strings.TrimSpace(s[:i]), Local: strings.TrimSpace(s[i+1:])}
	if !isWindowsAbs(m.Host) && !filepath.IsAbs(m.Host) {
		return PathMapping{}, fmt.Errorf("path mapping %q: the host side %q is not an absolute path", s, m.Host)
	}
	if !filepath.IsAbs(m.Local) {
		return PathMapping{}, fmt.Errorf("path mapping %q: the local side %q is not an absolute path", s, m.Local)
	}
	return m, nil
}

// ToLocal turns a host path into the path the engine writes through. A
// path that would lead outside its mapped folder ("..", or a component
// Windows reads as another name) is refused, as is one no mapping covers.
func (m PathMap) ToLocal(hostPath string) (string, error) {
	local, err := hostpath.ToLocal(m.mappings(), hostPath)
	if err != nil {
		why := err.Error()
		if errors.Is(err, hostpath.ErrNotCovered) {
			why = "no mapping covers it"
		}
		return "", m.noMapping(hostPath, why)
	}
	return local, nil
}

// ToHost turns a local path back into the path the host knows.
func (m PathMap) ToHost(localPath string) (string, error) {
	host, err := hostpath.ToHost(m.mappings(), localPath)
	if err != nil {
		return "", m.noMapping(localPath, "no mapping's local side contains it")
	}
	return host, nil
}

func (m PathMap) mappings() []hostpath.Mapping {
	out := make([]hostpath.Mapping, len(m.Mappings))
	for i, mp := range m.Mappings {
		out[i] = hostpath.Mapping{Host: mp.Host, Local: mp.Local}
	}
	return out
}

func (m PathMap) noMapping(p, why string) error {
	var have []string
	for _, mp := range m.Mappings {
		have = append(have, mp.Host+"="+mp.Local)
	}
	e := newHostError(ErrNoMapping, m.HostName, "map path "+p, why)
	if len(have) == 0 {
		e.Detail += " (this host has no mappings)"
	} else {
		e.Detail += " (mappings: " + strings.Join(have, ", ") + ")"
	}
	return e
}

// isWindowsAbs reports whether p is an absolute Windows path: a drive
// letter and a slash, or a UNC path.
func isWindowsAbs(p string) bool { return hostpath.IsWindowsAbs(p) }
