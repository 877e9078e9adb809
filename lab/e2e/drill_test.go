//go:build unix

package e2e

import (
	"os"
	"strings"
	"testing"

	"github.com/failback/failback/lab"
)

// lastLine is the last non-empty line of out: run prints the job id there.
func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// vmStatus finds a VM in a lab status.
func vmStatus(t *testing.T, s lab.Status, name string) lab.VMStatus {
	t.Helper()
	for _, v := range s.VMs {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("lab status has no VM %s", name)
	return lab.VMStatus{}
}

// TestDrill is the drill the lab exists for, through the commands a user
// types: lab up; fail a plan back with delta sync while its Azure VMs keep
// writing; complete (the Azure VMs shut down, the last changes move, the
// VMs start on hv01); the on-premises disks then equal the Azure disks at
// shutdown, byte for byte; commit (the Azure VMs are deleted). Then the
// same with the plan holding the encrypted VM and the lab certificate.
// lab down leaves nothing running.
func TestDrill(t *testing.T) {
	m, _ := labUp(t, "--write-rate", "20")
	cfg := m.Path(m.Config)
	st := storage(t, m)
	var thumb string
	for _, c := range m.Certs {
		if c.Unlocks {
			thumb = c.Thumbprint
		}
	}

	drill := func(plan string, extra ...string) {
		t.Helper()
		var vms []lab.VM
		for _, v := range m.VMs {
			if v.Plan == plan {
				vms = append(vms, v)
			}
		}
		before, _ := status(t, m.Dir)
		args := append([]string{"run", "--config", cfg, "--plan", plan, "--sync", "delta", "--yes"}, extra...)
		job := lastLine(mustFailback(t, args...).out)
		if job == "" || strings.ContainsAny(job, " \t") {
			t.Fatalf("run did not end with a job id (last line %q)", job)
		}
		// Phase 1 runs online: the Azure VMs kept running and writing.
		during, _ := status(t, m.Dir)
		for _, v := range vms {
			b, d := vmStatus(t, before, v.Name), vmStatus(t, during, v.Name)
			if d.Power != "running" || d.Writes <= b.Writes {
				t.Fatalf("%s: %s with %d writes (had %d) after phase 1; the Azure VM should still run and write", v.Name, d.Power, d.Writes, b.Writes)
			}
		}

		mustFailback(t, "complete", "--config", cfg, job)
		after, _ := status(t, m.Dir)
		for _, v := range vms {
			if p := vmStatus(t, after, v.Name).Power; p != "stopped" && p != "deallocated" {
				t.Fatalf("%s is %s in Azure after complete; want it shut down", v.Name, p)
			}
			for _, d := range v.Disks {
				ad := azureContent(t, m, st, d.Blob)
				differ, total := differingBlocks(t, ad.plain, d.Image)
				ad.done()
				if differ != 0 {
					t.Fatalf("%s: %d of %d blocks of %s differ from the Azure disk at shutdown", v.Name, differ, total, d.Image)
				}
			}
		}
		for _, h := range after.Hosts {
			if h.Name != lab.HostOriginal {
				continue
			}
			for _, hv := range h.VMs {
				if vmNamed(m, hv.Name).Plan == plan && hv.State != "Running" {
					t.Fatalf("%s is %s on %s after complete; want it running", hv.Name, hv.State, h.Name)
				}
			}
		}

		mustFailback(t, "commit", "--config", cfg, job)
		committed, _ := status(t, m.Dir)
		for _, v := range vms {
			if p := vmStatus(t, committed, v.Name).Power; p != "deleted" {
				t.Fatalf("%s is %s in Azure after commit; want it deleted", v.Name, p)
			}
		}
	}
	drill(lab.PlanTier1)
	drill(lab.PlanTier2, "--cert", thumb)

	mustFailback(t, "lab", "down", "--dir", m.Dir)
	for _, pid := range []int{m.Azurite.PID, m.Writer.PID} {
		if !gone(pid) {
			t.Fatalf("process %d still exists after lab down", pid)
		}
	}
	if _, err := os.Stat(m.Dir); !os.IsNotExist(err) {
		t.Fatalf("the lab folder survived lab down (%v)", err)
	}
}
