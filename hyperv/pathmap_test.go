package hyperv

import (
	"errors"
	"strings"
	"testing"
)

func TestPathMapWindowsHost(t *testing.T) {
	m := PathMap{HostName: "hv01", Mappings: []PathMapping{
		{Host: `D:\VMs`, Local: "/mnt/hv01/VMs"},
		{Host: `D:\VMs\Big`, Local: "/mnt/hv01-big"},
		{Host: `\\filer01\Hyper-V`, Local: "/mnt/filer01"},
	}}
	cases := map[string]string{
		`D:\VMs\web01.vhdx`:                      "/mnt/hv01/VMs/web01.vhdx",
		`d:/vms/Web01/Virtual Hard Disks/a.vhdx`: "/mnt/hv01/VMs/Web01/Virtual Hard Disks/a.vhdx",
		`D:\VMs\\web01\.\os.vhdx`:                "/mnt/hv01/VMs/web01/os.vhdx",
		`D:\VMs\Big\db.vhdx`:                     "/mnt/hv01-big/db.vhdx",
		`\\FILER01\hyper-v\app\app.vhdx`:         "/mnt/filer01/app/app.vhdx",
		`D:\VMs`:                                 "/mnt/hv01/VMs",
	}
	for host, want := range cases {
		got, err := m.ToLocal(host)
		if err != nil || got != want {
			t.Errorf("ToLocal(%q) = %q, %v; want %q", host, got, err, want)
		}
	}
	back := map[string]string{
		"/mnt/hv01/VMs/web01/os.vhdx": `D:\VMs\web01\os.vhdx`,
		"/mnt/hv01-big/db.vhdx":       `D:\VMs\Big\db.vhdx`,
		"/mnt/filer01/app/app.vhdx":   `\\filer01\Hyper-V\app\app.vhdx`,
		"/mnt/hv01/VMs":               `D:\VMs`,
	}
	for local, want := range back {
		got, err := m.ToHost(local)
		if err != nil || got != want {
			t.Errorf("ToHost(%q) = %q, %v; want %q", local, got, err, want)
		}
	}
	for _, bad := range []string{`E:\VMs\web01.vhdx`, `D:\VMsOld\web01.vhdx`, `D:\VMs\..\Windows\system32\config\SAM`, `relative\web01.vhdx`} {
		_, err := m.ToLocal(bad)
		if !errors.Is(err, ErrNoMapping) || !strings.Contains(err.Error(), `D:\VMs=/mnt/hv01/VMs`) {
			t.Errorf("ToLocal(%q): %v", bad, err)
		}
	}
	for _, bad := range []string{"/mnt/hv01/VMsOld/x.vhdx", "/etc/passwd", "/mnt/hv01/VMs/../../../etc/passwd"} {
		if _, err := m.ToHost(bad); !errors.Is(err, ErrNoMapping) {
			t.Errorf("ToHost(%q): %v", bad, err)
		}
	}
	if _, err := (PathMap{HostName: "hv02"}).ToLocal(`D:\x`); err == nil || !strings.Contains(err.Error(), "no mappings") {
		t.Errorf("empty map: %v", err)
	}
}

func TestPathMapLocalHost(t *testing.T) {
	m := PathMap{Mappings: []PathMapping{{Host: "/srv/lab/disks", Local: "/srv/lab/disks"}}}
	if got, err := m.ToLocal("/srv/lab/disks/a/b.vhdx"); err != nil || got != "/srv/lab/disks/a/b.vhdx" {
		t.Fatalf("%q %v", got, err)
	}
	if got, err := m.ToHost("/srv/lab/disks/a/b.vhdx"); err != nil || got != "/srv/lab/disks/a/b.vhdx" {
		t.Fatalf("%q %v", got, err)
	}
	if _, err := m.ToLocal("/srv/lab/DISKS/b.vhdx"); err == nil {
		t.Fatal("POSIX host paths must match case")
	}
}

func TestParsePathMapping(t *testing.T) {
	m, err := ParsePathMapping(`D:\VMs=/mnt/hv01/VMs`)
	if err != nil || m.Host != `D:\VMs` || m.Local != "/mnt/hv01/VMs" {
		t.Fatalf("%+v %v", m, err)
	}
	for _, bad := range []string{"", "D:\\VMs", "=/mnt", `VMs=/mnt`, `D:\VMs=relative`} {
		if _, err := ParsePathMapping(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
