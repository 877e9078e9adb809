package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestHostLocalPath(t *testing.T) {
	h := Host{Transport: TransportSSH, PathMap: []PathMap{
		{Host: `D:\VMs`, Local: "/mnt/d/vms"},
		{Host: `D:\VMs\big`, Local: "/mnt/big"},
		{Host: `\\nas01.example.com\vms\`, Local: "/mnt/nas"},
	}}
	for in, want := range map[string]string{
		`D:\VMs\web01.vhdx`:                "/mnt/d/vms/web01.vhdx",
		`d:\vms\sub\web01.vhdx`:            "/mnt/d/vms/sub/web01.vhdx",
		`D:/VMs/web01.vhdx`:                "/mnt/d/vms/web01.vhdx",
		`D:\VMs\big\db.vhdx`:               "/mnt/big/db.vhdx",
		`\\nas01.example.com\vms\a\b.vhdx`: "/mnt/nas/a/b.vhdx",
		`D:\VMs`:                           "/mnt/d/vms",
	} {
		got, ok := h.LocalPath(in)
		if !ok || got != filepath.FromSlash(want) {
			t.Errorf("LocalPath(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{`D:\VMsOther\x.vhdx`, `E:\VMs\x.vhdx`, `\\nas02.example.com\vms\x.vhdx`} {
		if got, ok := h.LocalPath(in); ok {
			t.Errorf("LocalPath(%q) = %q, want not covered", in, got)
		}
	}
	local := Host{Transport: TransportLocal}
	if got, ok := local.LocalPath(`D:\VMs\x.vhdx`); !ok || got != `D:\VMs\x.vhdx` {
		t.Errorf("local transport changed the path: %q", got)
	}
}

func TestIsWindowsAbs(t *testing.T) {
	for p, want := range map[string]bool{
		`D:\VMs`: true, `d:/x`: true, `\\nas\share`: true, `\\nas`: false, `VMs\x`: false, `/mnt/x`: false, `D:`: false,
	} {
		if isWindowsAbs(p) != want {
			t.Errorf("isWindowsAbs(%q) != %v", p, want)
		}
	}
}

// TestLocalPathStaysInsideTheMappedFolder proves a host path cannot be
// mapped outside its path_map's local folder (D:\VMs\..\x mapped to
// /mnt/hv01/x), nor to a name Windows would read as another file, and that
// validation says why at the image's line.
func TestLocalPathStaysInsideTheMappedFolder(t *testing.T) {
	h := &Host{Name: "hv01", Transport: TransportSSH, PathMap: []PathMap{{Host: `D:\VMs`, Local: "/mnt/hv01/vms"}}}
	for _, bad := range []string{`D:\VMs\..\secret\x.vhdx`, `D:\VMs\a\..\..\x.vhdx`, `D:\VMs\...\x.vhdx`, `D:\VMs\web01.vhdx.`} {
		if l, ok := h.LocalPath(bad); ok {
			t.Errorf("LocalPath(%q) = %q", bad, l)
		}
	}
	if l, ok := h.LocalPath(`d:\vms\web01\web01.vhdx`); !ok || l != "/mnt/hv01/vms/web01/web01.vhdx" {
		t.Errorf("a good path: %q %v", l, ok)
	}
	text := azureLab + siteDC + hostShare + strings.Replace(vmWeb01, `image = 'D:\VMs\web01.vhdx'`, `image = 'D:\VMs\..\Windows\web01.vhdx' #<`, 1) + planWeb
	ps, _ := loadProblems(t, text)
	if _, ok := findProblem(ps, markedLine(text), `".."`); !ok {
		t.Errorf("no problem naming the bad component at the image's line:\n%v", ps)
	}
}
