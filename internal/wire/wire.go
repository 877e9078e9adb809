// Package wire builds the workflow's real dependencies from config.toml:
// the Azure disks (page blobs in the storage account), ARM or lab
// compute, one Hyper-V host per [[host]] (PowerShell over SSH or locally,
// or a lab folder), the certificate store with config.toml's PFX
// passwords, and the Azure-side agent when [agent] names one. It is the
// one wiring: the script commands, the console, failback serve and the
// drills of the tests all build their dependencies here.
package wire

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/failback/failback/agent"
	"github.com/failback/failback/azure"
	"github.com/failback/failback/config"
	"github.com/failback/failback/crypt"
	"github.com/failback/failback/engine"
	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/mover"
	"github.com/failback/failback/workflow"
)

// Deps builds every client from the configuration (no request is sent
// yet). release closes what it opened (SSH connections to hosts).
func Deps(ctx context.Context, cfg *config.Config) (d workflow.Deps, release func(), err error) {
	var closers []func()
	release = func() {
		for i := len(closers) - 1; i >= 0; i-- { // movers before the connections they use
			closers[i]()
		}
	}
	disks, err := Disks(cfg)
	if err != nil {
		return d, nil, err
	}
	d.Disks = disks
	if disks.Managed != nil {
		d.Importer = disks.Managed
	}
	switch cfg.Azure.Compute {
	case config.ComputeLab:
		lc, err := azure.NewLabCompute(cfg.Azure.LabDir, azure.LabOptions{})
		if err != nil {
			return d, nil, fmt.Errorf("[azure] lab_dir: %w", err)
		}
		d.Compute = azure.LabVMs{LabCompute: lc}
	default:
		ac, err := azure.NewARMCompute(ARMOptions(cfg))
		if err != nil {
			return d, nil, fmt.Errorf("[azure] compute: %w", err)
		}
		d.Compute = ac
	}
	d.DiskParallel = cfg.Engine.ParallelDisks
	d.Hosts = map[string]hyperv.Host{}
	d.Movers = map[string]*mover.Client{}
	for i := range cfg.Hosts {
		hc := &cfg.Hosts[i]
		h, r, closeHost, err := Connect(hc)
		if err != nil {
			release()
			return d, nil, err
		}
		d.Hosts[hc.Name] = h
		closers = append(closers, closeHost)
		if hc.UsesMover() {
			c, err := Mover(cfg.StateDir, hc, r)
			if err != nil {
				release()
				return d, nil, err
			}
			d.Movers[hc.Name] = c
			closers = append(closers, func() { _ = c.Close() })
		}
	}
	pw := map[string]crypt.Secret{}
	for _, c := range cfg.Certificates {
		pw[c.File] = crypt.NewSecret(c.Password.Reveal())
	}
	d.Certs = crypt.NewStore(cfg.CertificatesDir, crypt.StoreOptions{Passwords: pw})
	if cfg.Agent.URL != "" {
		d.SourceVia = agentSource(cfg.Agent)
		if d.MoverAgent, err = moverAgent(cfg.Agent); err != nil {
			release()
			return d, nil, err
		}
	}
	if d.Replicas, err = Replicas(cfg); err != nil {
		release()
		return d, nil, err
	}
	return d, release, nil
}

// Disks opens the Azure disks the configuration names: managed disks
// through Azure Resource Manager, page blobs in the [azure.storage]
// account (each only when configured).
func Disks(cfg *config.Config) (*azure.Disks, error) {
	var d azure.Disks
	if cfg.UsesPageBlobs() || cfg.Azure.Storage.Configured() {
		st, err := azure.NewStorage(StorageOptions(cfg.Azure.Storage))
		if err != nil {
			return nil, fmt.Errorf("[azure.storage]: %w", err)
		}
		d.Storage = st
	}
	if cfg.Azure.Compute == config.ComputeARM && cfg.Azure.SubscriptionID != "" {
		read := StorageOptions(cfg.Azure.Storage)
		md, err := azure.NewManagedDisks(azure.ManagedOptions{ARM: ARMOptions(cfg),
			SnapshotResourceGroup: cfg.Azure.SnapshotResourceGroup, SASDuration: cfg.Azure.SASDuration.D(),
			Read: azure.StorageOptions{MaxRetries: read.MaxRetries, RetryDelay: read.RetryDelay,
				MaxRetryDelay: read.MaxRetryDelay, TryTimeout: read.TryTimeout}})
		if err != nil {
			return nil, fmt.Errorf("[azure]: %w", err)
		}
		d.Managed = md
	}
	return &d, nil
}

// Replicas is where reverse replication keeps the replicas of managed
// disks: the [reverse.storage] account, else the [azure.storage] one;
// nil when neither is configured.
func Replicas(cfg *config.Config) (*azure.Replicas, error) {
	sc, what := &cfg.Reverse.Storage, "[reverse.storage]"
	if !sc.Configured() {
		sc, what = &cfg.Azure.Storage, "[azure.storage]"
	}
	if !sc.Configured() {
		return nil, nil
	}
	st, err := azure.NewStorage(StorageOptions(*sc))
	if err != nil {
		return nil, fmt.Errorf("%s (the replicas' account): %w", what, err)
	}
	return &azure.Replicas{Storage: st, Container: cfg.Reverse.ReplicaContainer}, nil
}

// ARMOptions reach Azure Resource Manager as [azure] says: the
// subscription, the default resource group, the endpoint. A loopback
// http:// endpoint is the lab's, which takes the lab token; anything else
// authenticates with Microsoft Entra ID (DefaultAzureCredential).
func ARMOptions(cfg *config.Config) azure.ARMOptions {
	o := azure.ARMOptions{SubscriptionID: cfg.Azure.SubscriptionID, ResourceGroup: cfg.Azure.ResourceGroup,
		Endpoint: cfg.Azure.ARMEndpoint, OperationTimeout: cfg.Azure.OperationTimeout.D()}
	if azure.LoopbackHTTP(cfg.Azure.ARMEndpoint) {
		o.Credential = azure.LabToken{}
		// azcore refuses to poll more often than once a second (outside Go
		// tests, which is why only a real binary meets it); the lab's
		// answers carry retry-after-ms, which the SDK follows, so polls
		// stay quick anyway.
		o.PollInterval = time.Second
	}
	return o
}

// StorageOptions maps the config file's [azure.storage] onto the azure
// package's options (secrets already resolved by config.Load).
func StorageOptions(c config.Storage) azure.StorageOptions {
	return azure.StorageOptions{
		AccountURL:       c.AccountURL,
		AccountName:      c.AccountName,
		AccountID:        c.AccountID,
		ConnectionString: azure.NewSecret(c.ConnectionString.Reveal()),
		AccountKey:       azure.NewSecret(c.AccountKey.Reveal()),
		SAS:              azure.NewSecret(c.SAS.Reveal()),
		UseEntraID:       c.EntraID,
		MaxRetries:       c.Retries,
		RetryDelay:       c.RetryDelay.D(),
		MaxRetryDelay:    c.MaxRetryDelay.D(),
		TryTimeout:       c.TryTimeout.D(),
	}
}

// Host connects one [[host]] by its transport.
func Host(h *config.Host) (hyperv.Host, func(), error) {
	hh, _, release, err := Connect(h)
	return hh, release, err
}

// Connect is Host, with the SSH connection an ssh host's mover shares
// (nil for other transports).
func Connect(h *config.Host) (hyperv.Host, *hyperv.SSHRunner, func(), error) {
	switch h.Transport {
	case config.TransportLab:
		lh, err := hyperv.OpenLab(h.LabDir)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("host %s: %w", h.Name, err)
		}
		return lh, nil, func() {}, nil
	case config.TransportLocal:
		return hyperv.NewPSHost(h.Name, hyperv.LocalRunner{}), nil, func() {}, nil
	case config.TransportSSH:
		r, err := hyperv.NewSSHRunner(hyperv.SSHConfig{Addr: h.Address, User: h.User, KeyFile: h.KeyFile,
			KeyPassphrase: h.KeyPassphrase, Password: h.Password,
			KnownHostsFile: h.KnownHosts})
		if err != nil {
			return nil, nil, nil, fmt.Errorf("host %s: %w", h.Name, err)
		}
		return hyperv.NewPSHost(h.Name, r), r, func() { _ = r.Close() }, nil
	}
	return nil, nil, nil, fmt.Errorf("host %s: unknown transport %q", h.Name, h.Transport)
}

// Mover is the mover of a host with data_path = "mover": over the host's
// SSH connection (r), or a child process of this program for lab and
// local hosts, which run this very build. The mover on an SSH host must
// be this build, and the very file `failback mover install` put there
// (its hash, remembered in stateDir): another is refused with the
// command that installs it.
func Mover(stateDir string, h *config.Host, r *hyperv.SSHRunner) (*mover.Client, error) {
	o := mover.ClientOptions{Host: h.Name, Fix: "failback mover install --host " + h.Name, MaxMoves: h.MaxDisks}
	if h.Transport == config.TransportSSH {
		if r == nil {
			return nil, fmt.Errorf("host %s: no SSH connection for its mover", h.Name)
		}
		o.Build = mover.Build()
		in, ok, err := mover.LoadInstalled(stateDir, h.Name)
		if err != nil {
			return nil, fmt.Errorf("host %s: %w", h.Name, err)
		}
		if ok && in.Program == h.MoverProgram() {
			o.SHA256 = in.SHA256
		}
		return mover.NewClient(mover.SSH(r, h.MoverProgram(), h.MoverStateDir()), o), nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("host %s: the mover is this program, which cannot find itself: %w", h.Name, err)
	}
	return mover.NewClient(childMover{exe: exe, state: h.MoverStateDir(), lab: h.Transport == config.TransportLab}, o), nil
}

// childMover starts the mover as a child process. A lab host's mover
// takes the disks' write locks where this process and the lab's VMs take
// them (the state folder's disklocks, known once the workflow opened it).
type childMover struct {
	exe, state string
	lab        bool
}

func (c childMover) transport() mover.Transport {
	lockDir := ""
	if c.lab {
		lockDir = hyperv.DiskLockDir()
	}
	return mover.Command(c.exe, mover.ChildArgs(c.state, lockDir)...)
}

func (c childMover) Describe() string { return c.transport().Describe() }

func (c childMover) Start(ctx context.Context) (mover.Session, error) {
	return c.transport().Start(ctx)
}

// agentSource reads unencrypted page-blob snapshots through the
// Azure-side agent, with direct reads while it is unreachable. Its
// warnings go to the job's log (a console on this terminal would be
// garbled by stderr). Other kinds of disk are read directly.
func agentSource(a config.Agent) func(ctx context.Context, r workflow.SourceRequest) (engine.Source, func(), error) {
	return func(ctx context.Context, r workflow.SourceRequest) (engine.Source, func(), error) {
		if r.Disk.Kind != azure.KindPageBlob {
			return r.Direct, func() {}, nil
		}
		src, err := agent.NewSource(ctx, agent.Options{URL: a.URL, CertFingerprint: a.CertFingerprint, CertFile: a.CertFile,
			Token: azure.NewSecret(a.Token.Reveal()), Container: r.Disk.Container, Blob: r.Disk.Blob, Snapshot: r.Snapshot,
			Fallback: r.Direct, Logger: r.Log})
		if err != nil {
			return nil, nil, err
		}
		return agentStats{src}, src.Close, nil
	}
}

// agentStats is the agent's source with its figures in the workflow's
// terms (workflow.AgentReporter); the engine sees every method of the
// source itself, its block hashing included.
type agentStats struct{ *agent.Source }

// A driver writing through a share verifies a whole disk only while the
// agent computes its checksums (mover.CheapSums): the wrapper keeps both.
var _ interface {
	engine.BlockHasher
	mover.FallbackReporter
} = agentStats{}

// AgentStats implements workflow.AgentReporter.
func (s agentStats) AgentStats() workflow.AgentView {
	return workflow.AgentView(mover.FiguresOf(s.Stats()))
}

// moverAgent names the agent a host's mover reads an unencrypted
// page-blob snapshot through (nil for other disks: read directly).
func moverAgent(a config.Agent) (func(ref azure.DiskRef, snapshot string) (*mover.Agent, error), error) {
	var pem []byte
	if a.CertFile != "" {
		var err error
		if pem, err = os.ReadFile(a.CertFile); err != nil {
			return nil, fmt.Errorf("[agent] cert_file: %w", err)
		}
	}
	return func(ref azure.DiskRef, snapshot string) (*mover.Agent, error) {
		if ref.Kind != azure.KindPageBlob {
			return nil, nil
		}
		return &mover.Agent{URL: a.URL, CertFingerprint: a.CertFingerprint, CertPEM: pem, Token: a.Token.Reveal(),
			Container: ref.Container, Blob: ref.Blob, Snapshot: snapshot}, nil
	}, nil
}
