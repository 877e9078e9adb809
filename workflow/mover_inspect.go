package workflow

import (
	"context"
	"fmt"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/config"
	"github.com/failback/failback/mover"
)

// What the pre-flight and the estimates need to know about a target
// image is asked where the job will write it: the host's mover opens it
// by the host's path, a share is opened here. So a host reached over SSH
// with data_path = "mover" needs no path_map at all.

// usesMover says the target's host writes its disks through its mover.
func (t *target) usesMover() bool { return t.hc != nil && t.hc.UsesMover() }

// reachable says this job can reach the image: through the host's mover,
// or through a path_map here.
func (d targetDisk) reachable(t *target) bool { return t.usesMover() || d.localOK }

// inspect says what the target image is (its allocation, and whether it
// can be locked for writing, when asked). It needs reachable.
func (m *Manager) inspect(ctx context.Context, t *target, d targetDisk, allocation, lock bool) (mover.Image, error) {
	if !t.usesMover() {
		return mover.Inspect(d.local, allocation, lock), nil
	}
	c := m.deps.Movers[t.hostName]
	if c == nil {
		return mover.Image{}, errNoMoverFor(t.hostName)
	}
	return c.Inspect(ctx, d.image, allocation, lock)
}

// errNoMoverFor is errNoMover for host.
func errNoMoverFor(host string) error {
	return &noMoverError{host: host}
}

type noMoverError struct{ host string }

func (e *noMoverError) Error() string {
	return "host " + e.host + ": " + errNoMover.Error() + " (data_path = \"mover\"): check its [[host]] entry, or set data_path = \"share\""
}

func (e *noMoverError) Unwrap() error { return errNoMover }

// checkMover says once per host whether its mover answers and is this
// build (a session started now checks both), and where it keeps the
// journals, then whether it reaches Azure storage; false stops the
// host's image checks, which would ask it.
func (m *Manager) checkMover(ctx context.Context, p *prepared, t *target, disks []azure.VMDisk) bool {
	if !t.usesMover() {
		return true
	}
	if ok, seen := p.movers[t.hostName]; seen {
		return ok
	}
	if p.movers == nil {
		p.movers = map[string]bool{}
	}
	var h mover.Hello
	err := errNoMoverFor(t.hostName)
	if c := m.deps.Movers[t.hostName]; c != nil {
		h, err = c.Hello(ctx)
	}
	row := CheckRow{VM: t.vm.Name, What: "mover on " + t.hostName}
	if err != nil {
		row.Detail = err.Error()
		row.Fix = "install this failback's mover there: failback mover install --host " + t.hostName
		if t.hc.Transport != config.TransportSSH {
			row.Fix = "check that this program can start itself as a mover (failback mover check --host " + t.hostName + ")"
		}
	} else {
		row.OK = true
		row.Detail = fmt.Sprintf("build %s (%s/%s), journals in %s", h.Build, h.OS, h.Arch, h.StateDir)
	}
	p.add(row)
	p.movers[t.hostName] = err == nil
	if err == nil {
		m.checkReach(ctx, p, t, disks)
	}
	return err == nil
}

// readAccess is a page-blob disk, which can hand out a URL reading the
// live blob alone (a managed disk is read only through a snapshot's
// grant, which a pre-flight does not take: its host's reach shows at the
// first pass).
type readAccess interface {
	ReadAccess(ctx context.Context) (azure.Access, error)
}

// checkReach has the host's mover read the properties of the first
// page-blob disk of the VM through a URL for that disk alone: a host
// that cannot reach Azure storage is refused before anything moves.
func (m *Manager) checkReach(ctx context.Context, p *prepared, t *target, disks []azure.VMDisk) {
	for _, d := range disks {
		ra, ok := d.(readAccess)
		if !ok {
			continue
		}
		c := m.deps.Movers[t.hostName]
		err := c.Reach(ctx, mover.Snapshot{Name: d.Name(), Size: d.Size(),
			Access: func(ctx context.Context, _ bool) (azure.Access, error) { return ra.ReadAccess(ctx) },
			Read:   readOptions(m.cfg.Azure.Storage)})
		row := CheckRow{VM: t.vm.Name, What: "Azure storage from " + t.hostName, OK: err == nil,
			Detail: "the host's mover read " + d.Name() + " through a URL for that disk alone"}
		if err != nil {
			row.Detail = err.Error()
			row.Fix = fixFor(err, "let "+t.hostName+" reach the storage account over HTTPS (port 443: its firewall, proxy and DNS), then run the pre-flight again")
		}
		p.add(row)
		if err == nil {
			m.checkReachAgent(ctx, p, t, d)
		}
		return
	}
}

// checkReachAgent has the host's mover ask the Azure-side agent what it
// is, with its certificate and token, when one is configured. A host
// that cannot reach it is not refused (its mover reads storage
// directly, every block in full): the row warns, with what to open.
func (m *Manager) checkReachAgent(ctx context.Context, p *prepared, t *target, d azure.VMDisk) {
	via := m.deps.MoverAgent
	if via == nil {
		return
	}
	a, err := via(d.Ref(), "")
	if err != nil || a == nil {
		return // the pass says it, as it reads the disk
	}
	err = m.deps.Movers[t.hostName].ReachAgent(ctx, *a)
	row := CheckRow{VM: t.vm.Name, What: "the Azure-side agent from " + t.hostName, OK: true,
		Detail: "the host's mover reads page blobs through the agent at " + a.URL}
	switch {
	case mover.AgentRefused(err):
		row.OK, row.Detail = false, err.Error()
		row.Fix = "set [agent] token and cert_fingerprint (or cert_file) to the agent's, then run the pre-flight again"
	case err != nil:
		row.Warning = true
		row.Detail = err.Error() + "; the host's mover will read storage directly, every block in full"
		row.Fix = "let " + t.hostName + " reach " + a.URL + " (its firewall, the agent's network security group), then run the pre-flight again"
	}
	p.add(row)
}
