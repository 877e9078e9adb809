// Package labtest builds a complete failback drill for tests: page-blob
// disks in Azurite, simulated Azure VMs (azure.LabCompute) whose writers
// keep writing until they are powered off, lab Hyper-V hosts in a temporary
// folder holding the VMs' older on-premises disks, a config.toml for them,
// and the workflow.Deps a Manager needs. The workflow and CLI tests share it.
package labtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/config"
	"github.com/failback/failback/crypt"
	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/internal/faultproxy"
	"github.com/failback/failback/internal/labarm"
	"github.com/failback/failback/internal/testenv"
	"github.com/failback/failback/mover"
	"github.com/failback/failback/workflow"
)

// VM describes one VM of the drill.
type VM struct {
	Name  string
	Disks []int64 // virtual sizes (whole MiB)
	// Encrypted disks are written through crypt with the lab certificate.
	Encrypted bool
	// NoImage leaves the on-premises images out (a deleted VM).
	NoImage bool
	// Managed puts the VM on managed disks (needs Options.ARM).
	Managed bool
	// Host is the lab host the VM ran on (default hv01; another must be
	// one of Options.AltHosts).
	Host string
}

// host is the VM's original host.
func (vm VM) host() string {
	if vm.Host == "" {
		return "hv01"
	}
	return vm.Host
}

// Options shape the drill.
type Options struct {
	VMs []VM
	// Plans maps a plan name to its groups.
	Plans map[string][][]string
	// AltHosts are extra lab hosts; those named in NoSwitch lack the
	// switch "LAN" the VMs use.
	AltHosts []string
	NoSwitch []string
	// Engine settings written to config.toml.
	BlockSize, Bandwidth, StopBelow string
	MaxPasses                       int
	Verify                          bool
	// Transport replaces the storage client's HTTP transport (counting),
	// the movers' too.
	Transport *Counter
	// Trim is the share of the writers' writes that trim (clear) instead.
	Trim float64
	// ARM, when set, runs the drill on the lab's ARM endpoint (see
	// ARMOptions): every VM is an ARM VM, Managed ones on managed disks.
	ARM *ARMOptions
	// Share makes the lab hosts' disks written through the share
	// (data_path = "share") instead of by their movers.
	Share bool
	// MaxDisks, when set, is each host's max_disks.
	MaxDisks int
	// MoverThrottle, when its Rate is set, puts a faultproxy in front
	// of Azurite for the movers' reads of blob data and page writes
	// (Lab.MoverProxy): what goes over the rate is refused as Azure
	// throttles.
	MoverThrottle faultproxy.Throttle
}

// Lab is a running drill.
type Lab struct {
	T          testing.TB
	Dir        string
	Conn       string
	Container  string
	Storage    *azure.Storage
	Compute    *azure.LabCompute
	ComputeDir string
	Hosts      map[string]*hyperv.LabHost
	ConfigFile string
	Cfg        *config.Config
	CertsDir   string
	Cert       *Cert
	// Movers are the hosts' in-process movers that Deps wires (Drop
	// one to lose its session).
	Movers map[string]*mover.PipeTransport
	// MoverSpace, set before Deps, is what the movers say of the room on
	// their state folder's volume.
	MoverSpace func(folder string) (hyperv.Space, error)
	// ARM and ARMURL are the lab ARM endpoint (Options.ARM only).
	ARM    *labarm.Server
	ARMURL string
	// MoverProxy is the proxy the movers read through
	// (Options.MoverThrottle).
	MoverProxy *faultproxy.Proxy
	opts       Options
	blobs      map[string]string // managed disks' backing blobs, by blobKey
}

// New builds the drill: blobs with content, the older on-premises images
// (most blocks equal, some not), the lab VMs (running in Azure, off on
// premises), and config.toml. Nothing runs yet: see StartWriters.
func New(t testing.TB, o Options) *Lab {
	t.Helper()
	if o.BlockSize == "" {
		o.BlockSize = "256K"
	}
	if o.StopBelow == "" {
		o.StopBelow = "64K"
	}
	l := &Lab{T: t, Dir: t.TempDir(), Conn: testenv.AzuriteConnectionString(t), Hosts: map[string]*hyperv.LabHost{}, opts: o,
		blobs: map[string]string{}}
	l.ComputeDir = filepath.Join(l.Dir, "azure")
	l.CertsDir = filepath.Join(l.Dir, "certs")
	if err := os.MkdirAll(l.CertsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	so := azure.StorageOptions{ConnectionString: azure.NewSecret(l.Conn), RetryDelay: 10 * time.Millisecond,
		MaxRetryDelay: 100 * time.Millisecond, TryTimeout: 30 * time.Second}
	if o.Transport != nil {
		so.Transport = o.Transport
	}
	var err error
	if l.Storage, err = azure.NewStorage(so); err != nil {
		t.Fatal(err)
	}
	l.Container = containerName(t.Name())
	ctx := context.Background()
	if err := l.Storage.CreateContainer(ctx, l.Container); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Storage.DeleteContainer(context.Background(), l.Container) })
	if l.Compute, err = azure.NewLabCompute(l.ComputeDir, azure.LabOptions{AckTimeout: 20 * time.Second}); err != nil {
		t.Fatal(err)
	}
	for _, h := range append([]string{"hv01"}, o.AltHosts...) {
		cfg := hyperv.LabConfig{Name: h, Switches: []hyperv.Switch{{Name: "LAN", Type: hyperv.SwitchExternal}}}
		for _, n := range o.NoSwitch {
			if n == h {
				cfg.Switches = []hyperv.Switch{{Name: "Internal", Type: hyperv.SwitchInternal}}
			}
		}
		lh, err := hyperv.CreateLab(filepath.Join(l.Dir, "hosts", h), cfg)
		if err != nil {
			t.Fatal(err)
		}
		l.Hosts[h] = lh
	}
	if o.ARM != nil {
		l.startARM(*o.ARM)
	}
	for i, vm := range o.VMs {
		if vm.Encrypted && l.Cert == nil {
			l.Cert = NewCert(t, l.CertsDir, "lab-cert")
		}
		l.setupVM(uint64(i+1), vm)
	}
	l.writeConfig()
	return l
}

// Blob names the blob of disk i of vm (a managed disk's backing blob).
func (l *Lab) Blob(vm string, i int) string {
	if b, ok := l.blobs[blobKey(vm, i)]; ok {
		return b
	}
	return fmt.Sprintf("%s-disk%d.vhd", vm, i)
}

// Image is the on-premises image of disk i of vm on its host.
func (l *Lab) Image(vm string, i int) string {
	h := "hv01"
	for _, v := range l.opts.VMs {
		if v.Name == vm {
			h = v.host()
		}
	}
	return filepath.Join(l.Hosts[h].DiskFolder(), vm, fmt.Sprintf("disk%d.vhdx", i))
}

func (l *Lab) setupVM(seed uint64, vm VM) {
	t := l.T
	ctx := context.Background()
	var ldisks []azure.LabDisk
	var specs []hyperv.DiskSpec
	if vm.Managed {
		l.createManagedDisks(vm)
	}
	for i, size := range vm.Disks {
		base := content(size, seed*100+uint64(i))
		l.writeBlob(l.Blob(vm.Name, i), size, base, vm.Encrypted, vm.Managed)
		if !vm.NoImage {
			writeImage(t, l.Image(vm.Name, i), size, base)
		}
		// Drift: the VM ran in Azure for a while after the failover.
		l.driftBlob(l.Blob(vm.Name, i), size, seed*100+uint64(i), vm.Encrypted)
		ldisks = append(ldisks, azure.LabDisk{Container: l.Container, Blob: l.Blob(vm.Name, i)})
		specs = append(specs, hyperv.DiskSpec{HostPath: l.Image(vm.Name, i), VirtualSize: size, Existing: !vm.NoImage,
			Controller: hyperv.Controller{Type: hyperv.SCSI, Location: i}})
	}
	if l.ARM != nil {
		l.createARMVM(vm)
	} else if err := l.Compute.CreateVM(ctx, vm.Name, ldisks); err != nil {
		t.Fatal(err)
	}
	if !vm.NoImage {
		if _, err := l.Hosts[vm.host()].CreateVM(ctx, hyperv.VMSpec{Name: vm.Name, Generation: 2, CPUCount: 2,
			MemoryBytes: 512 << 20, SwitchName: "LAN", Disks: specs}); err != nil {
			t.Fatal(err)
		}
	}
}

// StartWriters runs every Azure VM's writer (azure.RunLabVM) until the
// test ends: the VMs keep changing their disks until they are powered off.
func (l *Lab) StartWriters(rate float64) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, len(l.opts.VMs))
	for i, vm := range l.opts.VMs {
		go func() {
			defer func() { done <- struct{}{} }()
			_ = azure.RunLabVM(ctx, l.Storage, l.Compute, vm.Name, azure.LabWriterOptions{WritesPerSecond: rate,
				MinWrite: 4 << 10, MaxWrite: 64 << 10, Seed: uint64(i + 7), Poll: 5 * time.Millisecond, NewRegion: 0.2, Trim: l.opts.Trim})
		}()
	}
	l.T.Cleanup(func() {
		cancel()
		for range l.opts.VMs {
			<-done
		}
	})
}

// Deps are the Manager's dependencies for this drill.
func (l *Lab) Deps() workflow.Deps {
	hosts := map[string]hyperv.Host{}
	for n, h := range l.Hosts {
		hosts[n] = h
	}
	d := workflow.Deps{Disks: &azure.Disks{Storage: l.Storage}, Compute: azure.LabVMs{LabCompute: l.Compute}, Hosts: hosts,
		Certs: crypt.NewStore(l.CertsDir, crypt.StoreOptions{}), NoControl: false, Movers: l.movers()}
	if l.ARM != nil {
		disks, compute := l.ARMDeps()
		d.Disks, d.Compute, d.Importer = disks, compute, disks.Managed
		d.Replicas = l.Replicas()
	}
	return d
}

// movers are the lab hosts' movers, in this process over pipes (the
// same protocol as a child process or an SSH session), each keeping its
// journals in its host's mover state folder; nil with Options.Share.
func (l *Lab) movers() map[string]*mover.Client {
	if l.opts.Share {
		return nil
	}
	out := map[string]*mover.Client{}
	l.Movers = map[string]*mover.PipeTransport{}
	for i := range l.Cfg.Hosts {
		hc := &l.Cfg.Hosts[i]
		so := mover.ServerOptions{StateDir: hc.MoverStateDir(), Space: l.MoverSpace}
		if l.opts.Transport != nil {
			so.Transport = l.opts.Transport // what the movers move is counted too
		}
		if l.opts.MoverThrottle.Rate > 0 {
			so.Transport = l.moverProxy(so.Transport)
		}
		tr := mover.Pipe(so)
		c := mover.NewClient(tr, mover.ClientOptions{Host: hc.Name, MaxMoves: hc.MaxDisks})
		l.T.Cleanup(func() { _ = c.Close() })
		out[hc.Name], l.Movers[hc.Name] = c, tr
	}
	return out
}

// JournalDir is the journal folder of pass n of disk i of vm in job id,
// where the job keeps it: the host's mover state folder, or the state
// folder with Options.Share.
func (l *Lab) JournalDir(id, vm string, i, n int) string {
	root := l.Cfg.StateDir
	if !l.opts.Share {
		root = l.Cfg.Host("hv01").MoverStateDir()
	}
	dir, err := mover.NewLocal(root).PassDir(mover.DiskKey{Job: id, VM: vm, Disk: i}, n)
	if err != nil {
		l.T.Fatal(err)
	}
	return dir
}

// Open opens a Manager on the drill (closed when the test ends).
func (l *Lab) Open(d workflow.Deps) *workflow.Manager {
	l.T.Helper()
	m, err := workflow.Open(context.Background(), l.Cfg, d)
	if err != nil {
		l.T.Fatal(err)
	}
	l.T.Cleanup(func() { _ = m.Close() })
	return m
}

func (l *Lab) writeConfig() {
	o := l.opts
	var b strings.Builder
	q := func(s string) string { return fmt.Sprintf("%q", s) }
	fmt.Fprintf(&b, "state_dir = %s\ncertificates_dir = %s\n\n", q(filepath.Join(l.Dir, "state")), q(l.CertsDir))
	if l.ARM != nil {
		fmt.Fprintf(&b, "[azure]\nsite_name = \"Azure lab\"\ncompute = \"arm\"\nsubscription_id = %s\nresource_group = %s\narm_endpoint = %s\noperation_timeout = \"1m\"\n\n",
			q(labarm.DefaultSubscription), q(ResourceGroup), q(l.ARMURL))
	} else {
		fmt.Fprintf(&b, "[azure]\nsite_name = \"Azure lab\"\ncompute = \"lab\"\nlab_dir = %s\n\n", q(l.ComputeDir))
	}
	fmt.Fprintf(&b, "[azure.storage]\nconnection_string = %s\nretry_delay = \"10ms\"\nmax_retry_delay = \"100ms\"\ntry_timeout = \"30s\"\n\n", q(l.Conn))
	fmt.Fprintf(&b, "[engine]\nblock_size = %s\nthreads = 2\nverify = %v\n", q(o.BlockSize), o.Verify)
	if o.Bandwidth != "" {
		fmt.Fprintf(&b, "bandwidth_limit = %s\n", q(o.Bandwidth))
	}
	fmt.Fprintf(&b, "\n[engine.catch_up]\nmax_passes = %d\nstop_below = %s\n\n", o.MaxPasses, q(o.StopBelow))
	fmt.Fprintf(&b, "[reverse]\ninterval = \"1m\"\nkeep_recovery_points = 2\n\n")
	for _, name := range append([]string{"hv01"}, o.AltHosts...) {
		h := l.Hosts[name]
		fmt.Fprintf(&b, "[[host]]\nname = %s\ntransport = \"lab\"\nlab_dir = %s\nvm_folder = %s\nshutdown_timeout = \"5s\"\n",
			q(name), q(h.Dir()), q(filepath.Join(h.Dir(), "alt")))
		if o.Share {
			b.WriteString("data_path = \"share\"\n")
		}
		if o.MaxDisks > 0 {
			fmt.Fprintf(&b, "max_disks = %d\n", o.MaxDisks)
		}
		b.WriteString("\n")
	}
	for _, vm := range o.VMs {
		fmt.Fprintf(&b, "[[vm]]\nname = %s\nhost = %s\nswitch = \"LAN\"\ngeneration = 2\ncpus = 2\nmemory = \"512M\"\n", q(vm.Name), q(vm.host()))
		for i := range vm.Disks {
			switch {
			case !vm.Managed:
				fmt.Fprintf(&b, "\n[[vm.disk]]\nblob = %s\nimage = %s\n", q(l.Container+"/"+l.Blob(vm.Name, i)), q(l.Image(vm.Name, i)))
			case i == 0:
				fmt.Fprintf(&b, "\n[[vm.disk]]\nos = true\nimage = %s\n", q(l.Image(vm.Name, i)))
			default:
				fmt.Fprintf(&b, "\n[[vm.disk]]\nlun = %d\nimage = %s\n", i-1, q(l.Image(vm.Name, i)))
			}
		}
		b.WriteString("\n")
	}
	for name, groups := range o.Plans {
		var gs []string
		for _, g := range groups {
			var qs []string
			for _, n := range g {
				qs = append(qs, q(n))
			}
			gs = append(gs, "["+strings.Join(qs, ", ")+"]")
		}
		fmt.Fprintf(&b, "[[plan]]\nname = %s\ndescription = \"lab plan\"\ngroups = [%s]\n\n", q(name), strings.Join(gs, ", "))
	}
	l.ConfigFile = filepath.Join(l.Dir, "config.toml")
	if err := os.WriteFile(l.ConfigFile, []byte(b.String()), 0o600); err != nil {
		l.T.Fatal(err)
	}
	cfg, err := config.Load(l.ConfigFile)
	if err != nil {
		l.T.Fatalf("lab config: %v\n%s", err, b.String())
	}
	l.Cfg = cfg
}

// containerName is a valid, unique container name for a test.
func containerName(test string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(test) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
		if b.Len() >= 40 {
			break
		}
	}
	return fmt.Sprintf("t%s-%x", b.String(), time.Now().UnixNano()&0xffffffff)
}
