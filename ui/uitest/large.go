package uitest

import (
	"fmt"
	"time"

	"github.com/failback/failback/workflow"
)

// LargeJob is a phase-1 job of the scale drill's shape: vms VMs of two
// 64 GiB disks in groups of 10, at every stage at once: the first group
// done, the second transferring (one disk throttled by Azure, one
// failed), the third checksumming, the rest waiting.
func LargeJob(vms int) workflow.JobView {
	j := workflow.JobView{
		ID: Epoch.Format("060102-1504") + "-big", Title: "big-plan", State: workflow.StatePhase1,
		Choices: workflow.Choices{Plan: "big-plan", Direction: workflow.DirAzureToOnPrem, Location: workflow.LocOriginal, Sync: workflow.SyncDelta},
		Created: Epoch, Updated: Epoch, Owner: Operator,
	}
	const size = 64 << 30
	j.Totals.Passes = 1
	for i := range vms {
		g := 1 + i/10
		v := workflow.VMView{Name: fmt.Sprintf("app%02d", i+1), Group: g, Host: "hv01.example.com",
			AzureState: "running", OnPremState: "off", Phase: "waiting"}
		for k, kind := range []string{"os", "data"} {
			d := workflow.DiskView{Name: v.Name + "-" + kind, Size: size, Phase: "waiting", BytesToCheck: size}
			switch g {
			case 1:
				d.Phase, d.BytesChecked, d.BlocksDiffered = "done", size, int64(100+i)
				d.BytesToTransfer, d.BytesTransferred, d.Percent = d.BlocksDiffered<<20, d.BlocksDiffered<<20, 100
			case 2:
				d.Phase, d.BytesChecked, d.BlocksDiffered = "transfer", size, int64(2000+10*i)
				d.BytesToTransfer = d.BlocksDiffered << 20
				d.BytesTransferred = d.BytesToTransfer * int64(1+i%4) / 5
				d.Percent, d.Rate, d.ETA = 80+4*float64(i%4), 60<<20, time.Duration(30+i)*time.Second
				if i == 12 && k == 1 {
					d.Throttled, d.Throttles, d.Parallel, d.Rate = true, 14, 2, 20<<20
				}
				if i == 14 && k == 0 {
					d.Phase, d.Error, d.Rate, d.ETA = "failed", "write hv01.example.com: the volume is full: free space on D: and resume", 0, 0
				}
			case 3:
				d.Phase, d.BytesChecked, d.BlocksDiffered = "checksum", size*int64(1+i%5)/6, int64(40*(1+i%5))
				d.Percent, d.Rate, d.ETA = 60*float64(1+i%5)/6, 400<<20, time.Duration(100+i)*time.Second
			}
			d.Moved = d.BytesTransferred
			j.Totals.Moved += d.Moved
			v.Disks = append(v.Disks, d)
		}
		v.Phase = vmPhase(v.Disks)
		j.VMs = append(j.VMs, v)
	}
	return j
}

// SeedLarge adds LargeJob(vms) and returns its id.
func (f *Fake) SeedLarge(vms int) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	j := LargeJob(vms)
	f.jobs = append([]*workflow.JobView{&j}, f.jobs...)
	f.logf(j.ID, "info", "started by %s via %s (%s sync)", Operator.Name, Operator.Via, j.Choices.Sync)
	f.notify()
	return j.ID
}
