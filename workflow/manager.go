package workflow

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/config"
	"github.com/failback/failback/crypt"
	"github.com/failback/failback/engine"
	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/mover"
)

// Deps are the already-built dependencies of a Manager: real clients from
// the configuration (internal/cli/wire.go builds them), or lab ones in
// tests and drills. The workflow never builds a client itself.
type Deps struct {
	// Disks opens the Azure disks of the VMs, whatever their kind (page
	// blobs today, managed disks next): the workflow reaches Azure disks
	// only through it.
	Disks azure.DiskOpener
	// Importer makes managed disks from recovery points (failback replica
	// disks); nil without an Azure subscription.
	Importer Importer
	// Replicas keeps the replicas reverse replication writes for disks
	// that were managed disks; nil when no storage account is configured.
	Replicas *azure.Replicas
	// Compute controls the Azure VMs (ARM, or the lab's simulated VMs).
	Compute azure.Compute
	// Hosts are the Hyper-V hosts by their config name.
	Hosts map[string]hyperv.Host
	// Movers are the movers of the hosts with data_path = "mover", by
	// host name: they read Azure and write the disks on the host.
	Movers map[string]*mover.Client
	// Certs is the certificate store (certificates_dir with the config's
	// PFX passwords); nil when no disk is encrypted.
	Certs *crypt.Store
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// StateDir replaces config state_dir (tests).
	StateDir string
	// AutoResume makes Open resume interrupted jobs at once (the console
	// and failback serve); script commands resume only the job they act on.
	AutoResume bool
	// DiskParallel bounds concurrent disk syncs of a job (0 = 2) while
	// the Azure VMs run (phase 1, catch-up passes): their own I/O shares
	// the disks.
	DiskParallel int
	// DowntimeParallel bounds concurrent disk syncs and verifications in
	// phase 2, when the Azure VMs are off and every second is downtime
	// (0 = 8); the storage account's adaptive limit still holds.
	DowntimeParallel int
	// Command names this process in refusals to others (default: its
	// command line).
	Command string
	// NoControl skips the control socket (tests of the Manager alone).
	NoControl bool
	// ReadOnly opens the jobs for viewing only: no lock, no control socket,
	// no job moves; Start and Act are refused. Listing commands use it
	// when no process drives the folder, so they never become its driver.
	ReadOnly bool
	// StartTimeout bounds the wait for an on-premises VM to run (0 = 10 min).
	StartTimeout time.Duration
	// ReadyCatchUp is the shortest wait between the catch-up passes a
	// delta job runs while it is ready to complete (0 = 1 min; negative:
	// none). See ready.go.
	ReadyCatchUp time.Duration
	// SourceVia, when set, wraps the direct snapshot source of an
	// unencrypted disk, for the Azure-side agent (checksums computed next
	// to the data; direct reads while it is unreachable). The returned
	// func releases it. A source that is also an AgentReporter has its
	// figures sampled with the engine's progress and kept in the job.
	// nil: every read goes straight to the snapshot.
	SourceVia func(ctx context.Context, r SourceRequest) (engine.Source, func(), error)
	// MoverAgent, when set, names the Azure-side agent a host's mover
	// reads a disk's snapshot through (nil for a disk it reads directly);
	// the mover falls back to the snapshot's URL while it is unreachable.
	MoverAgent func(ref azure.DiskRef, snapshot string) (*mover.Agent, error)
	// StepHook, when set, runs at each step boundary with the step's name
	// ("phase1", "catch-up 1", "shutdown", "phase2", "verify", "start",
	// "commit", "cancel", "undo", "reverse"); an error stops the step as a
	// failure. It is for drills and tests that need a job to pause.
	StepHook func(ctx context.Context, job, step string) error
}

// Manager implements Service: it owns every job of a state folder and
// drives them in this process. Only one process holds a state folder.
type Manager struct {
	cfg   *config.Config
	deps  Deps
	paths paths
	hub   *hub
	lock  *stateLock

	ctx  context.Context // jobs run under it; Close cancels it
	stop context.CancelFunc
	wg   sync.WaitGroup

	startMu sync.Mutex // one Start at a time: the busy check and the new job are atomic
	mu      sync.Mutex
	jobs    map[string]*job
	facts   factCache // what Plans shows of the VMs' Azure disks (facts.go)
	// bandwidth is engine.bandwidth_limit, shared by every pass of every
	// job: the limit is the link's, however many disks move at once.
	bandwidth *engine.Bandwidth
	closed    bool
	loadErrs  []error
	ctl       *controlServer
}

var _ Service = (*Manager)(nil)

// Open takes the state folder (refusing with a *BusyError when another
// process drives it), loads every job, marks the ones that were moving
// as interrupted, serves the control socket, and resumes interrupted jobs
// when Deps.AutoResume says so. ctx bounds only the opening; jobs run
// until Close.
func Open(ctx context.Context, cfg *config.Config, d Deps) (*Manager, error) {
	if cfg == nil {
		return nil, errors.New("workflow: no configuration")
	}
	if !d.ReadOnly && (d.Disks == nil || d.Compute == nil) {
		return nil, errors.New("workflow: Deps needs Disks and Compute")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.DiskParallel <= 0 {
		d.DiskParallel = 2
	}
	if d.DowntimeParallel <= 0 {
		d.DowntimeParallel = 8
	}
	if d.StartTimeout <= 0 {
		d.StartTimeout = 10 * time.Minute
	}
	if d.Command == "" {
		d.Command = commandLine()
	}
	root := d.StateDir
	if root == "" {
		root = cfg.StateDir
	}
	if root == "" {
		return nil, errors.New("workflow: no state folder: set state_dir in config.toml")
	}
	if abs, err := filepath.Abs(root); err == nil {
		root = abs
	}
	hyperv.SetDiskLockDir(filepath.Join(root, "disklocks")) // never beside the disks
	m := &Manager{cfg: cfg, deps: d, paths: paths{root: root}, hub: newHub(),
		jobs: map[string]*job{}, bandwidth: engine.NewBandwidth(cfg.Engine.BandwidthLimit.Bytes())}
	m.ctx, m.stop = context.WithCancel(context.WithoutCancel(ctx))
	if !d.ReadOnly {
		lk, err := lockState(m.paths, d.Command)
		if err != nil {
			m.stop()
			return nil, err
		}
		m.lock = lk
	}
	// A read-only view calls moving jobs interrupted only when no process
	// holds the folder (then nobody drives them).
	orphaned := true
	if d.ReadOnly {
		lk, err := lockState(m.paths, d.Command)
		orphaned = err == nil
		lk.release()
	}
	recs, errs := m.paths.loadRecords()
	m.loadErrs = errs
	for _, r := range recs {
		j := newJob(m, r)
		j.log = loadAudit(m.paths.audit(r.ID), r.ID)
		m.jobs[r.ID] = j
		if !r.State.Resting() && orphaned {
			j.markInterrupted()
		}
	}
	if !d.NoControl && !d.ReadOnly {
		var err error
		if m.ctl, err = serveControl(m); err != nil {
			m.stop()
			m.lock.release()
			return nil, err
		}
	}
	m.prefetchFacts() // Plans answers from a cache: fill it now, off this goroutine
	if !d.ReadOnly {
		for _, j := range m.sortedJobs() {
			r := j.snap()
			if r.State != StateInterrupted {
				continue
			}
			d := r
			d.State = r.Was
			switch {
			case inDowntime(&d):
				// The Azure VMs are off: every driver takes phase 2 up
				// again at once, a script command's too.
				j.resume(nil, "resumed after interruption: phase 2 was under way with the Azure VMs off, so it goes on by itself")
			case m.deps.AutoResume:
				j.resume(nil, "resumed after interruption")
			}
		}
		m.keepReady()
	}
	return m, nil
}

// LoadErrors lists job records that could not be read (damaged files);
// those jobs are left alone.
func (m *Manager) LoadErrors() []error { return m.loadErrs }

// Close stops every running job (each stops at a safe point: its journal
// records what finished, so the next Open resumes it), closes the control
// socket and gives the state folder back.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	m.stop()
	m.wg.Wait()
	if m.ctl != nil {
		m.ctl.close()
	}
	m.lock.release()
	return nil
}

func (m *Manager) now() time.Time { return m.deps.Now().UTC() }

func (m *Manager) job(id string) (*job, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.jobs[id]
	return j, ok
}

// sortedJobs returns the jobs newest first.
func (m *Manager) sortedJobs() []*job {
	m.mu.Lock()
	js := make([]*job, 0, len(m.jobs))
	for _, j := range m.jobs {
		js = append(js, j)
	}
	m.mu.Unlock()
	sort.Slice(js, func(a, b int) bool {
		ca, cb := js[a].created(), js[b].created()
		if ca.Equal(cb) {
			return js[a].id > js[b].id
		}
		return ca.After(cb)
	})
	return js
}

// Jobs implements Service.
func (m *Manager) Jobs() []JobView {
	js := m.sortedJobs()
	out := make([]JobView, 0, len(js))
	for _, j := range js {
		out = append(out, j.view())
	}
	return out
}

// Job implements Service.
func (m *Manager) Job(id string) (JobView, bool) {
	j, ok := m.job(id)
	if !ok {
		return JobView{}, false
	}
	return j.view(), true
}

// Log implements Service.
func (m *Manager) Log(id string, n int) []LogLine {
	if id != "" {
		j, ok := m.job(id)
		if !ok {
			return nil
		}
		j.mu.Lock()
		defer j.mu.Unlock()
		return j.log.last(n)
	}
	var parts [][]LogLine
	for _, j := range m.sortedJobs() {
		j.mu.Lock()
		parts = append(parts, j.log.last(n))
		j.mu.Unlock()
	}
	return mergeLogs(parts, n)
}

// Subscribe implements Service.
func (m *Manager) Subscribe() (<-chan struct{}, func()) { return m.hub.subscribe() }

// host returns the Hyper-V host of a config name.
func (m *Manager) host(name string) (hyperv.Host, *config.Host, error) {
	hc := m.cfg.Host(name)
	if hc == nil {
		return nil, nil, fmt.Errorf("no [[host]] named %q in %s", name, m.cfg.File)
	}
	h, ok := m.deps.Hosts[name]
	if !ok || h == nil {
		return nil, hc, fmt.Errorf("host %s is not connected (transport %s): check its [[host]] entry", name, hc.Transport)
	}
	return h, hc, nil
}
