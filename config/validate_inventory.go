package config

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"github.com/failback/failback/internal/hostpath"
)

// Rules for what failback moves: sites, hosts, VMs with their disks, plans.

// checkName reports an empty or untidy name; it returns false when empty.
func (k *checker) checkName(path, kind, name, example string, i int) bool {
	if strings.TrimSpace(name) == "" {
		k.bad(path, fmt.Sprintf("add name = %q", example), "%s %d has no name", kind, i+1)
		return false
	}
	if strings.TrimSpace(name) != name || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		k.bad(path+".name", "remove the leading/trailing spaces or control characters", "%s name %q has stray spaces or control characters", kind, name)
	}
	return true
}

// unique reports a name seen before (names compare without case, as
// Windows and Azure do); it returns false for a duplicate.
func (k *checker) unique(seen map[string]string, path, kind, name string) bool {
	key := strings.ToLower(name)
	if first, dup := seen[key]; dup {
		k.bad(path+".name", "rename one of them", "%s %q is defined twice (first at %s)", kind, name, k.where(first))
		return false
	}
	seen[key] = path
	return true
}

func (k *checker) sites() {
	seen := map[string]string{}
	for i, s := range k.c.Sites {
		p := fmt.Sprintf("site[%d]", i)
		if !k.checkName(p, "[[site]]", s.Name, "datacenter-1", i) {
			continue
		}
		k.unique(seen, p, "site", s.Name)
		if strings.EqualFold(s.Name, k.c.Azure.SiteName) {
			k.bad(p+".name", "rename the site, or change azure.site_name", "site %q has the name of the Azure side", s.Name)
		}
	}
}

func (k *checker) siteNames() []string {
	var out []string
	for _, s := range k.c.Sites {
		out = append(out, s.Name)
	}
	return out
}

func (k *checker) hosts() {
	seen := map[string]string{}
	for i := range k.c.Hosts {
		h := &k.c.Hosts[i]
		p := fmt.Sprintf("host[%d]", i)
		if k.checkName(p, "[[host]]", h.Name, "hv01.example.com", i) {
			k.unique(seen, p, "host", h.Name)
		}
		switch {
		case h.Site == "":
			k.bad(p, fmt.Sprintf("add site = %q (one of the [[site]] names)", k.siteNames()[0]), "host %q has no site", h.Name)
		case k.c.Site(h.Site) == nil:
			k.bad(p+".site", refFix(h.Site, k.siteNames(), fmt.Sprintf("add a [[site]] with name = %q", h.Site)),
				"host %q is in site %q, which no [[site]] defines", h.Name, h.Site)
		}
		switch h.Transport {
		case TransportSSH:
			k.sshHost(p, h)
		case TransportLocal:
			k.ignored(p, h, "transport = \"local\" runs PowerShell on this machine", "address", "user", "key_file", "key_passphrase", "password", "known_hosts", "lab_dir")
		case TransportLab:
			if h.LabDir == "" {
				k.bad(p, `add lab_dir = "lab/hv01" (the lab host's folder)`, "host %q has transport = \"lab\" but no lab_dir", h.Name)
			}
			k.ignored(p, h, "a lab host is a folder", "address", "user", "key_file", "key_passphrase", "password", "known_hosts")
		case "":
			k.bad(p, `add transport = "ssh" (or "local" on the host itself, or "lab")`, "host %q has no transport", h.Name)
		default:
			k.bad(p+".transport", enumFix(h.Transport, TransportLocal, TransportSSH, TransportLab), "transport = %q is not a transport", h.Transport)
		}
		if h.ShutdownTimeout.valid() && h.ShutdownTimeout.D() <= 0 {
			k.bad(p+".shutdown_timeout", `write e.g. "5m"`, "shutdown_timeout must be more than zero")
		}
		if h.MaxDisks < 1 || h.MaxDisks > 64 {
			k.bad(p+".max_disks", "write a number from 1 to 64 (default 4)", "max_disks = %d is out of range", h.MaxDisks)
		}
		switch h.DataPath {
		case DataMover, DataShare:
		default:
			k.bad(p+".data_path", enumFix(h.DataPath, DataMover, DataShare), "data_path = %q is not a data path", h.DataPath)
		}
		if h.MoverDir != "" && !isHostAbs(h.Transport, h.MoverDir) && !(h.Transport == TransportSSH && strings.HasPrefix(h.MoverDir, "/")) {
			k.bad(p+".mover_dir", `write a full host folder in single quotes, e.g. 'C:\ProgramData\failback'`, "mover_dir %q is not a full path on the host", h.MoverDir)
		}
		k.pathMaps(p, h)
		if h.VMFolder != "" {
			k.hostPath(p+".vm_folder", h, h.VMFolder, "vm_folder")
		}
	}
}

func (k *checker) sshHost(p string, h *Host) {
	if h.Address == "" {
		k.bad(p, `add address = "hv01.example.com" (or "hv01.example.com:22")`, "host %q has transport = \"ssh\" but no address", h.Name)
	} else if !hostPort(h.Address) && !hostPort(h.Address+":22") {
		k.bad(p+".address", `write host or host:port, e.g. "hv01.example.com:22"`, "address %q is not host or host:port", h.Address)
	}
	if h.User == "" {
		k.bad(p, `add user = "EXAMPLE\\failback" (an account in the host's Hyper-V Administrators group)`, "host %q has no user", h.Name)
	}
	if h.KeyFile == "" && !k.secretGiven(h.Password, h.PasswordEnv, h.PasswordFile) {
		k.bad(p, `add key_file = "~/.ssh/id_ed25519" (or password_env = "VAR")`, "host %q has neither key_file nor password", h.Name)
	}
	if k.secretGiven(h.KeyPassphrase, h.KeyPassphraseEnv, h.KeyPassphraseFile) && h.KeyFile == "" {
		k.bad(p, "add key_file, or remove key_passphrase", "host %q has a key_passphrase but no key_file", h.Name)
	}
	k.ignored(p, h, "it is for transport = \"lab\"", "lab_dir")
}

// ignored warns about keys that mean nothing for this host's transport.
func (k *checker) ignored(p string, h *Host, why string, keys ...string) {
	for _, key := range keys {
		var set bool
		switch key {
		case "address":
			set = h.Address != ""
		case "user":
			set = h.User != ""
		case "key_file":
			set = h.KeyFile != ""
		case "key_passphrase":
			set = k.secretGiven(h.KeyPassphrase, h.KeyPassphraseEnv, h.KeyPassphraseFile)
		case "password":
			set = k.secretGiven(h.Password, h.PasswordEnv, h.PasswordFile)
		case "known_hosts":
			set = h.KnownHosts != ""
		case "lab_dir":
			set = h.LabDir != ""
		}
		if set {
			k.warn(p+"."+key, "remove it", "host %q: %s is ignored (%s)", h.Name, key, why)
		}
	}
}

func (k *checker) pathMaps(p string, h *Host) {
	seen := map[string]string{}
	for j, m := range h.PathMap {
		mp := fmt.Sprintf("%s.path_map[%d]", p, j)
		if m.Host == "" || m.Local == "" {
			k.bad(mp, `write both host = 'D:\VMs' and local = "/mnt/hv01/vms"`, "a path_map of host %q lacks host or local", h.Name)
			continue
		}
		if !isHostAbs(h.Transport, m.Host) {
			k.bad(mp+".host", `write a full host path, e.g. 'D:\VMs' or '\\nas01.example.com\vms'`, "path_map host %q is not a full path on the host", m.Host)
		}
		if first, dup := seen[hostKey(m.Host)]; dup {
			k.bad(mp+".host", "keep one mapping per host folder", "%q is mapped twice (first at %s)", m.Host, k.where(first))
		}
		seen[hostKey(m.Host)] = mp
	}
	if h.Transport == TransportLocal && len(h.PathMap) > 0 {
		k.warn(p+".path_map", "remove it", "host %q: path_map is ignored with transport = \"local\" (paths are used as they are)", h.Name)
	}
}

// hostPath checks a path on host h: absolute, and for ssh covered by a
// path_map so failback can write through it.
func (k *checker) hostPath(path string, h *Host, hp, what string) {
	if !isHostAbs(h.Transport, hp) {
		k.bad(path, `write a full host path in single quotes, e.g. 'D:\VMs\web01.vhdx'`, "%s %q is not a full path on the host", what, hp)
		return
	}
	if h.Transport != TransportSSH || h.UsesMover() {
		return // the host opens its own paths
	}
	_, err := h.localPath(hp)
	switch {
	case errors.Is(err, hostpath.ErrBadComponent):
		k.bad(path, `write the path as the host shows it, without ".." or names ending in a dot or a space`,
			"%s %s: %v", what, hp, err)
	case err != nil:
		k.bad(path, fmt.Sprintf(`add a [[host.path_map]] to host %q with host = '%s' and local = the folder where that share is mounted here`, h.Name, hostDir(hp)),
			"%s %s is not under any path_map of host %q, so failback cannot write it from this machine", what, hp, h.Name)
	}
}

// hostDir is a host path's folder (for suggestions).
func hostDir(p string) string {
	if i := strings.LastIndexAny(p, `\/`); i > 2 {
		return p[:i]
	}
	return p
}

// refFix suggests the closest existing name, else how to define the one named.
func refFix(got string, names []string, define string) string {
	for _, n := range names {
		if strings.EqualFold(n, got) {
			return fmt.Sprintf("did you mean %q? (names are matched exactly)", n)
		}
	}
	if s := didYouMean(got, names); s != "" {
		return s
	}
	return define
}

// Azure container names: 3-63 lowercase letters, digits and single hyphens.
var containerName = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

func validContainer(c string) bool {
	return c == "$root" || (len(c) >= 3 && len(c) <= 63 && containerName.MatchString(c))
}
