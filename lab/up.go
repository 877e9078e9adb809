package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/internal/azurite"
)

// Options say what lab to build.
type Options struct {
	// Dir is the lab folder (default DefaultDir). It must be empty, absent,
	// or hold a lab.
	Dir string
	// VMs is the number of VMs, MinVMs to MaxVMs (default 5).
	VMs int
	// DiskSize is each disk's virtual size: a whole number of MiB, at least
	// MinDiskSize (default DefaultDiskSize).
	DiskSize int64
	// Seed makes the disks' content repeatable (default 1).
	Seed uint64
	// WritesPerSecond is each running Azure VM's write rate (default
	// DefaultWriteRate). Each write is 4 to 32 KiB, mostly in the disk's
	// database region; Azurite's data grows by about what is written
	// (default: some 65 MiB an hour per VM), so a lab is not for leaving
	// on for days.
	WritesPerSecond float64
	// Fresh replaces a healthy lab instead of reusing it.
	Fresh bool
	// Exe is the failback program the writer process runs (default: this
	// program); it must understand 'lab vms --dir DIR'.
	Exe string
	// CacheDir is where Azurite is installed when this is not run inside
	// the repository (default: the user's cache folder).
	CacheDir string
	// Progress receives a line per step; nil discards them.
	Progress io.Writer
}

// Defaults and bounds of Options.
const (
	DefaultDir      = ".lab"
	DefaultVMs      = 5
	DefaultDiskSize = 512 << 20
	// DefaultWriteRate is each Azure VM's writes a second.
	DefaultWriteRate = 1.0
	MinDiskSize      = 64 << 20
	MaxDiskSize      = 64 << 30
)

func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" {
		o.Dir = DefaultDir
	}
	abs, err := filepath.Abs(o.Dir)
	if err != nil {
		return o, err
	}
	o.Dir = abs
	if o.VMs == 0 {
		o.VMs = DefaultVMs
	}
	if o.VMs < MinVMs || o.VMs > MaxVMs {
		return o, fmt.Errorf("--vms %d: the lab has %d to %d VMs (both plans need theirs)", o.VMs, MinVMs, MaxVMs)
	}
	if o.DiskSize == 0 {
		o.DiskSize = DefaultDiskSize
	}
	if o.DiskSize < MinDiskSize || o.DiskSize > MaxDiskSize || o.DiskSize%mib != 0 {
		return o, fmt.Errorf("--disk-size %d: use a whole number of MiB from 64M to 64G (Azure disks are whole MiB)", o.DiskSize)
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.WritesPerSecond == 0 {
		o.WritesPerSecond = DefaultWriteRate
	}
	if o.WritesPerSecond < 0 || o.WritesPerSecond > 1000 {
		return o, fmt.Errorf("write rate %g: use 0.1 to 1000 writes a second", o.WritesPerSecond)
	}
	if o.Exe == "" {
		if o.Exe, err = os.Executable(); err != nil {
			return o, fmt.Errorf("find this program to run the VM writers: %w", err)
		}
	}
	if o.CacheDir == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			c = os.TempDir()
		}
		o.CacheDir = filepath.Join(c, "failback")
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return o, nil
}

// Up builds the lab in o.Dir and starts it: Azurite, the Azure VMs with
// their disks and writers, the Hyper-V lab hosts and config.toml. A healthy
// lab already there is reused (reused is true) unless o.Fresh; anything
// else there that is a lab is stopped and replaced. If Up fails it leaves
// nothing running and no lab folder.
func Up(ctx context.Context, o Options) (m *Manifest, reused bool, err error) {
	o, err = o.withDefaults()
	if err != nil {
		return nil, false, err
	}
	if err := platformCheck(); err != nil {
		return nil, false, err
	}
	old, err := prepareDir(ctx, o)
	if err != nil || old != nil {
		return old, old != nil, err
	}

	b := &builder{o: o, steps: newStepper(o.Progress)}
	fmt.Fprintf(o.Progress, "Building a failback drill lab in %s\n", o.Dir)
	m, err = b.build(ctx)
	if err != nil {
		// Leave nothing behind: stop what was started, remove the folder.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if derr := Down(cctx, o.Dir); derr != nil {
			err = fmt.Errorf("%w (cleaning up also failed: %v)", err, derr)
		}
		return nil, false, err
	}
	fmt.Fprintf(o.Progress, "Lab ready in %s.\n", b.steps.elapsed())
	return m, false, nil
}

// prepareDir returns the lab in o.Dir when it is to be reused; otherwise
// it clears the way: a lab that is not healthy (or damaged, or o.Fresh) is
// taken down, and a folder that holds anything but a lab is refused.
func prepareDir(ctx context.Context, o Options) (*Manifest, error) {
	old, err := ReadManifest(o.Dir)
	why := ""
	switch {
	case errors.Is(err, ErrNoLab):
		return nil, checkEmpty(o.Dir)
	case errors.Is(err, ErrDamaged):
		why = err.Error()
	case err != nil:
		return nil, fmt.Errorf("%w; or remove %s by hand", err, o.Dir)
	default:
		st := Inspect(ctx, old)
		if st.Healthy && !o.Fresh {
			return old, nil
		}
		why = "--fresh"
		if !st.Healthy {
			why = "it is not healthy: " + strings.Join(st.Problems, "; ")
		}
	}
	fmt.Fprintf(o.Progress, "Replacing the lab in %s (%s)\n", o.Dir, why)
	return nil, Down(ctx, o.Dir)
}

// checkEmpty refuses a folder that exists, holds files and is not a lab:
// lab down removes the lab folder, so it must never be someone's folder.
func checkEmpty(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s is not empty and holds no lab (%s); choose another --dir, or empty it", dir, ManifestFile)
	}
	return nil
}

type builder struct {
	o     Options
	steps *stepper
	m     *Manifest
}

func (b *builder) build(ctx context.Context) (*Manifest, error) {
	o := b.o
	if err := os.MkdirAll(filepath.Join(o.Dir, "logs"), 0o755); err != nil {
		return nil, fmt.Errorf("create the lab folder: %w", err)
	}
	m := &Manifest{
		Version: manifestVersion, Dir: o.Dir, Created: time.Now().UTC().Truncate(time.Second),
		Seed: o.Seed, DiskSize: o.DiskSize, Container: container, ComputeDir: computeDir,
		Config: ConfigFile,
		Writes: WriterSettings{WritesPerSecond: o.WritesPerSecond, MinWrite: 4 * kib, MaxWrite: 32 * kib},
	}
	b.m = m
	// lab.json exists from the first step on, so lab down can always find
	// what an interrupted lab up started.
	if err := m.write(); err != nil {
		return nil, err
	}

	s := b.steps.begin("Azurite " + azurite.Version)
	il := installLog(o.Progress, filepath.Join(o.Dir, "logs", "azurite-install.log"))
	bin, err := azurite.Ensure(ctx, o.CacheDir, il)
	il.Close()
	if err != nil {
		return nil, err
	}
	s.done("installed: %s", shortPath(bin))

	s = b.steps.begin("Starting Azurite (the lab's storage account)")
	m.Azurite = Proc{Log: "logs/azurite.log", Started: time.Now().UTC()}
	pid, port, err := startAzurite(ctx, bin, filepath.Join(o.Dir, "azurite"), m.Path(m.Azurite.Log))
	if err != nil {
		return nil, err
	}
	m.Azurite.PID, m.Azurite.Port = pid, port
	if err := m.write(); err != nil {
		return nil, err
	}
	s.done("127.0.0.1:%d, pid %d, data in %s", port, pid, shortPath(filepath.Join(o.Dir, "azurite")))

	s = b.steps.begin("Certificates")
	certDir := filepath.Join(o.Dir, certDirName)
	enc, err := makeCert(certDir, "lab-encryption.pem", "failback lab encryption", 2*365*24*time.Hour)
	if err != nil {
		return nil, err
	}
	enc.Unlocks = true
	other, err := makeCert(certDir, "other-tenant.pem", "failback lab other tenant", 2*365*24*time.Hour)
	if err != nil {
		return nil, err
	}
	m.Certs = []Cert{enc.Cert, other.Cert}
	s.done("%s unlocks the encrypted VM (thumbprint %s); %s does not", enc.File, enc.Thumbprint, other.File)

	s = b.steps.begin("Hyper-V lab hosts")
	hv01, err := b.createHosts()
	if err != nil {
		return nil, err
	}
	s.done("%s (original), %s (alternate, switch %s), %s (alternate, switch %q: the wrong one)",
		HostOriginal, HostAlternate, SwitchName, HostWrongSwitch, wrongSwitch)

	s = b.steps.begin("Disks (Azure page blobs and hv01's images as of the failover)")
	m.VMs = inventory(o.VMs, o.DiskSize, hv01.DiskFolder())
	st, err := azure.NewStorage(azure.StorageOptions{ConnectionString: azure.NewSecret(azurite.ConnectionString(port)), RetryDelay: 100 * time.Millisecond})
	if err != nil {
		return nil, err
	}
	if err := buildDisks(ctx, st, m, enc); err != nil {
		return nil, err
	}
	var disks int
	var data, changed int64
	for _, v := range m.VMs {
		for _, d := range v.Disks {
			disks++
			data, changed = data+d.DataBytes, changed+d.ChangedBytes
		}
	}
	s.done("%d VMs, %d disks of %s; %s of data; Azure changed %s since the failover",
		len(m.VMs), disks, size(o.DiskSize), size(data), size(changed))

	s = b.steps.begin("Azure VMs running, writing to their disks")
	lc, err := azure.NewLabCompute(m.Path(m.ComputeDir), azure.LabOptions{})
	if err != nil {
		return nil, err
	}
	if err := registerVMs(ctx, m, hv01, lc); err != nil {
		return nil, err
	}
	if err := m.write(); err != nil {
		return nil, err
	}
	m.Writer = Proc{Log: "logs/writers.log", Started: time.Now().UTC()}
	argv := append([]string{o.Exe}, writerArgs(o.Dir)...)
	if m.Writer.PID, err = startDetached(argv, os.Environ(), m.Path(m.Writer.Log)); err != nil {
		return nil, err
	}
	if err := m.write(); err != nil {
		return nil, err
	}
	if err := waitWriters(ctx, m, lc, 20*time.Second); err != nil {
		return nil, err
	}
	s.done("writer pid %d: %g writes a second per VM", m.Writer.PID, o.WritesPerSecond)

	s = b.steps.begin("Configuration")
	cfg, err := writeConfig(m)
	if err != nil {
		return nil, err
	}
	s.done("%s (checked with config.Load)", shortPath(cfg))

	m.Ready = true
	if err := m.write(); err != nil {
		return nil, err
	}
	return m, nil
}

// createHosts makes the three lab hosts and records them.
func (b *builder) createHosts() (*hyperv.LabHost, error) {
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
	var hv01 *hyperv.LabHost
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
		if d.name == HostOriginal {
			hv01 = h
		}
	}
	return hv01, nil
}

// waitWriters waits until the writer process reports for every VM, so a
// lab that says it is ready really has VMs writing.
func waitWriters(ctx context.Context, m *Manifest, lc *azure.LabCompute, d time.Duration) error {
	deadline := time.Now().Add(d)
	for _, v := range m.VMs {
		for {
			ws, err := lc.WriterStatus(ctx, v.Name)
			if err != nil {
				return err
			}
			if ws.Err != "" {
				return fmt.Errorf("lab Azure VM %s: its writer failed: %s (see %s)", v.Name, ws.Err, m.Path(m.Writer.Log))
			}
			if ws.Writing && !ws.Heartbeat.IsZero() {
				break
			}
			if !alive(m.Writer.PID) {
				return fmt.Errorf("the VM writer process exited; its output (%s):\n%s", m.Path(m.Writer.Log), tail(readFrom(m.Path(m.Writer.Log), 0), 2000))
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("lab Azure VM %s: its writer did not start within %v; see %s", v.Name, d, m.Path(m.Writer.Log))
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}
