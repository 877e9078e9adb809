package config

import (
	"path/filepath"
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
