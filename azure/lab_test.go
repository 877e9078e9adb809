package azure

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/failback/failback/internal/testenv"
)

// TestLabWriterHelperProcess is not a test: run by the lab test as a
// separate process, it is the lab VM's writer, so the test proves that
// separate processes agree through the state files.
func TestLabWriterHelperProcess(t *testing.T) {
	if os.Getenv("FAILBACK_LAB_WRITER") != "1" {
		return // only as TestLabVMWritesWhileRunningAndFreezesAfterPowerOff's child
	}
	s, err := NewStorage(StorageOptions{ConnectionString: NewSecret(os.Getenv("FAILBACK_LAB_CONN")), RetryDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	lc, err := NewLabCompute(os.Getenv("FAILBACK_LAB_DIR"), LabOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err = RunLabVM(ctx, s, lc, os.Getenv("FAILBACK_LAB_VM"), LabWriterOptions{WritesPerSecond: 200, Seed: 1, Poll: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// snapshotContent snapshots a disk and returns its allocated ranges and
// their bytes.
func snapshotContent(t *testing.T, d *Disk) ([]byte, string) {
	t.Helper()
	ctx := context.Background()
	sn, err := d.CreateSnapshot(ctx, SnapshotOptions{Purpose: "labtest"})
	if err != nil {
		t.Fatal(err)
	}
	src, err := d.OpenSnapshot(ctx, sn.ID)
	if err != nil {
		t.Fatal(err)
	}
	alloc, err := src.Allocated(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var content []byte
	for _, e := range alloc {
		p := make([]byte, e.Len)
		if err := src.ReadAt(ctx, p, e.Off); err != nil {
			t.Fatal(err)
		}
		content = append(content, p...)
	}
	return content, fmt.Sprint(alloc)
}

func TestLabVMWritesWhileRunningAndFreezesAfterPowerOff(t *testing.T) {
	ctx := context.Background()
	s, _, c := newTestStorage(t)
	var disks []LabDisk
	var dd []*Disk
	for _, name := range []string{"lab-os.vhd", "lab-data.vhd"} {
		d, err := s.CreateDisk(ctx, c, name, 32*mib, CreateDiskOptions{})
		if err != nil {
			t.Fatal(err)
		}
		disks = append(disks, LabDisk{Container: c, Blob: name})
		dd = append(dd, d)
	}
	dir := t.TempDir()
	console, err := NewLabCompute(dir, LabOptions{AckTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := console.CreateVM(ctx, "vm1", disks); err != nil {
		t.Fatal(err)
	}

	// The VM's writer runs in another process.
	cmd := exec.Command(os.Args[0], "-test.run=^TestLabWriterHelperProcess$", "-test.v")
	cmd.Env = append(os.Environ(), "FAILBACK_LAB_WRITER=1", "FAILBACK_LAB_DIR="+dir, "FAILBACK_LAB_VM=vm1",
		"FAILBACK_LAB_CONN="+testenv.AzuriteConnectionString(t),
		"FAILBACK_TEST_AZURITE_PORT="+strconv.Itoa(testenv.AzuritePort(t)))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	// A second instance on the same folder: another process's view.
	other, err := NewLabCompute(dir, LabOptions{})
	if err != nil {
		t.Fatal(err)
	}
	status := func() LabWriterStatus {
		ws, err := other.WriterStatus(ctx, "vm1")
		if err != nil {
			t.Fatal(err)
		}
		return ws
	}
	waitFor(t, "the lab VM to write", func() bool { return status().Writes >= 20 })
	if st, _ := other.State(ctx, "vm1"); st != PowerRunning {
		t.Fatalf("state %v", st)
	}

	if err := other.PowerOff(ctx, "vm1"); err != nil {
		t.Fatal(err)
	}
	ws := status()
	if ws.Writing || ws.Writes == 0 || ws.LastWrite.IsZero() || len(ws.Leases) != 2 {
		t.Fatalf("after PowerOff the writer reports %+v", ws)
	}
	if st, _ := console.State(ctx, "vm1"); st != PowerStopped {
		t.Fatalf("the console sees %v after another instance powered off", st)
	}
	// Frozen: two snapshots apart in time hold the same content.
	for _, d := range dd {
		a, aAlloc := snapshotContent(t, d)
		time.Sleep(200 * time.Millisecond) // 40 writes' worth at the VM's rate
		b, bAlloc := snapshotContent(t, d)
		if aAlloc != bAlloc || !bytes.Equal(a, b) {
			t.Fatalf("%s changed after PowerOff", d.Name())
		}
		if len(a) == 0 {
			t.Fatalf("%s: the VM never wrote to it", d.Name())
		}
	}
	if n := status().Writes; n != ws.Writes {
		t.Fatalf("writes went on after PowerOff: %d -> %d", ws.Writes, n)
	}

	// Started again, it writes again.
	if err := console.Start(ctx, "vm1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "writes to resume", func() bool { return status().Writes > ws.Writes })

	// Deleted: the writer exits; the disks stay, and so do their leases.
	if err := console.Delete(ctx, "vm1"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Fatalf("writer process: %v\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the writer did not exit after its VM was deleted")
	}
	if _, err := other.State(ctx, "vm1"); !errors.Is(err, ErrVMNotFound) {
		t.Fatalf("state of a deleted VM: %v", err)
	}
	if err := s.DeleteDisk(ctx, c, "lab-os.vhd", false); !errors.Is(err, ErrLeased) {
		t.Fatalf("the deleted VM's lease should linger: %v", err)
	}
	if err := s.DeleteDisk(ctx, c, "lab-os.vhd", true); err != nil {
		t.Fatal(err)
	}
}

func TestLabWriterDefaultsFitTheDisk(t *testing.T) {
	o := LabWriterOptions{}.withDefaults(100 << 20)
	want := LabWriterOptions{WritesPerSecond: 20, MinWrite: 4096, MaxWrite: 64 << 10, HotSize: 10 << 20, NewRegion: 0.05, Poll: 20 * time.Millisecond}
	if !reflect.DeepEqual(o, want) {
		t.Fatalf("%+v", o)
	}
	o = LabWriterOptions{MinWrite: 5000, MaxWrite: 1, HotStart: 1 << 40}.withDefaults(mib)
	if o.MinWrite != 8192 || o.MaxWrite != 64<<10 || o.HotStart != 0 || o.HotSize != 100<<10 {
		t.Fatalf("%+v", o)
	}
}

// A lab VM's trim clears its range: it reads as zeros and is no longer
// allocated, as a guest's TRIM does on an Azure disk.
func TestLabWriterTrimClearsPages(t *testing.T) {
	s, _, c := newTestStorage(t)
	ctx := context.Background()
	d, err := s.CreateDisk(ctx, c, "trim.vhd", mib, CreateDiskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := d.OpenTarget(ctx)
	if err != nil {
		t.Fatal(err)
	}
	full := bytes.Repeat([]byte{7}, mib)
	if err := tg.WriteAt(ctx, full, 0); err != nil {
		t.Fatal(err)
	}
	w := &labDiskW{tg: tg, opts: LabWriterOptions{Trim: 1, MinWrite: 64 << 10, MaxWrite: 64 << 10}.withDefaults(mib)}
	rng := rand.New(rand.NewPCG(1, 2))
	n, trimmed, err := w.writeOne(ctx, rng)
	if err != nil || !trimmed || n != 64<<10 {
		t.Fatalf("writeOne = %d, %v, %v; want a 64 KiB trim", n, trimmed, err)
	}
	got := make([]byte, mib)
	if err := tg.ReadAt(ctx, got, 0); err != nil {
		t.Fatal(err)
	}
	zeros := bytes.Count(got, []byte{0})
	if zeros != 64<<10 {
		t.Fatalf("%d bytes read as zeros after a 64 KiB trim", zeros)
	}
	alloc, err := listPageRanges(ctx, d.pb, "", "", mib, 0) // exact, unlike Allocated
	if err != nil {
		t.Fatal(err)
	}
	var listed int64
	for _, e := range alloc {
		listed += e.Len
	}
	if listed != mib-64<<10 {
		t.Fatalf("the trimmed range is still allocated: %v", alloc)
	}
}
