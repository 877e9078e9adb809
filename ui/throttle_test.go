package ui

import (
	"fmt"
	"testing"

	"github.com/failback/failback/ui/uitest"
	"github.com/failback/failback/workflow"
)

// A disk Azure throttles says so under its line, with the refused
// requests and how many it now sends at a time; the others say nothing.
func TestMonitorShowsADiskThrottledByAzure(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {120, 40}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			f, running, _ := seeded()
			f.Update(running, func(j *workflow.JobView) {
				for vi := range j.VMs {
					for di := range j.VMs[vi].Disks {
						if d := &j.VMs[vi].Disks[di]; d.Name == "web02-os" {
							d.Throttled, d.Throttles, d.Parallel = true, 12, 3
						}
					}
				}
			})
			s := start(t, f, uitest.Operator, PageMonitor, sz[0], sz[1], "on-premises VMs started")
			s.press([]string{"down"}, "throttled by Azure: 12 request(s) refused", "3 request(s) at a time")
		})
	}
}
