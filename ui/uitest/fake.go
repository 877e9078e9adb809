// Package uitest is a deterministic in-memory workflow.Service for the
// console's and the SSH server's tests. Jobs move only when a test calls
// Advance (never on a timer), so golden files are stable; every Start and
// Act is recorded with the context it was given, so tests can prove that
// nothing session-scoped reaches a job.
package uitest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/failback/failback/workflow"
)

// StartCall records one Start.
type StartCall struct {
	Ctx     context.Context
	Choices workflow.Choices
	Who     workflow.Actor
	ID      string
}

// ActCall records one Act.
type ActCall struct {
	Ctx    context.Context
	ID     string
	Action workflow.Action
	Who    workflow.Actor
}

// Fake implements workflow.Service in memory.
type Fake struct {
	mu      sync.Mutex
	plans   []workflow.PlanInfo
	sites   workflow.SiteInfo
	jobs    []*workflow.JobView          // newest first
	was     map[string]workflow.JobState // the state a stopped job stopped in, by id
	ready   map[string]time.Time         // when a job became ready, by id
	logs    []workflow.LogLine
	subs    map[int]chan struct{}
	nextSub int
	nextJob int
	clock   time.Time

	preflightFailures int
	refuse            error
	gates             map[string]chan struct{}
	confirms          map[workflow.Action]string

	starts []StartCall
	acts   []ActCall
	calls  map[string]int
}

var _ workflow.Service = (*Fake)(nil)

// New returns a fake with the demo plans and sites and no jobs.
func New() *Fake {
	return &Fake{
		plans: demoPlans(),
		sites: demoSites(),
		subs:  map[int]chan struct{}{},
		clock: Epoch,
		gates: map[string]chan struct{}{},
		calls: map[string]int{},
		was:   map[string]workflow.JobState{},
		ready: map[string]time.Time{},
	}
}

// FailPreflight makes the next n Preflight calls report a failing check.
func (f *Fake) FailPreflight(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.preflightFailures = n
}

// Refuse makes Start and Act fail with err for everyone (nil: stop).
func (f *Fake) Refuse(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refuse = err
}

// Hold makes calls of method (e.g. "Preflight") wait until release is
// called or their context ends.
func (f *Fake) Hold(method string) (release func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan struct{})
	f.gates[method] = ch
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			delete(f.gates, method)
			f.mu.Unlock()
			close(ch)
		})
	}
}

// Calls says how often a method was called.
func (f *Fake) Calls(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

// Starts returns every Start call so far.
func (f *Fake) Starts() []StartCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]StartCall(nil), f.starts...)
}

// Acts returns every Act call so far.
func (f *Fake) Acts() []ActCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ActCall(nil), f.acts...)
}

// Subscribers is the number of live subscriptions (sessions watching).
func (f *Fake) Subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// enter counts a call and waits at its gate, if any.
func (f *Fake) enter(ctx context.Context, method string) error {
	f.mu.Lock()
	f.calls[method]++
	gate := f.gates[method]
	f.mu.Unlock()
	if gate == nil {
		return nil
	}
	select {
	case <-gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SetDiskSize changes what Plans says of a disk's size: size 0 and why
// "" is "still being read", why is the reason it cannot be read.
func (f *Fake) SetDiskSize(blob string, size int64, why string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	plans := make([]workflow.PlanInfo, 0, len(f.plans))
	for _, p := range f.plans {
		groups := make([][]workflow.VMInfo, 0, len(p.Groups))
		for _, g := range p.Groups {
			vms := make([]workflow.VMInfo, 0, len(g))
			for _, v := range g {
				disks := append([]workflow.DiskInfo(nil), v.Disks...)
				for i := range disks {
					if disks[i].Blob == blob || disks[i].Name == blob {
						disks[i].Size, disks[i].SizeError = size, why
					}
				}
				v.Disks = disks
				vms = append(vms, v)
			}
			groups = append(groups, vms)
		}
		p.Groups = groups
		plans = append(plans, p)
	}
	f.plans = plans
	f.notify()
}

// Plans implements workflow.Service.
func (f *Fake) Plans() []workflow.PlanInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["Plans"]++
	return append([]workflow.PlanInfo(nil), f.plans...)
}

// Sites implements workflow.Service.
func (f *Fake) Sites() workflow.SiteInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sites
}

// vmsOf returns the VMs a choice covers, in plan order.
func (f *Fake) vmsOf(c workflow.Choices) ([]workflow.VMInfo, []int, error) {
	name := c.Plan
	if name == "" {
		name = c.VM
	}
	for _, p := range f.plans {
		if p.Name != name || (c.VM != "" && !p.Single) {
			continue
		}
		var vms []workflow.VMInfo
		var groups []int
		for g, grp := range p.Groups {
			for _, v := range grp {
				vms = append(vms, v)
				groups = append(groups, g+1)
			}
		}
		return vms, groups, nil
	}
	return nil, nil, fmt.Errorf("no plan or VM named %q: check config.toml", name)
}

// CheckLocation implements workflow.Service: hv03 has no switch LAN, and
// VMs do not exist on a host other than their own unless CreateVM is set.
func (f *Fake) CheckLocation(ctx context.Context, c workflow.Choices) (workflow.LocationReport, error) {
	if err := f.enter(ctx, "CheckLocation"); err != nil {
		return workflow.LocationReport{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	vms, _, err := f.vmsOf(c)
	if err != nil {
		return workflow.LocationReport{}, err
	}
	rep := workflow.LocationReport{OK: true}
	if c.Location == workflow.LocAlternate {
		rep.Host = c.AltHost
	}
	for _, v := range vms {
		host := v.Host
		if c.Location == workflow.LocAlternate {
			host = c.AltHost
		}
		reach := workflow.CheckRow{VM: v.Name, What: "host " + host + " reachable", OK: true,
			Detail: "PowerShell over SSH to " + host + ", Hyper-V 10.0.20348"}
		sw := workflow.CheckRow{VM: v.Name, What: "switch " + v.Switch + " on " + host, OK: true, Detail: "present on " + host}
		if host == "hv03.example.com" {
			rep.HostSwitches = []string{"Internal", "Storage"}
			if to := c.SwitchMap[v.Switch]; to != "" {
				sw.Detail = "mapped to " + to + " (your choice)"
			} else {
				sw.OK, sw.Detail = false, "no virtual switch named "+v.Switch+" on "+host
				sw.Fix = "map it to a switch " + host + " has (m), or create a switch named " + v.Switch + " on " + host
				if !slices.Contains(rep.MissingSwitches, v.Switch) {
					rep.MissingSwitches = append(rep.MissingSwitches, v.Switch)
				}
			}
		}
		rows := []workflow.CheckRow{reach, sw}
		if host == v.Host {
			for _, d := range v.Disks {
				rows = append(rows, workflow.CheckRow{VM: v.Name, What: "image " + d.Image, OK: true,
					Detail: fmt.Sprintf("vhdx, virtual size %d GiB, same as the Azure disk", d.Size/gib)})
			}
		}
		rows = append(rows, workflow.CheckRow{VM: v.Name, What: "room on " + host, OK: true, Detail: "2.0 TiB free"})
		exists := workflow.CheckRow{VM: v.Name, What: "VM " + v.Name + " on " + host, OK: true, Detail: "exists, off"}
		if host != v.Host {
			if c.CreateVM {
				exists.Detail = "will be created"
			} else {
				exists.OK, exists.Detail = false, "not on "+host
				exists.Fix = "press space to create the VM if missing"
			}
		}
		for _, r := range append(rows, exists) {
			rep.Checks = append(rep.Checks, r)
			rep.OK = rep.OK && r.OK
		}
	}
	return rep, nil
}

// BasisBound is a basis of a changed estimate that is only an upper
// bound. It does not say so in words: the console must go by Bound.
const BasisBound = "no earlier snapshot by failback to diff against: every allocated byte"

// Estimate implements workflow.Service with fixed ratios: 60% of each
// disk allocated, 3% changed.
func (f *Fake) Estimate(ctx context.Context, c workflow.Choices) (workflow.Estimate, error) {
	if err := f.enter(ctx, "Estimate"); err != nil {
		return workflow.Estimate{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	vms, _, err := f.vmsOf(c)
	if err != nil {
		return workflow.Estimate{}, err
	}
	var est workflow.Estimate
	for _, v := range vms {
		for _, d := range v.Disks {
			de := workflow.DiskEstimate{
				VM: v.Name, Blob: d.Short(), Size: d.Size,
				Allocated:       d.Size / 10 * 6,
				ChangedEstimate: d.Size / 100 * 3,
				Basis:           "changes since failback's snapshot of 2025-05-10 22:00:00 (job 250510-2200-3c)",
				Encrypted:       d.Blob == "sql01-data.vhd",
			}
			if v.Name == "files01" {
				// Never failed back before: only an upper bound.
				de.ChangedEstimate, de.Basis, de.Bound = de.Allocated, BasisBound, true
			}
			est.Disks = append(est.Disks, de)
		}
	}
	est.Recommended = workflow.SyncDelta
	est.Why = "about 3% changed since failover: delta moves far less"
	est.DeltaDowntime = 6 * time.Minute
	est.FullDowntime = 2*time.Hour + 10*time.Minute
	return est, nil
}

// Certificates implements workflow.Service: the web-shop plan has an
// encrypted disk, files01 has none.
func (f *Fake) Certificates(ctx context.Context, c workflow.Choices) (workflow.CertReport, error) {
	if err := f.enter(ctx, "Certificates"); err != nil {
		return workflow.CertReport{}, err
	}
	return demoCerts(c.Plan == "web-shop"), nil
}

// baseName is the file name of a Windows or POSIX path.
func baseName(p string) string {
	return p[strings.LastIndexAny(p, `/\`)+1:]
}

// Preflight implements workflow.Service.
func (f *Fake) Preflight(ctx context.Context, c workflow.Choices) (workflow.PreflightReport, error) {
	if err := f.enter(ctx, "Preflight"); err != nil {
		return workflow.PreflightReport{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	vms, _, err := f.vmsOf(c)
	if err != nil {
		return workflow.PreflightReport{}, err
	}
	rep := workflow.PreflightReport{OK: true}
	rep.Checks = append(rep.Checks, workflow.CheckRow{What: "Azure storage", OK: true, Detail: "fbweu01 answers"})
	if f.preflightFailures > 0 {
		f.preflightFailures--
		rep.OK = false
		rep.Checks[0] = workflow.CheckRow{
			What: "Azure storage", Detail: "403 AuthorizationFailure",
			Fix: "renew the SAS token in config.toml [azure] sas, then press r",
		}
	}
	// Interleaved by check, as the workflow reports them.
	for _, v := range vms {
		rep.Checks = append(rep.Checks,
			workflow.CheckRow{VM: v.Name, What: "disks are page blobs", OK: true, Detail: fmt.Sprintf("%d fixed VHD(s), lease leased", len(v.Disks))})
	}
	for _, v := range vms {
		rep.Checks = append(rep.Checks, workflow.CheckRow{VM: v.Name, What: "host " + v.Host + " reachable", OK: true, Detail: "PowerShell over SSH"})
		for _, d := range v.Disks {
			rep.Checks = append(rep.Checks, workflow.CheckRow{VM: v.Name, What: "image " + baseName(d.Image) + " not in use", OK: true, Detail: "free"})
		}
	}
	return rep, nil
}
