package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/internal/azurite"
	"github.com/failback/failback/internal/labarm"
)

// builder runs lab up's steps in order; each records what it made in the
// manifest, which is written as soon as something runs that lab down
// must be able to stop.
type builder struct {
	o       Options
	steps   *stepper
	m       *Manifest
	storage *azure.Storage
	// arm builds the Azure resources (labarm's builder, in this process;
	// the Azure process serves them later from the same folder).
	arm *labarm.Server
	lc  *azure.LabCompute
	enc *labCert
	// originals are the hosts the VMs ran on, by name.
	originals map[string]*hyperv.LabHost
}

func (b *builder) build(ctx context.Context) (*Manifest, error) {
	o := b.o
	if err := os.MkdirAll(filepath.Join(o.Dir, "logs"), 0o755); err != nil {
		return nil, fmt.Errorf("create the lab folder: %w", err)
	}
	b.m = &Manifest{
		Version: manifestVersion, Dir: o.Dir, Created: time.Now().UTC().Truncate(time.Second),
		Seed: o.Seed, DiskSize: o.DiskSize, SubscriptionID: labarm.DefaultSubscription, ResourceGroup: ResourceGroup,
		Container: container, ManagedContainer: managedContainer, ARMDir: armDir, ComputeDir: computeDir,
		Config: ConfigFile,
		Writes: WriterSettings{WritesPerSecond: o.WritesPerSecond, MinWrite: 4 * kib, MaxWrite: 32 * kib, Trim: trimShare},
	}
	// lab.json exists from the first step on, so lab down can always find
	// what an interrupted lab up started.
	if err := b.m.write(); err != nil {
		return nil, err
	}
	defer func() {
		if b.arm != nil {
			_ = b.arm.Close()
		}
	}()
	for _, step := range []func(context.Context) error{b.azurite, b.certs, b.hosts, b.disks, b.vms, b.azure, b.config} {
		if err := step(ctx); err != nil {
			return nil, err
		}
	}
	b.m.Ready = true
	return b.m, b.m.write()
}

func (b *builder) azurite(ctx context.Context) error {
	s := b.steps.begin("Azurite " + azurite.Version)
	il := installLog(b.o.Progress, b.m.Path("logs/azurite-install.log"))
	bin, err := azurite.Ensure(ctx, b.o.CacheDir, il)
	il.Close()
	if err != nil {
		return err
	}
	s.done("installed: %s", shortPath(bin))

	s = b.steps.begin("Starting Azurite (the lab's storage account)")
	m := b.m
	m.Azurite = Proc{Log: "logs/azurite.log", Started: time.Now().UTC()}
	data := m.Path("azurite")
	if m.Azurite.PID, m.Azurite.Port, err = startAzurite(ctx, bin, data, m.Path(m.Azurite.Log)); err != nil {
		return err
	}
	if err := m.write(); err != nil {
		return err
	}
	s.done("127.0.0.1:%d, pid %d, data in %s", m.Azurite.Port, m.Azurite.PID, shortPath(data))
	b.storage, err = azure.NewStorage(azure.StorageOptions{
		ConnectionString: azure.NewSecret(azurite.ConnectionString(m.Azurite.Port)),
		RetryDelay:       100 * time.Millisecond,
	})
	if err != nil {
		return err
	}
	if b.lc, err = azure.NewLabCompute(m.Path(m.ComputeDir), azure.LabOptions{}); err != nil {
		return err
	}
	// The builder hands out no URLs, so Azurite's own endpoint serves.
	b.arm, err = labarm.New(armOptions(m, b.lc, "", nil))
	return err
}

func (b *builder) certs(context.Context) error {
	s := b.steps.begin("Certificates")
	dir := b.m.Path(certDirName)
	const valid = 2 * 365 * 24 * time.Hour
	enc, err := makeCert(dir, "lab-encryption.pem", "failback lab encryption", valid)
	if err != nil {
		return err
	}
	enc.Unlocks = true
	other, err := makeCert(dir, "other-tenant.pem", "failback lab other tenant", valid)
	if err != nil {
		return err
	}
	b.enc = enc
	b.m.Certs = []Cert{enc.Cert, other.Cert}
	s.done("%s unlocks the encrypted VM (thumbprint %s); %s does not", enc.File, enc.Thumbprint, other.File)
	return nil
}

func (b *builder) hosts(context.Context) error {
	s := b.steps.begin("Hyper-V lab hosts")
	var err error
	if b.originals, err = b.createHosts(); err != nil {
		return err
	}
	orig := HostOriginal
	if n := b.o.Hosts; n > 1 {
		orig = fmt.Sprintf("%s and %s to %s", HostOriginal, originalName(1), originalName(n-1))
	}
	s.done("%s (original), %s (alternate, switch %s), %s (alternate, switch %q: the wrong one)",
		orig, HostAlternate, SwitchName, HostWrongSwitch, wrongSwitch)
	return nil
}

func (b *builder) disks(ctx context.Context) error {
	s := b.steps.begin("Disks (Azure managed disks and page blobs, hv01's images as of the failover)")
	m := b.m
	var names []string
	for i := range b.o.Hosts {
		names = append(names, originalName(i))
	}
	m.VMs = inventory(b.o.VMs, b.o.DiskSize, names, func(h string) string { return b.originals[h].DiskFolder() })
	if err := buildDisks(ctx, b.storage, b.arm, m, b.enc); err != nil {
		return err
	}
	var managed, blobs int
	var data, changed int64
	for _, v := range m.VMs {
		for _, d := range v.Disks {
			if d.Managed != "" {
				managed++
			} else {
				blobs++
			}
			data, changed = data+d.DataBytes, changed+d.ChangedBytes
		}
	}
	s.done("%d VMs, %d disks of %s (managed disks: %d, page blobs: %d); %s of data; Azure changed %s since the failover",
		len(m.VMs), managed+blobs, size(b.o.DiskSize), managed, blobs, size(data), size(changed))
	return nil
}

// vms makes the VMs: off on hv01, running in Azure with their NICs.
func (b *builder) vms(ctx context.Context) error {
	s := b.steps.begin("Azure VMs (resource group " + ResourceGroup + ") and hv01's")
	m := b.m
	if err := createVMs(ctx, m, b.originals, b.arm); err != nil {
		return err
	}
	if err := m.write(); err != nil {
		return err
	}
	s.done("%d VMs running in Azure, off on %s", len(m.VMs), HostOriginal)
	return nil
}

// azure starts the lab's Azure process: the blob front, the ARM endpoint
// and the VMs writing to their disks.
func (b *builder) azure(ctx context.Context) error {
	s := b.steps.begin("Starting the lab's Azure (blob front, ARM endpoint, VMs writing)")
	m := b.m
	if err := b.startAzure(ctx, b.lc); err != nil {
		return err
	}
	s.done("pid %d: blob front 127.0.0.1:%d, ARM %s; each VM: %g writes a second, %g%% of them trims",
		m.Azure.PID, m.FrontPort, m.ARMEndpoint(), b.o.WritesPerSecond, 100*trimShare)
	return nil
}

func (b *builder) config(context.Context) error {
	s := b.steps.begin("Configuration")
	cfg, err := writeConfig(b.m)
	if err != nil {
		return err
	}
	s.done("%s (checked with config.Load)", shortPath(cfg))
	return nil
}

// createHosts makes the lab hosts (the three, and more originals with
// --hosts) and records them; it returns the originals.
func (b *builder) createHosts() (map[string]*hyperv.LabHost, error) {
	defs := []struct {
		name, role string
		switches   []hyperv.Switch
	}{
		{HostOriginal, "the original host: holds each VM's disks as of the failover",
			[]hyperv.Switch{{Name: SwitchName, Type: hyperv.SwitchExternal, NetAdapter: "Ethernet"}, {Name: "Management", Type: hyperv.SwitchInternal}}},
		{HostAlternate, "an alternate host with the same switch name: fail back there to create the VMs anew",
			[]hyperv.Switch{{Name: SwitchName, Type: hyperv.SwitchExternal, NetAdapter: "Ethernet"}}},
		{HostWrongSwitch, "an alternate host without the VMs' switch: the location check refuses it",
			[]hyperv.Switch{{Name: wrongSwitch, Type: hyperv.SwitchExternal, NetAdapter: "Ethernet"}}},
	}
	for i := 1; i < b.o.Hosts; i++ {
		defs = append(defs, struct {
			name, role string
			switches   []hyperv.Switch
		}{originalName(i), "another original host: holds the disks of its share of the VMs",
			[]hyperv.Switch{{Name: SwitchName, Type: hyperv.SwitchExternal, NetAdapter: "Ethernet"}}})
	}
	originals := map[string]*hyperv.LabHost{}
	for _, d := range defs {
		rel := filepath.Join(hostsDir, d.name)
		h, err := hyperv.CreateLab(b.m.Path(rel), hyperv.LabConfig{Name: d.name, Switches: d.switches})
		if err != nil {
			return nil, fmt.Errorf("create lab host %s: %w", d.name, err)
		}
		var names []string
		for _, s := range d.switches {
			names = append(names, s.Name)
		}
		b.m.Hosts = append(b.m.Hosts, Host{Name: d.name, Role: d.role, Dir: rel, Switches: names})
		if d.name == HostOriginal || d.name != HostAlternate && d.name != HostWrongSwitch {
			originals[d.name] = h
		}
	}
	return originals, nil
}
