package hostpath

import (
	"errors"
	"testing"
)

var winMaps = []Mapping{
	{Host: `D:\VMs`, Local: "/mnt/hv01/VMs"},
	{Host: `D:\VMs\Big`, Local: "/mnt/hv01-big"},
	{Host: `\\filer01\Hyper-V`, Local: "/mnt/filer01"},
}

func TestToLocalWindowsHost(t *testing.T) {
	for host, want := range map[string]string{
		`D:\VMs\web01.vhdx`:                      "/mnt/hv01/VMs/web01.vhdx",
		`d:/vms/Web01/Virtual Hard Disks/a.vhdx`: "/mnt/hv01/VMs/Web01/Virtual Hard Disks/a.vhdx",
		`D:\VMs\\web01\.\os.vhdx`:                "/mnt/hv01/VMs/web01/os.vhdx",
		`D:\VMs\Big\db.vhdx`:                     "/mnt/hv01-big/db.vhdx",
		`\\FILER01\hyper-v\app\app.vhdx`:         "/mnt/filer01/app/app.vhdx",
		`D:\VMs`:                                 "/mnt/hv01/VMs",
		`D:\VMs\web..01.vhdx`:                    "/mnt/hv01/VMs/web..01.vhdx",
	} {
		if got, err := ToLocal(winMaps, host); err != nil || got != want {
			t.Errorf("ToLocal(%q) = %q, %v; want %q", host, got, err, want)
		}
	}
	for _, bad := range []string{`E:\VMs\web01.vhdx`, `D:\VMsOld\web01.vhdx`, `relative\web01.vhdx`, `\\filer01\Hyper-V2\x.vhdx`, ``} {
		if got, err := ToLocal(winMaps, bad); !errors.Is(err, ErrNotCovered) {
			t.Errorf("ToLocal(%q) = %q, %v; want ErrNotCovered", bad, got, err)
		}
	}
}

// No host path leads outside the local folder of its mapping, and none
// maps to a name Windows would read differently.
func TestToLocalRefusesEscapes(t *testing.T) {
	for _, bad := range []string{
		`D:\VMs\..\Windows\system32\config\SAM`, `D:\VMs\a\..\..\x.vhdx`, `D:\VMs\...\x.vhdx`,
		`D:\VMs\.. \Windows\x.vhdx`, `D:\VMs\ \x.vhdx`, `D:\VMs\. .\x.vhdx`, `D:\VMs\web01.vhdx `, `D:\VMs\web01.\x.vhdx`,
		"D:\\VMs\\nul\x00byte.vhdx",
	} {
		if got, err := ToLocal(winMaps, bad); !errors.Is(err, ErrBadComponent) {
			t.Errorf("ToLocal(%q) = %q, %v; want ErrBadComponent", bad, got, err)
		}
	}
	lab := []Mapping{{Host: "/srv/lab/disks", Local: "/srv/lab/disks"}}
	for _, bad := range []string{"/srv/lab/disks/../../etc/passwd", "/srv/lab/disks/a/../../x"} {
		if got, err := ToLocal(lab, bad); err == nil {
			t.Errorf("ToLocal(%q) = %q: escapes the lab folder", bad, got)
		}
	}
}

// The deepest mapping wins, counted in components, not in how the prefix
// happens to be spelled.
func TestToLocalDeepestMappingWins(t *testing.T) {
	maps := []Mapping{{Host: `D:\VMs\\\\`, Local: "/mnt/vms"}, {Host: `d:/vms/big`, Local: "/mnt/big"}}
	if got, err := ToLocal(maps, `D:\VMs\Big\db.vhdx`); err != nil || got != "/mnt/big/db.vhdx" {
		t.Errorf("%q, %v", got, err)
	}
}

func TestPOSIXHostMatchesCase(t *testing.T) {
	m := []Mapping{{Host: "/srv/lab/disks", Local: "/srv/lab/disks"}}
	if got, err := ToLocal(m, "/srv/lab/disks/a/b.vhdx"); err != nil || got != "/srv/lab/disks/a/b.vhdx" {
		t.Fatalf("%q %v", got, err)
	}
	if _, err := ToLocal(m, "/srv/lab/DISKS/b.vhdx"); !errors.Is(err, ErrNotCovered) {
		t.Fatal("POSIX host paths must match case")
	}
	root := []Mapping{{Host: "/", Local: "/"}}
	if got, err := ToLocal(root, "/x/y.vhdx"); err != nil || got != "/x/y.vhdx" {
		t.Fatalf("root mapping: %q %v", got, err)
	}
}

func TestIsWindowsAbs(t *testing.T) {
	for p, want := range map[string]bool{
		`D:\VMs`: true, `d:/x`: true, `\\srv\share`: true, `//srv/share/x`: true,
		`D:`: false, `D:VMs`: false, `\\srv`: false, `\\`: false, `/srv/x`: false, `VMs\x`: false, `1:\x`: false,
	} {
		if IsWindowsAbs(p) != want {
			t.Errorf("IsWindowsAbs(%q) = %v", p, !want)
		}
	}
}
