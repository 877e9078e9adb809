package workflow_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/failback/failback/engine"
	"github.com/failback/failback/mover"
	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

// readChars is what this process has read so far through read(2) and
// its kin, sockets and pipes included (/proc/self/io rchar).
func readChars(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/io")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "rchar: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no rchar in /proc/self/io")
	return 0
}

// movedBytes adds up what every pass of a job read from Azure and wrote
// on premises, from its record.
func movedBytes(t *testing.T, stateDir, id string) (read, written int64) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(stateDir, "jobs", id, "job.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		VMs []struct {
			Mover bool `json:"mover"`
			Disks []struct {
				Passes []struct {
					Stats engine.Stats `json:"stats"`
				} `json:"passes"`
			} `json:"disks"`
		} `json:"vms"`
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	for _, vm := range rec.VMs {
		if !vm.Mover {
			t.Fatal("the job did not record that the host's mover writes its disks")
		}
		for _, d := range vm.Disks {
			for _, p := range d.Passes {
				read += p.Stats.BytesReadSource
				written += p.Stats.BytesWritten
			}
		}
	}
	return read, written
}

// TestDrillThroughMoversKeepsDiskBytesOffTheDriver: the drill as
// config.toml wires it (each lab host's mover a child process, speaking
// the mover protocol) fails a plan back while its Azure VMs write: the
// on-premises disks equal Azure byte for byte, and this process (the
// driver) read a small fraction of what the movers read from Azure and
// wrote, counted by the kernel (every read of a socket, a pipe or a
// file).
func TestDrillThroughMoversKeepsDiskBytesOffTheDriver(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts the driver's reads with /proc/self/io (Linux)")
	}
	o := twoVMPlan()
	o.VMs[0].Disks = []int64{24 << 20, 16 << 20}
	o.VMs[1].Disks = []int64{24 << 20}
	l := labtest.New(t, o)
	l.StartWriters(50)
	m := l.OpenConfigured()
	ctx := context.Background()
	before := readChars(t)
	id, err := m.Start(ctx, delta("app"), labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateReady)
	if err := m.Act(ctx, id, workflow.ActComplete, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	driver := readChars(t) - before
	read, written := movedBytes(t, l.Cfg.StateDir, id)
	t.Logf("the movers read %d bytes from Azure and wrote %d on premises; the driver read %d", read, written, driver)
	if read < 64<<20 {
		t.Fatalf("the movers read %d bytes: the passes did not compare the disks", read)
	}
	if driver*10 > read {
		t.Fatalf("the driver read %d bytes while the movers read %d: disk bytes crossed the driver", driver, read)
	}
	checkEqual(t, l, l.Image, o.VMs...)
	if _, err := os.Stat(filepath.Join(l.Cfg.Host("hv01").MoverStateDir(), "jobs", id)); err != nil {
		t.Fatalf("no journals in the host's mover state folder: %v", err)
	}
}

// TestShareHostsStillWriteFromTheDriver: hosts with data_path = "share"
// are written by the driver through their path (the journals in the
// state folder, nothing in the hosts' mover state folders): a plan synced
// there and cancelled is restored byte for byte, and one completed there
// equals Azure.
func TestShareHostsStillWriteFromTheDriver(t *testing.T) {
	o := twoVMPlan()
	o.Share = true
	l := labtest.New(t, o)
	l.StartWriters(100)
	before := hashes(t, l, o.VMs...)
	m := l.Open(l.Deps())
	ctx := context.Background()
	id, err := m.Start(ctx, delta("app"), labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateReady)
	if _, err := os.Stat(filepath.Join(l.Cfg.StateDir, "jobs", id, "disks", "db", "0", "pass-0")); err != nil {
		t.Fatalf("the share's journal is not in the state folder: %v", err)
	}
	if _, err := os.Stat(l.Cfg.Host("hv01").MoverStateDir()); !os.IsNotExist(err) {
		t.Fatalf("a mover state folder exists on a share host: %v", err)
	}
	if err := m.Act(ctx, id, workflow.ActCancel, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateCancelled)
	checkRestored(t, l, m, id, before, o.VMs...)

	id, err = m.Start(ctx, delta("app"), labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateReady)
	if err := m.Act(ctx, id, workflow.ActComplete, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	checkEqual(t, l, l.Image, o.VMs...)
}

// TestLostMoverSessionLosesNoWork: the host's mover session drops in the
// middle of phase 1; the job stops failed, saying the host's journals are
// intact and to resume; resumed, it starts a new mover, which continues
// the pass from the host's journal (finished blocks not redone), and the
// failback completes equal to Azure.
func TestLostMoverSessionLosesNoWork(t *testing.T) {
	vm := labtest.VM{Name: "db", Disks: []int64{4 << 20}}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}, Bandwidth: "2M", BlockSize: "64K"})
	m := l.Open(l.Deps())
	ctx := context.Background()
	id, err := m.Start(ctx, workflow.Choices{VM: "db", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncDelta}, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.WaitFor(t, "phase 1 to finish some blocks", jobTimeout, func() bool {
		info, err := engine.ReadJournal(l.JournalDir(id, "db", 0, 0))
		return err == nil && info.Watermark > 8 && !info.Finished
	})
	l.Movers["hv01"].Drop()
	v := labtest.Wait(t, m, id, jobTimeout, workflow.StateFailed)
	if !strings.Contains(v.Error, "session ended") || !strings.Contains(v.Error, "journals are intact") {
		t.Fatalf("failed with %q", v.Error)
	}
	if err := m.Act(ctx, id, workflow.ActResume, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StateReady)
	if n := l.Movers["hv01"].Started(); n != 2 {
		t.Fatalf("%d mover sessions, want 2 (the lost one and its successor)", n)
	}
	p := readPasses(t, l.Cfg.StateDir, id)[0][0]
	if !p.Done || p.Runs != 2 || !p.Stats.Resumed || p.Stats.ResumedBlocks == 0 {
		t.Fatalf("pass 0 after the resume: %+v", p)
	}
	if err := m.Act(ctx, id, workflow.ActComplete, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	checkEqual(t, l, l.Image, vm)
}

// refusing is a network that lets nothing through to the storage account.
type refusing struct{}

func (refusing) Do(req *http.Request) (*http.Response, error) {
	return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
}

// TestPreflightRefusesAHostThatCannotReachAzure: the pre-flight has each
// host's mover say what it is, then read a disk's properties from the
// host; a host whose network does not let it reach the storage account
// is refused before anything moves, saying what to open.
func TestPreflightRefusesAHostThatCannotReachAzure(t *testing.T) {
	vm := labtest.VM{Name: "web", Disks: []int64{4 << 20}}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}})
	d := l.Deps()
	m := l.Open(d)
	c := workflow.Choices{VM: "web", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncDelta}
	rep, err := m.Preflight(context.Background(), c)
	if err != nil || !rep.OK {
		t.Fatalf("pre-flight: %v %+v", err, rep)
	}
	if rows := rowsLike(rep, "mover on hv01"); len(rows) != 1 || !rows[0].OK || !strings.Contains(rows[0].Detail, "journals in "+l.Cfg.Host("hv01").MoverStateDir()) {
		t.Fatalf("mover rows %+v", rows)
	}
	if rows := rowsLike(rep, "Azure storage from hv01"); len(rows) != 1 || !rows[0].OK {
		t.Fatalf("reach rows %+v", rows)
	}

	d = l.Deps()
	d.Movers["hv01"] = mover.NewClient(mover.Pipe(mover.ServerOptions{StateDir: l.Cfg.Host("hv01").MoverStateDir(), Transport: refusing{}}),
		mover.ClientOptions{Host: "hv01"})
	m.Close()
	m = l.Open(d)
	rep, err = m.Preflight(context.Background(), c)
	if err != nil || rep.OK {
		t.Fatalf("pre-flight of a host cut off from Azure: %v, OK %v", err, rep.OK)
	}
	rows := rowsLike(rep, "Azure storage from hv01")
	if len(rows) != 1 || rows[0].OK || !strings.Contains(rows[0].Fix, "firewall") {
		t.Fatalf("reach rows %+v", rows)
	}
	refusedAndUntouched(t, m, c, l.Image("web", 0))
}

// TestPlanOverTwoHostsMovesOnBoth: a plan whose VMs are on two hosts
// moves on both at once, each through its own mover (one session each),
// never more disks on a host than its max_disks, although the job could
// take two on one; the job's view shows each host's throughput while
// they move; the disks end equal to Azure.
func TestPlanOverTwoHostsMovesOnBoth(t *testing.T) {
	o := labtest.Options{
		VMs:      []labtest.VM{{Name: "db", Disks: []int64{2 << 20, 2 << 20}}, {Name: "web", Disks: []int64{2 << 20, 2 << 20}, Host: "hv02"}},
		AltHosts: []string{"hv02"}, Plans: map[string][][]string{"app": {{"db", "web"}}},
		Bandwidth: "2M", BlockSize: "64K", MaxDisks: 1,
	}
	l := labtest.New(t, o)
	m := l.Open(l.Deps())
	ctx := context.Background()
	id, err := m.Start(ctx, delta("app"), labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	labtest.WaitFor(t, "both hosts to move", jobTimeout, func() bool {
		v, _ := m.Job(id)
		moving := 0
		for _, h := range v.Hosts {
			if h.Moving > 1 {
				t.Fatalf("%s moves %d disks at once, max_disks = 1", h.Host, h.Moving)
			}
			if h.Mover && h.Moving == 1 && h.Rate > 0 {
				moving++
			}
		}
		return moving == 2
	})
	labtest.Wait(t, m, id, jobTimeout, workflow.StateReady)
	if a, b := l.Movers["hv01"].Started(), l.Movers["hv02"].Started(); a != 1 || b != 1 {
		t.Fatalf("mover sessions: hv01 %d, hv02 %d; want one each", a, b)
	}
	if err := m.Act(ctx, id, workflow.ActComplete, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	checkEqual(t, l, l.Image, o.VMs...)
}
