package workflow_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/failback/failback/config"
	"github.com/failback/failback/engine"
	"github.com/failback/failback/internal/testenv"
	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

// TestHelperDriveJob is not a test: run as a child process by
// TestKilledDriverResumesWithoutRedoingFinishedBlocks, it opens a Manager
// on the drill's config.toml, starts a job, prints its id and keeps
// driving it until it is killed.
func TestHelperDriveJob(t *testing.T) {
	if os.Getenv("FAILBACK_WF_HELPER") != "1" {
		return
	}
	cfg, err := config.Load(os.Getenv("FAILBACK_WF_CONFIG"))
	if err != nil {
		t.Fatal(err)
	}
	d, release, err := labtest.DepsFromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	m, err := workflow.Open(context.Background(), cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	id, err := m.Start(context.Background(), workflow.Choices{VM: "db", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncDelta}, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("JOB", id)
	time.Sleep(2 * time.Minute) // killed long before
}

// passRecord is the part of job.json this test reads.
type passRecord struct {
	N       int          `json:"n"`
	Kind    string       `json:"kind"`
	Done    bool         `json:"done"`
	Aborted bool         `json:"aborted"`
	Runs    int          `json:"runs"`
	Round   int          `json:"round"`
	Taken   time.Time    `json:"taken"`
	Stats   engine.Stats `json:"stats"`
}

func readPasses(t *testing.T, stateDir, id string) [][]passRecord {
	b, err := os.ReadFile(filepath.Join(stateDir, "jobs", id, "job.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		VMs []struct {
			Disks []struct {
				Passes []passRecord `json:"passes"`
			} `json:"disks"`
		} `json:"vms"`
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	var out [][]passRecord
	for _, d := range rec.VMs[0].Disks {
		out = append(out, d.Passes)
	}
	return out
}

func TestKilledDriverResumesWithoutRedoingFinishedBlocks(t *testing.T) {
	vm := labtest.VM{Name: "db", Disks: []int64{8 << 20, 8 << 20}}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}, Bandwidth: "2M", BlockSize: "64K"})
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDriveJob$")
	cmd.Env = append(os.Environ(), "FAILBACK_WF_HELPER=1", "FAILBACK_WF_CONFIG="+l.ConfigFile,
		"FAILBACK_TEST_AZURITE_PORT="+strconv.Itoa(testenv.AzuritePort(t)))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var id string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "JOB" {
			id = f[1]
			break
		}
	}
	if id == "" {
		t.Fatal("the child printed no job id")
	}
	go func() {
		for sc.Scan() { // drain
		}
	}()
	stateDir := l.Cfg.StateDir
	journal := l.JournalDir(id, "db", 0, 0) // on the host: its mover outlives the driver's kill

	labtest.WaitFor(t, "the child to finish some blocks of disk 0", jobTimeout, func() bool {
		info, err := engine.ReadJournal(journal)
		return err == nil && info.Watermark > 4 && !info.Finished
	})
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killedAt, err := engine.ReadJournal(journal)
	if err != nil {
		t.Fatal(err)
	}

	// A new driver, without the bandwidth cap, finds the job interrupted
	// and resumes it from the journals.
	l.Cfg.Engine.BandwidthLimit = config.Bytes(0)
	d := l.Deps()
	d.AutoResume = true
	m := l.Open(d)
	labtest.Wait(t, m, id, jobTimeout, workflow.StateReady)
	log := labtest.LogText(m, id)
	if !strings.Contains(log, "interrupted: the process driving this job ended while it was phase1") || !strings.Contains(log, "resumed after interruption") {
		t.Fatalf("interruption and resumption not in the log:\n%s", log)
	}
	p := readPasses(t, stateDir, id)[0][0]
	if !p.Done || p.Runs != 2 || !p.Stats.Resumed || p.Stats.ResumedBlocks < killedAt.Watermark {
		t.Fatalf("pass 0 of disk 0 after the resume: %+v (the killed run had finished %d blocks)", p, killedAt.Watermark)
	}
	if p.Stats.ResumedBlocks+p.Stats.BlocksChecked != p.Stats.Blocks {
		t.Fatalf("the resumed run checked %d blocks and skipped %d of %d: finished blocks were redone", p.Stats.BlocksChecked, p.Stats.ResumedBlocks, p.Stats.Blocks)
	}
	if err := m.Act(context.Background(), id, workflow.ActComplete, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	checkEqual(t, l, l.Image, vm)
}
