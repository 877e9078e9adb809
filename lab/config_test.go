package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/failback/failback/config"
	"github.com/failback/failback/internal/labarm"
)

// configManifest is a lab's record with n VMs, enough to write its
// config.toml: Azurite on 10000, the blob front on 10001, ARM on 10002.
func configManifest(dir string, n int) *Manifest {
	m := &Manifest{Dir: dir, Config: ConfigFile, ComputeDir: computeDir, ARMDir: armDir, Azurite: Proc{Port: 10000},
		FrontPort: 10001, ARMPort: 10002, SubscriptionID: labarm.DefaultSubscription, ResourceGroup: ResourceGroup,
		VMs: inventory(n, 64<<20, []string{HostOriginal}, func(h string) string { return filepath.Join(dir, hostsDir, h, "disks") })}
	for _, h := range []string{HostOriginal, HostAlternate, HostWrongSwitch} {
		m.Hosts = append(m.Hosts, Host{Name: h, Dir: filepath.Join(hostsDir, h), Role: "a host"})
	}
	return m
}

func TestConfigLoadsForEveryVMCount(t *testing.T) {
	for _, n := range []int{MinVMs, DefaultVMs, MaxVMs} {
		// A folder name with a quote and a space: paths must be quoted right.
		dir := filepath.Join(t.TempDir(), "it's a lab")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		p, err := writeConfig(configManifest(dir, n))
		if err != nil {
			t.Fatalf("%d VMs: %v", n, err)
		}
		c, err := config.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		a := c.Azure
		if len(c.VMs) != n || a.Compute != config.ComputeARM || a.ARMEndpoint != "http://127.0.0.1:10002" ||
			a.SubscriptionID != labarm.DefaultSubscription || a.ResourceGroup != ResourceGroup || a.LabDir != "" {
			t.Fatalf("%d VMs: config has %d VMs, compute %q, arm_endpoint %q, subscription %q, group %q, lab_dir %q",
				n, len(c.VMs), a.Compute, a.ARMEndpoint, a.SubscriptionID, a.ResourceGroup, a.LabDir)
		}
		// The storage account is reached through the blob front.
		if cs := a.Storage.ConnectionString.Reveal(); !strings.Contains(cs, "BlobEndpoint=http://127.0.0.1:10001/") {
			t.Fatalf("the storage account is not the blob front's: %s", cs)
		}
		if c.Commit.DeleteDisks {
			t.Fatal("commit deletes the lab's managed disks; the lab keeps them")
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
		// Managed disks by their place in the VM, app01 by its page blob.
		for _, v := range c.VMs {
			for i, d := range v.Disks {
				kind := d.Kind()
				switch {
				case v.Name == "app01":
					if kind != config.DiskPageBlob || d.Blob != "vhds/app01-os.vhd" {
						t.Fatalf("app01's disk: %s %q, want the page blob vhds/app01-os.vhd", kind, d.Blob)
					}
				case kind != config.DiskManaged || d.OS != (i == 0) || (i > 0 && (d.LUN == nil || *d.LUN != i-1)):
					t.Fatalf("%s disk %d: %s, os %v, lun %v", v.Name, i, kind, d.OS, d.LUN)
				}
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
	for _, v := range inventory(MaxVMs, 64<<20, []string{HostOriginal}, func(string) string { return "/x" }) {
		if v.Encrypted {
			enc++
		}
	}
	if enc != 1 {
		t.Fatalf("%d encrypted VMs, want 1", enc)
	}
	// Every VM on managed disks but app01 (encrypted, on a page blob);
	// every VM with a NIC, the web servers with a public IP; both
	// deleteOptions in use.
	opts := map[string]bool{}
	for _, v := range inventory(DefaultVMs, 64<<20, []string{HostOriginal}, func(string) string { return "/x" }) {
		if v.Managed() == (v.Name == "app01") || v.Managed() == v.Encrypted {
			t.Fatalf("%s: managed %v, encrypted %v", v.Name, v.Managed(), v.Encrypted)
		}
		if v.NIC == "" || (v.PublicIP != "") != strings.HasPrefix(v.Name, "web") {
			t.Fatalf("%s: NIC %q, public IP %q", v.Name, v.NIC, v.PublicIP)
		}
		opts["nic "+v.NICDeleteOption] = true
		for _, d := range v.Disks {
			if d.Managed != "" {
				opts["disk "+d.DeleteOption] = true
			}
		}
	}
	for _, want := range []string{"nic Delete", "nic Detach", "disk Delete", "disk Detach"} {
		if !opts[want] {
			t.Fatalf("no %s in the inventory (%v)", want, opts)
		}
	}
}

// TestLargeLabInventory: the scale drill's lab (MaxVMs) has about two
// disks a VM in groups of largeGroup after the first ones, and the
// default lab is as before (one data disk, on db01; two groups a plan).
func TestLargeLabInventory(t *testing.T) {
	count := func(vms []VM) (disks, groups int) {
		g := map[string]bool{}
		for _, v := range vms {
			disks += len(v.Disks)
			g[fmt.Sprint(v.Plan, v.Group)] = true
		}
		return disks, len(g)
	}
	if d, g := count(inventory(MaxVMs, 64<<20, []string{HostOriginal}, func(string) string { return "/x" })); d != 96 || g != 8 {
		t.Fatalf("%d VMs: %d disks in %d groups, want 96 in 8", MaxVMs, d, g)
	}
	if d, g := count(inventory(DefaultVMs, 64<<20, []string{HostOriginal}, func(string) string { return "/x" })); d != DefaultVMs+1 || g != 4 {
		t.Fatalf("%d VMs: %d disks in %d groups, want %d in 4", DefaultVMs, d, g, DefaultVMs+1)
	}
}

// With --hosts the VMs are spread over the original hosts round-robin:
// each VM's config names its own host, and its disks are in that host's
// folder.
func TestVMsSpreadOverTheOriginalHosts(t *testing.T) {
	dir := t.TempDir()
	m := configManifest(dir, DefaultVMs)
	hosts := []string{originalName(0), originalName(1)}
	m.VMs = inventory(DefaultVMs, 64<<20, hosts, func(h string) string { return filepath.Join(dir, hostsDir, h, "disks") })
	m.Hosts = append(m.Hosts, Host{Name: hosts[1], Dir: filepath.Join(hostsDir, hosts[1]), Role: "a host"})
	p, err := writeConfig(m)
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if hosts[1] != "hv04" || len(m.originals()) != 2 {
		t.Fatalf("originals %v", m.originals())
	}
	for i, vm := range c.VMs {
		want := hosts[i%2]
		if vm.Host != want || !strings.HasPrefix(vm.Disks[0].Image, filepath.Join(dir, hostsDir, want)) {
			t.Errorf("VM %s on %s with disk %s, want %s", vm.Name, vm.Host, vm.Disks[0].Image, want)
		}
	}
}
