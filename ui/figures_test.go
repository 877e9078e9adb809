package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/failback/failback/ui/uitest"
	"github.com/failback/failback/workflow"
)

// While a job is ready, the monitor says at all times what Complete
// failover would move and cost now; the Complete dialog quotes the same
// figure, measured when it is shown.
func TestGoldenMonitorCompleteNow(t *testing.T) {
	for _, sz := range sizes {
		t.Run(fmt.Sprintf("monitor_%dx%d", sz[0], sz[1]), func(t *testing.T) {
			f := uitest.New()
			readyJob(f)
			s := start(t, f, uitest.Operator, PageMonitor, sz[0], sz[1], "Complete now: about")
			s.golden()
		})
		t.Run(fmt.Sprintf("dialog_%dx%d", sz[0], sz[1]), func(t *testing.T) {
			f := uitest.New()
			readyJob(f)
			s := start(t, f, uitest.Operator, PageMonitor, sz[0], sz[1], "Complete now: about")
			s.press([]string{"c"}, "Complete now: about 6.0 MiB to move")
			s.golden()
		})
	}
}

// The dialog's figure is measured now: as time passes and Azure keeps
// changing, the open dialog says more, without a key press.
func TestMonitorCompleteDialogMeasuresNow(t *testing.T) {
	f := uitest.New()
	id := readyJob(f)
	s := fastModel(t, f, 80, 24, "Complete now: about 6.0 MiB to move")
	s.press([]string{"c"}, "Complete now: about 6.0 MiB to move")
	for i := 0; i < 4; i++ {
		f.Logf(id, "info", "a minute passes") // the fake clock moves a second per event
	}
	s.press(nil, "Complete now: about 10.0 MiB to move")
	s.press([]string{"n"}, "Nothing done.")
	s.final()
}

// manyJobs is one active job among seven others over or committed,
// started before all of them: newest first it would be last.
func manyJobs() *uitest.Fake {
	f := uitest.New()
	f.SeedRunning()
	for i := 0; i < 7; i++ {
		id := f.SeedPendingCommit()
		f.Update(id, func(j *workflow.JobView) {
			j.State = []workflow.JobState{workflow.StateCommitted, workflow.StateCancelled, workflow.StateUndone}[i%3]
		})
	}
	return f
}

// The job list puts active jobs first, scrolls, and says how many jobs it
// does not show.
func TestGoldenMonitorJobListScrolls(t *testing.T) {
	for _, sz := range sizes {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			s := start(t, manyJobs(), uitest.Operator, PageMonitor, sz[0], sz[1], "more below (↑/↓)")
			// The last job's own events and actions, read once selected.
			s.press([]string{"down", "down", "down", "down", "down", "down", "down"}, "more above", "09:00:12 info  on-premises VMs started", "[r] Reverse replicate")
			m := s.golden()
			if got := m.monitor.Jobs()[0]; got.State != workflow.StatePhase1 {
				t.Errorf("first job listed is %s (%s), want the active one", got.ID, got.State)
			}
		})
	}
}

// While groups start in order, the job says what it waits for.
func TestGoldenMonitorGroupStartWait(t *testing.T) {
	for _, sz := range sizes {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			f := uitest.New()
			id := readyJob(f)
			f.Update(id, func(j *workflow.JobView) {
				j.State = workflow.StateStarting
				j.Wait = "group 2 of 2 starts once web02 reports a heartbeat (12s so far, at most 10m00s)"
				for vi := range j.VMs {
					j.VMs[vi].AzureState = "off (shut down by this job)"
					if j.VMs[vi].Group == 1 {
						j.VMs[vi].OnPremState = "running"
					}
				}
			})
			s := start(t, f, uitest.Operator, PageMonitor, sz[0], sz[1], "waiting: group 2 of 2 starts once web02")
			s.golden()
		})
	}
}

// Reverse replication shows, per disk, what its newest cycles sent, what
// the last one read and how it found the changes, the recovery points it
// keeps, how old and how consistent; the job says when the next cycle
// starts; a missed RPO target and a cycle longer than the interval are
// warnings.
func TestGoldenMonitorReversePerDisk(t *testing.T) {
	for _, sz := range sizes {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			f := uitest.New()
			id := f.SeedPendingCommit()
			at := func(m int) time.Time { return uitest.Epoch.Add(time.Duration(m) * time.Minute) }
			f.Update(id, func(j *workflow.JobView) {
				j.State, j.ReverseCycles, j.LastReverse, j.NextReverse = workflow.StateReverse, 3, at(45), at(60)
				for di := range j.VMs[0].Disks {
					d := &j.VMs[0].Disks[di]
					d.Reverse = &workflow.ReverseView{Points: 3, Oldest: at(15), Newest: at(45), Cycles: []workflow.CycleView{
						{At: at(15), Sent: int64(di+1) << 20}, {At: at(30), Sent: 0}, {At: at(45), Sent: int64(di+3) << 22}},
						Consistency: "application-consistent", Read: int64(di+3) << 22, Changes: "from Hyper-V change tracking",
						RPOTarget: time.Minute, CycleTook: 20 * time.Minute, Slow: di == 0}
				}
			})
			s := start(t, f, uitest.Operator, PageMonitor, sz[0], sz[1], "RPO missed")
			v := s.golden().View()
			wants := []string{"RPO missed (target 1m", "files01 (newest 15m", "longer than the interval"}
			if sz[1] >= 40 { // 80x24 scrolls the disk lines
				wants = append(wants, "changes found from Hyper-V change tracking", "(application-consistent)")
			}
			for _, want := range wants {
				if !strings.Contains(strings.Join(strings.Fields(v), " "), want) {
					t.Errorf("the reverse lines do not say %q:\n%s", want, v)
				}
			}
		})
	}
}

// Phase 2's verification shows its own progress under its own label; the
// figures of the final pass (blocks that differed, what it moved) stay.
func TestGoldenMonitorVerifyKeepsFigures(t *testing.T) {
	for _, sz := range sizes {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			f := uitest.New()
			id := f.SeedPendingCommit()
			f.Update(id, func(j *workflow.JobView) {
				j.State = workflow.StateVerify
				d := &j.VMs[0].Disks[0]
				d.Phase, d.BytesChecked, d.Percent, d.Rate, d.ETA = "verify", d.BytesToCheck/4, 25, 200<<20, 2*time.Second
			})
			s := start(t, f, uitest.Operator, PageMonitor, sz[0], sz[1], "verify")
			v := s.golden().View()
			if !strings.Contains(v, "moved 4.0 MiB") && !strings.Contains(v, "4.0 MiB") {
				t.Errorf("verifying lost the final pass's figures:\n%s", v)
			}
		})
	}
}

// A job started elsewhere appears in an open console without a key
// press: in the monitor's list, and instead of a wizard nobody touched.
func TestNewJobAppearsWithoutAKeyPress(t *testing.T) {
	bob := workflow.Actor{Name: "bob", Role: workflow.RoleOperator, Via: "ssh"}
	choices := workflow.Choices{VM: "files01", Direction: workflow.DirAzureToOnPrem, Location: workflow.LocOriginal, Sync: workflow.SyncDelta}
	t.Run("monitor", func(t *testing.T) {
		f := uitest.New()
		f.SeedPendingCommit()
		s := fastModel(t, f, 80, 24, "250512-0900-01")
		if _, err := f.Start(t.Context(), choices, bob); err != nil {
			t.Fatal(err)
		}
		s.press(nil, "250512-0900-02 files01 phase1")
		s.final()
	})
	for _, sz := range sizes {
		t.Run(fmt.Sprintf("wizard_%dx%d", sz[0], sz[1]), func(t *testing.T) {
			f := uitest.New()
			s := start(t, f, uitest.Operator, PageAuto, sz[0], sz[1], atPlan)
			if _, err := f.Start(t.Context(), choices, bob); err != nil {
				t.Fatal(err)
			}
			s.press(nil, "was started by bob: showing it.", "started by bob via ssh (delta sync)", "[x] Cancel")
			if m := s.golden(); m.Page() != PageMonitor {
				t.Errorf("page %v, want the monitor", m.Page())
			}
		})
	}
	t.Run("wizard_in_use", func(t *testing.T) {
		f := uitest.New()
		s := start(t, f, uitest.Operator, PageWizard, 80, 24, atPlan)
		s.press([]string{"enter"}, atDirection)
		if _, err := f.Start(t.Context(), choices, bob); err != nil {
			t.Fatal(err)
		}
		s.press(nil, "was started by bob; esc on the first step")
		if m := s.final(); m.Page() != PageWizard || m.WizardStep() != "Direction" {
			t.Errorf("a wizard in use was left: page %v step %q", m.Page(), m.WizardStep())
		}
	})
}

// Undo of a failback that created its VMs at an alternate location says
// they stay there, off, and offers Undo and remove (U).
func TestGoldenMonitorUndoCreatedVMs(t *testing.T) {
	for _, sz := range sizes {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			f := uitest.New()
			id := f.SeedPendingCommit()
			f.Update(id, func(j *workflow.JobView) {
				j.Choices.Location, j.Choices.AltHost, j.Choices.CreateVM = workflow.LocAlternate, "hv03.example.com", true
				j.VMs[0].Host = "hv03.example.com"
			})
			s := start(t, f, uitest.Operator, PageMonitor, sz[0], sz[1], "[U] Undo and remove created VMs")
			s.press([]string{"u"}, "there, off, with their disks")
			s.golden()
		})
	}
}

// A viewer is offered no action it cannot take, at both sizes: no new
// failback, no action keys, and the job's figures as an operator sees
// them.
func TestGoldenViewerOffersNothingItCannotDo(t *testing.T) {
	for _, sz := range sizes {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			f := uitest.New()
			readyJob(f)
			s := start(t, f, uitest.Viewer, PageMonitor, sz[0], sz[1], "Complete now: about")
			m := s.golden()
			if v := m.View(); strings.Contains(v, "new failback") || strings.Contains(v, "[c]") || !strings.Contains(v, "viewers cannot act") {
				t.Errorf("viewer:\n%s", v)
			}
		})
	}
}

// A job spread over several hosts shows each host's throughput (its
// mover's) while it moves, an idle host as idle.
func TestGoldenMonitorHostsThroughput(t *testing.T) {
	for _, sz := range sizes {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			f := uitest.New()
			id := f.SeedRunning()
			f.Update(id, func(j *workflow.JobView) {
				j.Hosts = []workflow.HostView{
					{Host: "hv01.example.com", Mover: true, Moving: 2, Rate: 180 << 20, TransferRate: 12 << 20},
					{Host: "hv02.example.com", Mover: true, Moving: 1, Rate: 95 << 20, TransferRate: 3 << 20},
					{Host: "hv03.example.com", Mover: true},
				}
			})
			s := start(t, f, uitest.Operator, PageMonitor, sz[0], sz[1], "hv03.example.co")
			s.golden()
		})
	}
}
