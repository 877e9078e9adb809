//go:build unix

package e2e

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
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

// sasMark is in every SAS URL (its signature); failback must never show,
// log or store one.
const sasMark = "sig="

// TestDrill is the drill the lab exists for, through the commands a user
// types: lab up; fail a plan back with delta sync while its Azure VMs keep
// writing and trimming; complete (the Azure VMs shut down, the last
// changes move, the VMs start on hv01); every on-premises disk then equals
// its Azure disk byte for byte, read through the Azure SDK (a fresh
// snapshot and a read grant for a managed disk), not through failback;
// commit (the Azure VMs are deleted with their NICs and public IPs, the
// managed disks kept). First the plan on managed disks, then the plan
// holding the encrypted page-blob VM, with the lab certificate. No SAS
// shows in any output, job log or file of the state folder. lab down
// leaves nothing running.
func TestDrill(t *testing.T) {
	ctx := context.Background()
	m, _ := labUp(t, "--write-rate", "20")
	cfg := m.Path(m.Config)
	az := newSDK(t, m)
	var thumb string
	for _, c := range m.Certs {
		if c.Unlocks {
			thumb = c.Thumbprint
		}
	}
	var outputs []string
	run := func(args ...string) result {
		t.Helper()
		r := mustFailback(t, args...)
		outputs = append(outputs, strings.Join(args, " ")+"\n"+r.out+r.err)
		return r
	}

	drill := func(plan string, extra ...string) {
		t.Helper()
		var vms []lab.VM
		kinds := map[bool]int{}
		for _, v := range m.VMs {
			if v.Plan == plan {
				vms = append(vms, v)
				kinds[v.Managed()]++
			}
		}
		t.Logf("plan %s: %d VMs on managed disks, %d on page blobs", plan, kinds[true], kinds[false])
		before, _ := status(t, m.Dir)
		args := append([]string{"run", "--config", cfg, "--plan", plan, "--sync", "delta", "--yes"}, extra...)
		job := lastLine(run(args...).out)
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

		run("complete", "--config", cfg, job)
		after, _ := status(t, m.Dir)
		var trims int64
		for _, v := range vms {
			vs := vmStatus(t, after, v.Name)
			if vs.Power != "stopped" && vs.Power != "deallocated" {
				t.Fatalf("%s is %s in Azure after complete; want it shut down", v.Name, vs.Power)
			}
			trims += vs.Trims - vmStatus(t, before, v.Name).Trims
			for _, d := range v.Disks {
				ad := az.azureContent(t, d)
				differ, total := differingBlocks(t, ad.plain, d.Image)
				ad.done()
				if differ != 0 {
					t.Fatalf("%s: %d of %d blocks of %s differ from the Azure disk %s at shutdown", v.Name, differ, total, d.Image, d.Describe())
				}
			}
		}
		if trims == 0 {
			t.Fatalf("plan %s: the Azure VMs trimmed nothing during the drill; cleared ranges went untested", plan)
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

		run("commit", "--config", cfg, "--yes", job)
		committed, _ := status(t, m.Dir)
		for _, v := range vms {
			if p := vmStatus(t, committed, v.Name).Power; p != "deleted" {
				t.Fatalf("%s is %s in Azure after commit; want it deleted", v.Name, p)
			}
			// The NIC and public IP are gone, whatever their deleteOption;
			// the managed disks stay (delete_disks = false), even a disk
			// set to go with its VM.
			if _, err := az.nics.Get(ctx, m.ResourceGroup, v.NIC, nil); !notFound(err) {
				t.Fatalf("%s: NIC %s (deleteOption %s) after commit: %v; want it deleted", v.Name, v.NIC, v.NICDeleteOption, err)
			}
			if v.PublicIP != "" {
				if _, err := az.pips.Get(ctx, m.ResourceGroup, v.PublicIP, nil); !notFound(err) {
					t.Fatalf("%s: public IP %s after commit: %v; want it deleted", v.Name, v.PublicIP, err)
				}
			}
			for _, d := range v.Disks {
				if d.Managed == "" {
					continue
				}
				if _, err := az.disks.Get(ctx, m.ResourceGroup, d.Managed, nil); err != nil {
					t.Fatalf("%s: managed disk %s (deleteOption %s) after commit: %v; commit keeps disks", v.Name, d.Managed, d.DeleteOption, err)
				}
			}
		}
		st := run("status", "--config", cfg, "--log", "10000", job)
		if !strings.Contains(st.out, "committed") {
			t.Fatalf("job %s is not committed:\n%s", job, st.out)
		}
		run("status", "--config", cfg, "--json", "--log", "10000", job)
	}
	drill(lab.PlanTier1)
	drill(lab.PlanTier2, "--cert", thumb)

	// Not a SAS anywhere failback writes: outputs, job logs, state files.
	for _, o := range outputs {
		if strings.Contains(o, sasMark) {
			t.Fatalf("a command's output shows a SAS:\n%s", o)
		}
	}
	files := 0
	err := filepath.WalkDir(m.Path("state"), func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || e.Type()&fs.ModeSocket != 0 {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		if strings.Contains(string(b), sasMark) {
			t.Errorf("%s holds a SAS", p)
		}
		return nil
	})
	if err != nil || files == 0 {
		t.Fatalf("reading the state folder: %d files, %v", files, err)
	}

	// Committed: no VM left, yet the lab's Azure serves on (the disks and
	// the snapshots kept are there to look at) and the lab is healthy.
	if st, code := status(t, m.Dir); code != 0 || !st.Azure.ARMAnswering || !st.Azure.FrontAnswering || st.Azure.ARMVMs != 0 {
		t.Fatalf("after both drills: exit %d, Azure %+v, problems %v", code, st.Azure, st.Problems)
	}

	mustFailback(t, "lab", "down", "--dir", m.Dir)
	for _, pid := range []int{m.Azurite.PID, m.Azure.PID} {
		if !gone(pid) {
			t.Fatalf("process %d still exists after lab down", pid)
		}
	}
	if _, err := os.Stat(m.Dir); !os.IsNotExist(err) {
		t.Fatalf("the lab folder survived lab down (%v)", err)
	}
}
