package lab

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/failback/failback/config"
)

func TestConfigLoadsForEveryVMCount(t *testing.T) {
	for _, n := range []int{MinVMs, DefaultVMs, MaxVMs} {
		// A folder name with a quote and a space: paths must be quoted right.
		dir := filepath.Join(t.TempDir(), "it's a lab")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		m := &Manifest{Dir: dir, Config: ConfigFile, ComputeDir: computeDir, Azurite: Proc{Port: 10000},
			VMs: inventory(n, 64<<20, filepath.Join(dir, hostsDir, HostOriginal, "disks"))}
		for _, h := range []string{HostOriginal, HostAlternate, HostWrongSwitch} {
			m.Hosts = append(m.Hosts, Host{Name: h, Dir: filepath.Join(hostsDir, h), Role: "a host"})
		}
		p, err := writeConfig(m)
		if err != nil {
			t.Fatalf("%d VMs: %v", n, err)
		}
		c, err := config.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.VMs) != n || c.Azure.Compute != config.ComputeLab || c.Azure.LabDir != filepath.Join(dir, computeDir) {
			t.Fatalf("%d VMs: config has %d VMs, compute %q, lab_dir %q", n, len(c.VMs), c.Azure.Compute, c.Azure.LabDir)
		}
		if c.CertificatesDir != filepath.Join(dir, certDirName) || c.StateDir != filepath.Join(dir, stateDirName) {
			t.Fatalf("certificates_dir %q, state_dir %q: not inside the lab", c.CertificatesDir, c.StateDir)
		}
		if got := c.Plan(PlanTier1).Groups; !reflect.DeepEqual(got, [][]string{{"db01"}, {"web01", "web02"}}) {
			t.Fatalf("plan %s groups %v", PlanTier1, got)
		}
		if got := c.Plan(PlanTier2).VMs(); len(got) != n-3 || got[0] != "app01" {
			t.Fatalf("plan %s has %v", PlanTier2, got)
		}
		for _, h := range c.Hosts {
			if h.Transport != config.TransportLab || h.LabDir != filepath.Join(dir, hostsDir, h.Name) {
				t.Fatalf("host %s: transport %q, lab_dir %q", h.Name, h.Transport, h.LabDir)
			}
		}
		if len(c.VM("db01").Disks) != 2 {
			t.Fatal("db01 should have two disks")
		}
	}
}

func TestInventoryBounds(t *testing.T) {
	if _, err := (Options{VMs: MinVMs - 1}).withDefaults(); err == nil {
		t.Fatal("accepted too few VMs")
	}
	if _, err := (Options{DiskSize: 100<<20 + 512}).withDefaults(); err == nil {
		t.Fatal("accepted a disk size that is not whole MiB")
	}
	if _, err := (Options{DiskSize: 32 << 20}).withDefaults(); err == nil {
		t.Fatal("accepted a disk below the minimum")
	}
	var enc int
	for _, v := range inventory(MaxVMs, 64<<20, "/x") {
		if v.Encrypted {
			enc++
		}
	}
	if enc != 1 {
		t.Fatalf("%d encrypted VMs, want 1", enc)
	}
}
