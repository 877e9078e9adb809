package workflow

import (
	"fmt"
	"sort"

	"github.com/failback/failback/internal/units"
)

// HostView is one Hyper-V host's share of a job's movement now: a plan
// over several hosts moves on all of them at once, each through its own
// mover, and this says how fast each goes.
type HostView struct {
	Host string `json:"host"`
	// Mover says the host's mover moves its bytes (else this machine,
	// through a share).
	Mover bool `json:"mover"`
	// Moving is how many of its disks move now.
	Moving int `json:"moving"`
	// Rate is the bytes per second its moving disks go through (checked
	// or copied), TransferRate the differing bytes written per second.
	Rate         float64 `json:"rate"`
	TransferRate float64 `json:"transfer_rate"`
	// BytesTransferred is what its disks' current passes moved so far.
	BytesTransferred int64 `json:"bytes_transferred"`
}

// hostViews sums the live disks per host, in host order. Call with j.mu
// held.
func hostViews(r *jobRecord, live map[diskKey]*liveDisk) []HostView {
	byHost := map[string]*HostView{}
	for vi, vm := range r.VMs {
		h := byHost[vm.Host]
		if h == nil {
			h = &HostView{Host: vm.Host, Mover: vm.Mover}
			byHost[vm.Host] = h
		}
		for di := range vm.Disks {
			l := live[diskKey{vi, di}]
			if l == nil || l.p.Phase == "" || l.phase == diskDone || l.phase == diskFailed || l.phase == diskWaiting {
				continue
			}
			h.Moving++
			h.Rate += l.p.Rate
			h.TransferRate += l.p.TransferRate
			h.BytesTransferred += l.p.BytesTransferred
		}
	}
	out := make([]HostView, 0, len(byHost))
	for _, h := range byHost {
		out = append(out, *h)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Host < out[b].Host })
	return out
}

// Text says how fast the host moves now ("hv01 180 MiB/s (2 disk(s),
// writing 12.0 MiB/s)", or "hv03 idle").
func (h HostView) Text() string {
	if h.Moving == 0 {
		return h.Host + " idle"
	}
	return fmt.Sprintf("%s %s/s (%d disk(s), writing %s/s)", h.Host, units.Bytes(int64(h.Rate)), h.Moving, units.Bytes(int64(h.TransferRate)))
}

// HostsMoving are the job's hosts as Text says them while a job spread
// over several hosts moves on at least one (catch-up passes while ready
// too); nil otherwise.
func (v JobView) HostsMoving() []string {
	if len(v.Hosts) < 2 {
		return nil
	}
	var out []string
	moving := false
	for _, h := range v.Hosts {
		moving = moving || h.Moving > 0
		out = append(out, h.Text())
	}
	if !moving {
		return nil
	}
	return out
}
