package hyperv

import (
	"fmt"
	"path/filepath"
	"strings"
)

// PathMapping maps one folder as the host knows it to the folder the engine
// writes through: "D:\VMs" = "/mnt/hv01/VMs" (an SMB share mounted on the
// console's machine), or the same local folder for a lab host.
type PathMapping struct {
	Host  string `json:"host" toml:"host"`
	Local string `json:"local" toml:"local"`
}

// PathMap is the list of mappings of one host. The longest matching prefix
// wins. Windows host paths (D:\..., \\server\share\...) match without
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

// ToLocal turns a host path into the path the engine writes through.
func (m PathMap) ToLocal(hostPath string) (string, error) {
	bestLen := -1
	var best string
	for _, mp := range m.Mappings {
		rest, ok := hostRest(mp.Host, hostPath)
		if !ok || len(mp.Host) <= bestLen {
			continue
		}
		local, err := joinChecked(mp.Local, rest)
		if err != nil {
			return "", m.noMapping(hostPath, err.Error())
		}
		bestLen, best = len(mp.Host), local
	}
	if bestLen < 0 {
		return "", m.noMapping(hostPath, "no mapping covers it")
	}
	return best, nil
}

// ToHost turns a local path back into the path the host knows.
func (m PathMap) ToHost(localPath string) (string, error) {
	localPath = filepath.Clean(localPath)
	bestLen := -1
	var best string
	for _, mp := range m.Mappings {
		root := filepath.Clean(mp.Local)
		rel, err := filepath.Rel(root, localPath)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || len(root) <= bestLen {
			continue
		}
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if rel == "." {
			parts = nil
		}
		bestLen, best = len(root), hostJoin(mp.Host, parts)
	}
	if bestLen < 0 {
		return "", m.noMapping(localPath, "no mapping's local side contains it")
	}
	return best, nil
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

// hostRest returns the components of p below prefix, if prefix contains p.
func hostRest(prefix, p string) ([]string, bool) {
	if isWindowsAbs(prefix) {
		pre := winParts(prefix)
		got := winParts(p)
		if len(got) < len(pre) {
			return nil, false
		}
		for i := range pre {
			if !strings.EqualFold(pre[i], got[i]) {
				return nil, false
			}
		}
		return got[len(pre):], true
	}
	rel, err := filepath.Rel(filepath.Clean(prefix), filepath.Clean(p))
	if !filepath.IsAbs(p) || err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return nil, false
	}
	if rel == "." {
		return nil, true
	}
	return strings.Split(filepath.ToSlash(rel), "/"), true
}

// winParts splits a Windows path into components, "D:" or "\\server\share"
// first, ignoring empty components and "."; ".." stays so joinChecked can
// refuse it.
func winParts(p string) []string {
	p = strings.ReplaceAll(p, "/", `\`)
	var out []string
	if strings.HasPrefix(p, `\\`) {
		f := strings.SplitN(strings.TrimPrefix(p, `\\`), `\`, 3)
		if len(f) < 2 {
			return []string{p}
		}
		out = append(out, `\\`+f[0]+`\`+f[1])
		if len(f) == 3 {
			p = f[2]
		} else {
			p = ""
		}
	}
	for _, c := range strings.Split(p, `\`) {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}

// joinChecked appends host path components to a local folder, refusing
// ".." so that a host path cannot reach outside the mapped folder.
func joinChecked(local string, rest []string) (string, error) {
	for _, c := range rest {
		if c == ".." || strings.ContainsRune(c, 0) || (filepath.Separator == '/' && strings.Contains(c, "/")) {
			return "", fmt.Errorf("component %q is not allowed", c)
		}
	}
	return filepath.Join(append([]string{local}, rest...)...), nil
}

// hostJoin appends components to a host folder in the host's style.
func hostJoin(prefix string, parts []string) string {
	if !isWindowsAbs(prefix) {
		return filepath.Join(append([]string{prefix}, parts...)...)
	}
	base := strings.TrimRight(strings.ReplaceAll(prefix, "/", `\`), `\`)
	if len(parts) == 0 {
		if len(base) == 2 { // "D:" alone means the current folder of D:
			return base + `\`
		}
		return base
	}
	return base + `\` + strings.Join(parts, `\`)
}

// isWindowsAbs reports whether p is an absolute Windows path: a drive
// letter and a backslash, or a UNC path.
func isWindowsAbs(p string) bool {
	if len(p) >= 3 && p[1] == ':' && (p[2] == '\\' || p[2] == '/') {
		c := p[0] | 0x20
		return c >= 'a' && c <= 'z'
	}
	return len(p) > 2 && (strings.HasPrefix(p, `\\`) || strings.HasPrefix(p, "//")) && p[2] != '\\' && p[2] != '/'
}
