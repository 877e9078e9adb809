package azure

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/failback/failback/internal/osfile"
)

// holdWriterLock plays a live writer of vm: it holds the lock a running
// RunLabVM holds, until the returned func is called.
func holdWriterLock(t *testing.T, dir, vm string) (release func()) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, vm+".writer.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := osfile.Lock(f, true, false); err != nil {
		t.Fatal(err)
	}
	var once atomic.Bool
	release = func() {
		if once.CompareAndSwap(false, true) {
			f.Close()
		}
	}
	t.Cleanup(release)
	return release
}

// A status file left by a writer of an earlier VM of the same name (a
// higher generation, not writing) must not stand in for the acknowledgement
// of the writer that runs now: PowerOff waits for the live one, and fails
// if it never answers.
func TestPowerOffIgnoresAStaleAcknowledgement(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	lc, err := NewLabCompute(dir, LabOptions{AckTimeout: 300 * time.Millisecond, Poll: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := lc.CreateVM(ctx, "vm1", nil); err != nil {
		t.Fatal(err)
	}
	// The earlier incarnation's writer said "stopped" at generation 100.
	if err := lc.writeStatus("vm1", LabWriterStatus{PID: 1, Generation: 100, Heartbeat: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	release := holdWriterLock(t, dir, "vm1") // the new writer, busy writing
	err = lc.PowerOff(ctx, "vm1")
	if err == nil || !strings.Contains(err.Error(), "did not confirm") {
		t.Fatalf("PowerOff took a stale file for the live writer's acknowledgement: %v", err)
	}
	// The writer exits (its lock goes with it): nothing can write any more.
	release()
	if err := lc.PowerOff(ctx, "vm1"); err != nil {
		t.Fatalf("PowerOff after the writer exited: %v", err)
	}
	if st, _ := lc.State(ctx, "vm1"); st != PowerStopped {
		t.Fatalf("state %v", st)
	}
}

// A live writer whose last heartbeat is old (a write stuck in retries) is
// still writing: PowerOff returns only once it acknowledges.
func TestPowerOffWaitsForASlowWriter(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	lc, err := NewLabCompute(dir, LabOptions{AckTimeout: 10 * time.Second, Poll: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := lc.CreateVM(ctx, "vm1", nil); err != nil {
		t.Fatal(err)
	}
	st, _ := lc.Read(ctx, "vm1")
	holdWriterLock(t, dir, "vm1")
	old := time.Now().Add(-time.Minute).UTC()
	if err := lc.writeStatus("vm1", LabWriterStatus{Instance: st.Instance, Generation: st.Generation, Writing: true, Heartbeat: old}); err != nil {
		t.Fatal(err)
	}
	var acked atomic.Bool
	go func() {
		// The slow write ends; the writer sees the stopping state and says so.
		time.Sleep(300 * time.Millisecond)
		cur, _ := lc.Read(ctx, "vm1")
		acked.Store(true)
		_ = lc.writeStatus("vm1", LabWriterStatus{Instance: cur.Instance, Generation: cur.Generation, Heartbeat: time.Now().UTC()})
	}()
	if err := lc.PowerOff(ctx, "vm1"); err != nil {
		t.Fatal(err)
	}
	if !acked.Load() {
		t.Fatal("PowerOff returned while the writer was still in a write")
	}
}

// One writer per VM: a second RunLabVM for the same VM refuses to start
// (two would write at once and acknowledge for each other).
func TestSecondWriterForOneVMIsRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	lc, err := NewLabCompute(dir, LabOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := lc.CreateVM(ctx, "vm1", nil); err != nil {
		t.Fatal(err)
	}
	holdWriterLock(t, dir, "vm1")
	err = RunLabVM(ctx, nil, lc, "vm1", LabWriterOptions{})
	if !errors.Is(err, errWriterRunning) {
		t.Fatalf("second writer: %v", err)
	}
}

// A VM deleted and created again gets a new instance id, so nothing of
// the old one's writer status can acknowledge for it.
func TestRecreatedVMHasANewInstance(t *testing.T) {
	ctx := context.Background()
	lc, err := NewLabCompute(t.TempDir(), LabOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := lc.CreateVM(ctx, "vm1", nil); err != nil {
		t.Fatal(err)
	}
	a, _ := lc.Read(ctx, "vm1")
	if err := lc.Delete(ctx, "vm1"); err != nil {
		t.Fatal(err)
	}
	if err := lc.CreateVM(ctx, "vm1", nil); err != nil {
		t.Fatal(err)
	}
	b, _ := lc.Read(ctx, "vm1")
	if a.Instance == "" || a.Instance == b.Instance {
		t.Fatalf("instances %q and %q", a.Instance, b.Instance)
	}
}

// TestWriterAliveFollowsTheLock: a VM's writer is alive exactly while its
// lock is held, whatever its status file says.
func TestWriterAliveFollowsTheLock(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	lc, err := NewLabCompute(dir, LabOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := lc.CreateVM(ctx, "vm1", nil); err != nil {
		t.Fatal(err)
	}
	if err := lc.writeStatus("vm1", LabWriterStatus{PID: 1, Generation: 1, Writing: true, Heartbeat: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	if alive, err := lc.WriterAlive("vm1"); alive || err != nil {
		t.Fatalf("no lock file yet: alive %v, %v", alive, err)
	}
	release := holdWriterLock(t, dir, "vm1")
	if alive, err := lc.WriterAlive("vm1"); !alive || err != nil {
		t.Fatalf("lock held: alive %v, %v", alive, err)
	}
	release()
	if alive, err := lc.WriterAlive("vm1"); alive || err != nil {
		t.Fatalf("lock released, status file still says writing: alive %v, %v", alive, err)
	}
	if _, err := lc.WriterAlive("../vm1"); err == nil {
		t.Fatal("a VM name with a path was accepted")
	}
}
