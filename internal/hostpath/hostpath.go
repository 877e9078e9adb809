// Package hostpath maps the paths a Hyper-V host knows (D:\VMs\web01.vhdx,
// \\nas01\vms\web01.vhdx, or a lab host's own POSIX paths) to the paths
// this machine writes through (a mounted share). It is the implementation
// behind config.Host.LocalPath.
//
// Windows host paths match without regard to case and with either slash;
// POSIX host paths (a lab host's) match exactly. The deepest mapping wins.
// A host path can never lead outside the local folder it maps to.
package hostpath

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Mapping maps one folder as the host knows it to a local folder.
type Mapping struct {
	Host  string
	Local string
}

var (
	// ErrNotCovered: no mapping's folder contains the path.
	ErrNotCovered = errors.New("no mapping covers it")
	// ErrBadComponent: the path has a component that could reach outside
	// the mapped folder, or that Windows would read as another name.
	ErrBadComponent = errors.New("the path has a component that is not allowed")
)

// IsWindowsAbs reports whether p is an absolute Windows path: a drive
// letter and a slash, or a UNC path naming a server and a share.
func IsWindowsAbs(p string) bool {
	if len(p) >= 3 && p[1] == ':' && (p[2] == '\\' || p[2] == '/') {
		c := p[0] | 0x20
		return c >= 'a' && c <= 'z'
	}
	if strings.HasPrefix(p, `\\`) || strings.HasPrefix(p, "//") {
		parts := strings.FieldsFunc(p, func(r rune) bool { return r == '\\' || r == '/' })
		return len(parts) >= 2
	}
	return false
}

// ToLocal turns a host path into the local path it is written through.
// It fails with ErrNotCovered or ErrBadComponent (wrapped, with the
// component).
func ToLocal(maps []Mapping, hostPath string) (string, error) {
	bestDepth := -1
	var best string
	var bad error
	for _, m := range maps {
		rest, ok := rest(m.Host, hostPath)
		// Depth in components: 'D:\VMs\\' is no deeper than 'D:\VMs'.
		depth := len(parts(m.Host))
		if !ok || m.Host == "" || depth <= bestDepth {
			continue
		}
		local, err := joinChecked(m.Local, rest, IsWindowsAbs(m.Host))
		if err != nil {
			bad = err
			bestDepth, best = depth, ""
			continue
		}
		bad = nil
		bestDepth, best = depth, local
	}
	switch {
	case bad != nil:
		return "", bad
	case bestDepth < 0:
		return "", ErrNotCovered
	}
	return best, nil
}

// parts splits a host folder into components in the host's style.
func parts(p string) []string {
	if IsWindowsAbs(p) {
		return winParts(p)
	}
	return dropDots(strings.FieldsFunc(p, func(r rune) bool { return r == '/' }))
}

// rest returns the components of p below prefix, if prefix contains p.
func rest(prefix, p string) ([]string, bool) {
	if IsWindowsAbs(prefix) {
		pre, got := winParts(prefix), winParts(p)
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
	if !strings.HasPrefix(p, "/") || !strings.HasPrefix(prefix, "/") {
		return nil, false
	}
	// POSIX: compare raw components, so ".." stays visible to joinChecked
	// (Clean would fold it away and let /srv/vms/../x match /srv/x's map).
	pre := strings.FieldsFunc(prefix, func(r rune) bool { return r == '/' })
	got := strings.FieldsFunc(p, func(r rune) bool { return r == '/' })
	got = dropDots(got)
	pre = dropDots(pre)
	if len(got) < len(pre) {
		return nil, false
	}
	for i := range pre {
		if pre[i] != got[i] {
			return nil, false
		}
	}
	return got[len(pre):], true
}

func dropDots(ps []string) []string {
	out := ps[:0:0]
	for _, c := range ps {
		if c != "." {
			out = append(out, c)
		}
	}
	return out
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
// those that could reach outside it: "..", and any component of only dots
// and spaces, which Windows trims to "." or ".." ("..." or ".. "). For a
// Windows host it also refuses a component ending in a dot or a space:
// Windows drops them, so the host would use another file than the local
// name says.
func joinChecked(local string, rest []string, windows bool) (string, error) {
	for _, c := range rest {
		if strings.Trim(c, ". ") == "" || strings.ContainsRune(c, 0) || (filepath.Separator == '/' && strings.Contains(c, "/")) {
			return "", fmt.Errorf("%w: %q", ErrBadComponent, c)
		}
		if windows && strings.TrimRight(c, ". ") != c {
			return "", fmt.Errorf("%w: %q ends in a dot or a space, which Windows drops (write the name as the host shows it)", ErrBadComponent, c)
		}
	}
	return filepath.Join(append([]string{local}, rest...)...), nil
}
