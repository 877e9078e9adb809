//go:build unix

package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/internal/testenv"
	"github.com/failback/failback/mover"
)

// TestMain doubles as the lab's Azure process: lab up starts this test
// binary (os.Executable) with 'lab vms --dir DIR', as it starts failback.
func TestMain(m *testing.M) {
	if mover.IsChild(os.Args) { // a lab host's mover, started by a driver here
		mover.RunChild()
	}
	if os.Getenv(idleWriterEnv) == "1" {
		// An Azure process by its command line that serves nothing (see
		// TestStatusSaysWhichVMWritersAreAlive); it waits to be killed.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		<-ctx.Done()
		os.Exit(0)
	}
	if len(os.Args) == 5 && os.Args[1] == "lab" && os.Args[2] == "vms" && os.Args[3] == "--dir" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := RunAzure(ctx, os.Args[4], os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	// Whatever the tests start dies with the test binary, even on a panic
	// or a timeout that skips the clean-ups.
	os.Setenv(tieEnv, "1")
	os.Exit(m.Run())
}

// needNode skips (fails in CI) without Node.js and npm, which Azurite needs.
func needNode(t *testing.T) {
	t.Helper()
	for _, p := range []string{"node", "npm"} {
		if _, err := exec.LookPath(p); err != nil {
			testenv.Missing(t, "Node.js and npm (for Azurite)")
		}
	}
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// smallLab is lab up with the smallest disks, in a test folder; the lab
// is taken down when the test ends.
func smallLab(t *testing.T, o Options) Options {
	t.Helper()
	needNode(t)
	if o.Dir == "" {
		o.Dir = filepath.Join(t.TempDir(), "lab")
	}
	o.VMs, o.DiskSize, o.Progress = MinVMs, MinDiskSize, logWriter{t}
	if o.WritesPerSecond == 0 {
		o.WritesPerSecond = 20
	}
	t.Cleanup(func() {
		if err := Down(context.Background(), o.Dir); err != nil {
			t.Errorf("clean-up: %v", err)
		}
	})
	return o
}

func waitUntil(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSecondUpReusesAHealthyLabAndReplacesABrokenOrFreshOne(t *testing.T) {
	ctx := context.Background()
	o := smallLab(t, Options{})
	m1, reused, err := Up(ctx, o)
	if err != nil || reused {
		t.Fatalf("first up: reused %v, %v", reused, err)
	}
	if st := Inspect(ctx, m1); !st.Healthy {
		t.Fatalf("a fresh lab is not healthy: %v", st.Problems)
	}
	m2, reused, err := Up(ctx, o)
	if err != nil || !reused || m2.Azurite.PID != m1.Azurite.PID || m2.Azure.PID != m1.Azure.PID {
		t.Fatalf("second up on a healthy lab: reused %v, pids %d/%d vs %d/%d, %v",
			reused, m2.Azurite.PID, m2.Azure.PID, m1.Azurite.PID, m1.Azure.PID, err)
	}

	// Azurite dies (a reboot, a kill): the lab is not healthy any more and
	// the next lab up replaces it, stopping the old writer too.
	if err := syscall.Kill(m1.Azurite.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "Azurite to die", 10*time.Second, func() bool { return !alive(m1.Azurite.PID) })
	if st := Inspect(ctx, m1); st.Healthy || !strings.Contains(strings.Join(st.Problems, ";"), "Azurite") {
		t.Fatalf("a lab without Azurite counts as healthy (problems %v)", st.Problems)
	}
	m3, reused, err := Up(ctx, o)
	if err != nil || reused {
		t.Fatalf("up on a broken lab: reused %v, %v", reused, err)
	}
	if m3.Azurite.PID == m1.Azurite.PID || alive(m1.Azure.PID) {
		t.Fatalf("the broken lab was not replaced: Azurite pid %d (was %d), old writer alive %v", m3.Azurite.PID, m1.Azurite.PID, alive(m1.Azure.PID))
	}
	if st := Inspect(ctx, m3); !st.Healthy {
		t.Fatalf("the replacement lab is not healthy: %v", st.Problems)
	}

	// --fresh replaces even a healthy lab.
	fresh := o
	fresh.Fresh = true
	m4, reused, err := Up(ctx, fresh)
	if err != nil || reused || m4.Azurite.PID == m3.Azurite.PID || alive(m3.Azurite.PID) || alive(m3.Azure.PID) {
		t.Fatalf("up --fresh: reused %v, Azurite pid %d (was %d), old processes alive %v/%v, %v",
			reused, m4.Azurite.PID, m3.Azurite.PID, alive(m3.Azurite.PID), alive(m3.Azure.PID), err)
	}
	m3 = m4

	// A lab of an older failback (lab.json version 1, which recorded its
	// process elsewhere): replaced, its processes found by their command
	// lines and stopped.
	older := *m4
	older.Version, older.Azure = 1, Proc{}
	if err := older.write(); err != nil {
		t.Fatal(err)
	}
	m5, reused, err := Up(ctx, o)
	if err != nil || reused || alive(m4.Azure.PID) || alive(m4.Azurite.PID) || m5.Version != manifestVersion {
		t.Fatalf("up on an older lab: reused %v, old processes alive %v/%v, version %d, %v",
			reused, alive(m4.Azurite.PID), alive(m4.Azure.PID), m5.Version, err)
	}
	m3 = m5

	if err := Down(ctx, o.Dir); err != nil {
		t.Fatal(err)
	}
	for _, p := range []int{m3.Azurite.PID, m3.Azure.PID} {
		if alive(p) {
			t.Fatalf("process %d still runs after lab down", p)
		}
	}
	if _, err := os.Stat(o.Dir); !os.IsNotExist(err) {
		t.Fatalf("the lab folder is still there after lab down (%v)", err)
	}
}

// TestAzureProcessRestartsOnItsPortsAndServesOnAfterEveryVMIsDeleted: the
// lab's Azure process, killed and started again, serves on the ports
// lab.json records (config.toml stays right) and its writers resume; once
// every VM is deleted through ARM (a committed drill) its writers stop but
// the ARM endpoint and the blob front keep serving, and the lab is healthy.
func TestAzureProcessRestartsOnItsPortsAndServesOnAfterEveryVMIsDeleted(t *testing.T) {
	ctx := context.Background()
	o := smallLab(t, Options{})
	m, _, err := Up(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(m.Azure.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the Azure process to die", 10*time.Second, func() bool { return !alive(m.Azure.PID) })
	st := Inspect(ctx, m)
	if st.Healthy || !strings.Contains(strings.Join(st.Problems, "\n"), "Azure process") {
		t.Fatalf("a lab without its Azure process: healthy %v, problems %v", st.Healthy, st.Problems)
	}
	old := m.Azure.PID
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if m.Azure.PID, err = startDetached(append([]string{exe}, azureArgs(m.Dir)...), os.Environ(), m.Path(m.Azure.Log)); err != nil {
		t.Fatal(err)
	}
	if err := m.write(); err != nil {
		t.Fatal(err)
	}
	if err := waitAzure(ctx, m, 20*time.Second); err != nil {
		t.Fatalf("the restarted Azure process (was pid %d) on ports %d/%d: %v", old, m.FrontPort, m.ARMPort, err)
	}
	lc, err := azure.NewLabCompute(m.Path(m.ComputeDir), azure.LabOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := waitWriters(ctx, m, lc, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if st := Inspect(ctx, m); !st.Healthy || st.Azure.ARMVMs != len(m.VMs) {
		t.Fatalf("after the restart: healthy %v, ARM lists %d VMs; problems %v", st.Healthy, st.Azure.ARMVMs, st.Problems)
	}

	vms, err := armVMs(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range m.VMs {
		p, err := vms.BeginDelete(ctx, m.ResourceGroup, v.Name, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.PollUntilDone(ctx, nil); err != nil {
			t.Fatalf("delete %s through ARM: %v", v.Name, err)
		}
	}
	waitUntil(t, "every writer to stop", 15*time.Second, func() bool {
		for _, v := range m.VMs {
			if live, _ := lc.WriterAlive(v.Name); live {
				return false
			}
		}
		return true
	})
	st = Inspect(ctx, m)
	if !st.Healthy || !st.Azure.Running || !st.Azure.FrontAnswering || !st.Azure.ARMAnswering || st.Azure.ARMVMs != 0 {
		t.Fatalf("a committed lab: healthy %v, Azure %+v; problems %v", st.Healthy, st.Azure, st.Problems)
	}
	for _, v := range st.VMs {
		if v.Power != "deleted" {
			t.Fatalf("VM %s is %s after it was deleted", v.Name, v.Power)
		}
	}
	var out bytes.Buffer
	st.Print(&out)
	if !strings.Contains(out.String(), "lab up --fresh") || !strings.Contains(out.String(), "0 VMs in "+ResourceGroup) {
		t.Fatalf("status of a committed lab:\n%s", out.String())
	}
}

func TestUpRefusesAFolderThatIsNotALab(t *testing.T) {
	dir := t.TempDir()
	mine := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(mine, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Up(context.Background(), Options{Dir: dir, Progress: logWriter{t}}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("lab up in a folder holding other files: %v", err)
	}
	if err := Down(context.Background(), dir); err == nil {
		t.Fatal("lab down accepted a folder that holds no lab")
	}
	if b, err := os.ReadFile(mine); err != nil || string(b) != "keep me" {
		t.Fatalf("a file in the folder was touched: %q, %v", b, err)
	}
}

func TestFailedUpLeavesNothingRunning(t *testing.T) {
	o := smallLab(t, Options{Exe: "/nonexistent/failback"})
	_, _, err := Up(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/failback") {
		t.Fatalf("lab up with a writer program that does not exist: %v", err)
	}
	if _, err := os.Stat(o.Dir); !os.IsNotExist(err) {
		t.Fatalf("a failed lab up left its folder (%v)", err)
	}
	if pids := findProcesses(isAzurite(filepath.Join(o.Dir, "azurite"))); len(pids) > 0 {
		t.Fatalf("a failed lab up left Azurite running: pids %v", pids)
	}
}

func TestDownStopsADamagedLab(t *testing.T) {
	ctx := context.Background()
	o := smallLab(t, Options{})
	m, _, err := Up(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	// lab.json lost (a full disk, an editor): the pids are unknown.
	if err := os.WriteFile(filepath.Join(o.Dir, ManifestFile), []byte("{\"ver"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadManifest(o.Dir); !errors.Is(err, ErrDamaged) {
		t.Fatalf("reading a damaged lab.json: %v", err)
	}
	if err := Down(ctx, o.Dir); err != nil {
		t.Fatal(err)
	}
	for _, p := range []int{m.Azurite.PID, m.Azure.PID} {
		if alive(p) {
			t.Fatalf("process %d of a lab with a damaged lab.json survived lab down", p)
		}
	}
	if _, err := os.Stat(o.Dir); !os.IsNotExist(err) {
		t.Fatalf("the damaged lab's folder survived lab down (%v)", err)
	}
}
