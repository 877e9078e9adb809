package hyperv

import (
	"errors"
	"strings"
	"testing"
)

// PathMap is internal/hostpath (whose tests hold the mapping rules) with
// this package's errors: each refusal wraps ErrNoMapping and lists the
// host's mappings.
func TestPathMapWrapsHostpath(t *testing.T) {
	m := PathMap{HostName: "hv01", Mappings: []PathMapping{
		{Host: `D:\VMs`, Local: "/mnt/hv01/VMs"},
		{Host: `\\filer01\Hyper-V`, Local: "/mnt/filer01"},
	}}
	if got, err := m.ToLocal(`\\FILER01\hyper-v\app\app.vhdx`); err != nil || got != "/mnt/filer01/app/app.vhdx" {
		t.Errorf("ToLocal = %q, %v", got, err)
	}
	if got, err := m.ToHost("/mnt/hv01/VMs/web01/os.vhdx"); err != nil || got != `D:\VMs\web01\os.vhdx` {
		t.Errorf("ToHost = %q, %v", got, err)
	}
	for _, bad := range []string{`E:\VMs\web01.vhdx`, `D:\VMs\..\Windows\system32\config\SAM`} {
		_, err := m.ToLocal(bad)
		if !errors.Is(err, ErrNoMapping) || !strings.Contains(err.Error(), `D:\VMs=/mnt/hv01/VMs`) {
			t.Errorf("ToLocal(%q): %v", bad, err)
		}
	}
	if _, err := m.ToHost("/etc/passwd"); !errors.Is(err, ErrNoMapping) {
		t.Errorf("ToHost: %v", err)
	}
	if _, err := (PathMap{HostName: "hv02"}).ToLocal(`D:\x`); err == nil || !strings.Contains(err.Error(), "no mappings") {
		t.Errorf("empty map: %v", err)
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
