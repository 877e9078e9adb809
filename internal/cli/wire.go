package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"time"

	"github.com/failback/failback/agent"
	"github.com/failback/failback/azure"
	"github.com/failback/failback/config"
	"github.com/failback/failback/crypt"
	"github.com/failback/failback/engine"
	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/workflow"
)

// The workflow's real dependencies are built here and nowhere else: the
// storage client, ARM or lab compute, one Hyper-V host per [[host]]
// (PowerShell over SSH or locally, or a lab folder), the certificate store
// with config.toml's PFX passwords, and the Azure-side agent when [agent]
// names one.

// cliActor is the person running a script command: an operator (whoever
// may run failback with this config may act).
func cliActor() workflow.Actor {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if name == "" {
		name = "operator"
	}
	return workflow.Actor{Name: name, Role: workflow.RoleOperator, Via: "cli"}
}

// wireOptions say how a process uses the workflow.
type wireOptions struct {
	// Command names this process to others ("failback run --plan web").
	Command string
	// AutoResume resumes interrupted jobs at once (the console and
	// failback serve; script commands resume only what they act on).
	AutoResume bool
}

// openWorkflow returns the Service of cfg's state folder: the control
// socket of the process that drives its jobs when one runs, else a
// Manager driving them in this process. close releases it (a Manager
// stops its jobs at a safe point: they resume later).
func openWorkflow(ctx context.Context, cfg *config.Config, o wireOptions) (svc workflow.Service, close func(), err error) {
	var busy error
	for range 3 {
		if c, err := workflow.Dial(ctx, cfg.StateDir); err == nil {
			return c, func() { _ = c.Close() }, nil
		}
		d, release, err := buildDeps(ctx, cfg)
		if err != nil {
			return nil, nil, err
		}
		d.Command, d.AutoResume = o.Command, o.AutoResume
		m, err := workflow.Open(ctx, cfg, d)
		if errors.Is(err, workflow.ErrBusy) {
			release() // another process took the folder meanwhile: use it
			busy = err
			time.Sleep(200 * time.Millisecond)
			continue
		}
		if err != nil {
			release()
			return nil, nil, err
		}
		for _, e := range m.LoadErrors() {
			fmt.Fprintf(os.Stderr, "failback: warning: %v\n", e)
		}
		return m, func() { _ = m.Close(); release() }, nil
	}
	return nil, nil, fmt.Errorf("%w (its control socket does not answer)", busy)
}

// buildDeps builds every client from the configuration (no request is
// sent yet).
func buildDeps(ctx context.Context, cfg *config.Config) (workflow.Deps, func(), error) {
	var d workflow.Deps
	var closers []func()
	release := func() {
		for _, c := range closers {
			c()
		}
	}
	st, err := azure.NewStorage(storageFromConfig(cfg.Azure.Storage))
	if err != nil {
		return d, nil, fmt.Errorf("[azure.storage]: %w", err)
	}
	d.Storage = st
	switch cfg.Azure.Compute {
	case config.ComputeLab:
		lc, err := azure.NewLabCompute(cfg.Azure.LabDir, azure.LabOptions{})
		if err != nil {
			return d, nil, fmt.Errorf("[azure] lab_dir: %w", err)
		}
		d.Compute = lc
	default:
		ac, err := azure.NewARMCompute(azure.ARMOptions{SubscriptionID: cfg.Azure.SubscriptionID,
			ResourceGroup: cfg.Azure.ResourceGroup, OperationTimeout: cfg.Azure.OperationTimeout.D()})
		if err != nil {
			return d, nil, fmt.Errorf("[azure] compute: %w", err)
		}
		d.Compute = ac
	}
	d.Hosts = map[string]hyperv.Host{}
	for i := range cfg.Hosts {
		h, closeHost, err := buildHost(&cfg.Hosts[i])
		if err != nil {
			release()
			return d, nil, err
		}
		d.Hosts[cfg.Hosts[i].Name] = h
		closers = append(closers, closeHost)
	}
	pw := map[string]crypt.Secret{}
	for _, c := range cfg.Certificates {
		pw[c.File] = crypt.NewSecret(c.Password.Reveal())
	}
	d.Certs = crypt.NewStore(cfg.CertificatesDir, crypt.StoreOptions{Passwords: pw})
	if cfg.Agent.URL != "" {
		d.SourceVia = agentSource(cfg.Agent)
	}
	return d, release, nil
}

// buildHost connects one [[host]] by its transport.
func buildHost(h *config.Host) (hyperv.Host, func(), error) {
	switch h.Transport {
	case config.TransportLab:
		lh, err := hyperv.OpenLab(h.LabDir)
		if err != nil {
			return nil, nil, fmt.Errorf("host %s: %w", h.Name, err)
		}
		return lh, func() {}, nil
	case config.TransportLocal:
		return hyperv.NewPSHost(h.Name, hyperv.LocalRunner{}), func() {}, nil
	case config.TransportSSH:
		r, err := hyperv.NewSSHRunner(hyperv.SSHConfig{Addr: h.Address, User: h.User, KeyFile: h.KeyFile,
			KeyPassphrase: h.KeyPassphrase, Password: h.Password,
			KnownHostsFile: h.KnownHosts})
		if err != nil {
			return nil, nil, fmt.Errorf("host %s: %w", h.Name, err)
		}
		return hyperv.NewPSHost(h.Name, r), func() { _ = r.Close() }, nil
	}
	return nil, nil, fmt.Errorf("host %s: unknown transport %q", h.Name, h.Transport)
}

// agentSource reads unencrypted snapshots through the Azure-side agent,
// with direct reads while it is unreachable. Its warnings go to the job's
// log (a console on this terminal would be garbled by stderr).
func agentSource(a config.Agent) func(ctx context.Context, r workflow.SourceRequest) (engine.Source, func(), error) {
	return func(ctx context.Context, r workflow.SourceRequest) (engine.Source, func(), error) {
		src, err := agent.NewSource(ctx, agent.Options{URL: a.URL, CertFingerprint: a.CertFingerprint, CertFile: a.CertFile,
			Token: azure.NewSecret(a.Token.Reveal()), Container: r.Container, Blob: r.Blob, Snapshot: r.Snapshot,
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

// AgentStats implements workflow.AgentReporter.
func (s agentStats) AgentStats() workflow.AgentView {
	st := s.Stats()
	return workflow.AgentView{AzureChecked: st.CheckedBytes, BlockBytes: st.BlockBytes, LinkBytes: st.WireBytes(),
		CompressionSaved: st.CompressionSaved(), DirectBytes: st.FallbackReadBytes + st.FallbackHashedBytes,
		Fallback: st.Fallback, FallbackSwitches: st.FallbackSwitches}
}
