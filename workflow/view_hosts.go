package workflow

import "sort"

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
