package mover

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/failback/failback/engine"
)

var key = DiskKey{Job: "j1", VM: "web01", Disk: 0}

// TestSyncOnTheHostRollsBackAndTheDriverReadsNothing: a delta pass run
// through the mover makes the image equal the snapshot, writing only the
// blocks that differed, with its journal in the host's state folder;
// the driver's HTTP client received no disk byte; rolling the pass back
// gives the image its old bytes again, and discarding leaves nothing.
func TestSyncOnTheHostRollsBackAndTheDriverReadsNothing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 8*mib, []int64{1, 5})
	c := NewClient(Pipe(ServerOptions{StateDir: f.state}), ClientOptions{Host: "hv01"})
	defer c.Close()
	snap, release := f.snapshot()
	defer release()
	var samples atomic.Int64
	st, err := c.Sync(ctx, key, 0, ImageRef{Path: f.image}, snap, SyncOptions{Mode: engine.Delta, BlockSize: mib, SourceID: snap.Name, TargetID: f.image, Verify: true},
		func(engine.Progress) { samples.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	if st.BlocksDiffered != 2 || !st.Verified || st.BytesReadSource < 8*mib {
		t.Fatalf("stats: %+v", st)
	}
	if !bytes.Equal(f.imageBytes(), f.want) {
		t.Fatal("the image does not hold the snapshot's bytes")
	}
	if samples.Load() == 0 {
		t.Error("no progress crossed")
	}
	if n := f.http.bytes.Load(); n > 4096 {
		t.Errorf("the driver received %d bytes of blob data; the mover should have read them", n)
	}
	dir, _ := NewLocal(f.state).PassDir(key, 0)
	if info, err := engine.ReadJournal(dir); err != nil || info.UndoBytes != 2*mib {
		t.Fatalf("the host's journal: %+v, %v", info, err)
	}
	got, err := c.Journals(ctx, key, []int{0, 1})
	if err != nil || len(got) != 1 || got[0] != 0 {
		t.Fatalf("journals: %v, %v", got, err)
	}

	rb, err := c.Rollback(ctx, key, 0, ImageRef{Path: f.image}, f.image, nil)
	if err != nil || rb.Blocks != 2 {
		t.Fatalf("rollback: %+v, %v", rb, err)
	}
	if !bytes.Equal(f.imageBytes(), f.old) {
		t.Fatal("the rollback did not give the image its old bytes back")
	}
	if _, err := c.Rollback(ctx, key, 0, ImageRef{Path: f.image}, f.image, nil); !errors.Is(err, engine.ErrNoJournal) {
		t.Fatalf("a second rollback: %v, want ErrNoJournal across the wire", err)
	}
	if err := c.Discard(ctx, key, []int{0}); err != nil {
		t.Fatal(err)
	}
	if err := c.Forget(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(f.state + "/jobs/j1"); !os.IsNotExist(err) {
		t.Errorf("the job's folder stays on the host: %v", err)
	}
}

// TestDroppedSessionResumesFromTheHostJournal: the session drops in the
// middle of a pass; the call fails with ErrLost saying the journals are
// intact, the next call starts a new mover, which resumes the pass from
// the host's journal (not from the start) and ends with the snapshot's
// bytes.
func TestDroppedSessionResumesFromTheHostJournal(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 16*mib, []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	tr := Pipe(ServerOptions{StateDir: f.state})
	c := NewClient(tr, ClientOptions{Host: "hv01"})
	defer c.Close()
	snap, release := f.snapshot()
	defer release()
	o := SyncOptions{Mode: engine.Full, BlockSize: mib, Threads: 1, SourceID: snap.Name, TargetID: f.image, BandwidthLimit: 4 * mib}
	dropped := make(chan struct{})
	var once atomic.Bool
	_, err := c.Sync(ctx, key, 0, ImageRef{Path: f.image}, snap, o, func(p engine.Progress) {
		if p.BlocksChecked >= 4 && once.CompareAndSwap(false, true) {
			go func() { tr.Drop(); close(dropped) }()
		}
	})
	if !errors.Is(err, ErrLost) || !strings.Contains(err.Error(), "journals are intact") {
		t.Fatalf("a dropped session: %v, want ErrLost", err)
	}
	<-dropped
	o.BandwidthLimit = 0
	st, err := c.Sync(ctx, key, 0, ImageRef{Path: f.image}, snap, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Resumed || st.ResumedBlocks == 0 || tr.Started() != 2 {
		t.Fatalf("resumed %v (%d blocks) over %d sessions", st.Resumed, st.ResumedBlocks, tr.Started())
	}
	if !bytes.Equal(f.imageBytes(), f.want) {
		t.Fatal("after the resume the image does not hold the snapshot's bytes")
	}
	if _, err := c.Rollback(ctx, key, 0, ImageRef{Path: f.image}, f.image, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.imageBytes(), f.old) {
		t.Fatal("the rollback after a resume did not restore the old bytes")
	}
}

// TestCancelStopsTheCallOnTheHost: cancelling a call returns once the
// mover has stopped it there, so its locks are free for what comes next
// (a rollback at once).
func TestCancelStopsTheCallOnTheHost(t *testing.T) {
	f := newFixture(t, 16*mib, []int64{3})
	c := NewClient(Pipe(ServerOptions{StateDir: f.state}), ClientOptions{Host: "hv01"})
	defer c.Close()
	snap, release := f.snapshot()
	defer release()
	ctx, cancel := context.WithCancel(context.Background())
	o := SyncOptions{Mode: engine.Full, BlockSize: mib, Threads: 1, SourceID: snap.Name, TargetID: f.image, BandwidthLimit: 2 * mib}
	_, err := c.Sync(ctx, key, 0, ImageRef{Path: f.image}, snap, o, func(p engine.Progress) {
		if p.BlocksChecked >= 2 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled sync: %v", err)
	}
	busyWait = 0 // a lock still held would fail now, not wait
	defer func() { busyWait = 30 * time.Second }()
	if _, err := c.Rollback(context.Background(), key, 0, ImageRef{Path: f.image}, f.image, nil); err != nil {
		t.Fatalf("rollback right after the cancel: %v", err)
	}
	if !bytes.Equal(f.imageBytes(), f.old) {
		t.Fatal("the image is not as before the cancelled pass")
	}
}

// fakeTransport is a "mover" that prints what a broken install prints.
type fakeTransport struct{ out string }

func (t fakeTransport) Describe() string { return "fake" }
func (t fakeTransport) Start(context.Context) (Session, error) {
	return &fakeSession{r: strings.NewReader(t.out)}, nil
}

type fakeSession struct{ r io.Reader }

func (s *fakeSession) Read(p []byte) (int, error)  { return s.r.Read(p) }
func (s *fakeSession) Write(p []byte) (int, error) { return len(p), nil }
func (s *fakeSession) Close() error                { return nil }
func (s *fakeSession) Stderr() string              { return "" }

// TestAWrongMoverIsRefusedWithTheFix: a missing mover (the shell's
// complaint), one speaking another protocol, and one of another build
// are refused before any call, each with the command that installs the
// right one.
func TestAWrongMoverIsRefusedWithTheFix(t *testing.T) {
	fix := "failback mover install --host hv01"
	ctx := context.Background()
	notFound := "'C:\\failback\\failback.exe' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n"
	c := NewClient(fakeTransport{out: notFound}, ClientOptions{Host: "hv01", Fix: fix})
	_, err := c.Inspect(ctx, "D:\\VMs\\x.vhdx", false, false)
	if !errors.Is(err, ErrNotMover) || !strings.Contains(err.Error(), "is not recognized") || !strings.Contains(err.Error(), fix) {
		t.Errorf("missing mover: %v", err)
	}
	c = NewClient(fakeTransport{out: "Windows banner\r\n" + magic + "7\n"}, ClientOptions{Host: "hv01", Fix: fix})
	_, err = c.Inspect(ctx, "x", false, false)
	if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "protocol 7") || !strings.Contains(err.Error(), fix) {
		t.Errorf("another protocol: %v", err)
	}
	c = NewClient(Pipe(ServerOptions{StateDir: t.TempDir(), Build: "v0.9 0123456789ab"}), ClientOptions{Host: "hv01", Build: "v1.0 fedcba987654", Fix: fix})
	_, err = c.Inspect(ctx, "x", false, false)
	if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), `"v0.9 0123456789ab"`) || !strings.Contains(err.Error(), fix) {
		t.Errorf("another build: %v", err)
	}
	c = NewClient(Pipe(ServerOptions{StateDir: t.TempDir(), SHA256: strings.Repeat("a", 64)}), ClientOptions{Host: "hv01", SHA256: strings.Repeat("b", 64), Fix: fix})
	if _, err = c.Inspect(ctx, "x", false, false); !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), fix) {
		t.Errorf("another program file: %v", err)
	}
}

// TestNamesCannotLeaveTheStateFolder: a job, VM or pass that would name
// a folder outside the host's state folder is refused before anything.
func TestNamesCannotLeaveTheStateFolder(t *testing.T) {
	c := NewClient(Pipe(ServerOptions{StateDir: t.TempDir()}), ClientOptions{Host: "hv01"})
	defer c.Close()
	for _, k := range []DiskKey{{Job: "..", VM: "a"}, {Job: "j", VM: "../../etc"}, {Job: "j", VM: `a\b`}, {Job: "j", VM: "C:x"}, {Job: "j", VM: "a", Disk: -1}} {
		if err := c.Discard(context.Background(), k, []int{0}); !errors.Is(err, ErrProtocol) {
			t.Errorf("%+v: %v, want refused", k, err)
		}
	}
	if _, err := c.Journals(context.Background(), key, []int{-1}); !errors.Is(err, ErrProtocol) {
		t.Errorf("pass -1: %v", err)
	}
}

// TestFramesAreBounded: a frame announcing more than MaxFrame is refused
// without reading it.
func TestFramesAreBounded(t *testing.T) {
	r := newReader(strings.NewReader("\xff\xff\xff\xff"))
	if _, err := r.next(); !errors.Is(err, ErrProtocol) {
		t.Fatalf("oversized frame: %v", err)
	}
}

// TestMaxMovesBoundsTheHostsDisksAtOnce: with MaxMoves 1, two passes on
// one host run one after the other (the second's first sample comes
// after the first ended); both end right.
func TestMaxMovesBoundsTheHostsDisksAtOnce(t *testing.T) {
	ctx := context.Background()
	a, b := newFixture(t, 4*mib, []int64{1}), newFixture(t, 4*mib, []int64{2})
	c := NewClient(Pipe(ServerOptions{StateDir: a.state}), ClientOptions{Host: "hv01", MaxMoves: 1})
	defer c.Close()
	type run struct {
		first, end time.Time
		err        error
	}
	runs := make([]run, 2)
	done := make(chan int, 2)
	for i, f := range []*fixture{a, b} {
		go func() {
			snap, release := f.snapshot()
			defer release()
			var once atomic.Bool
			_, err := c.Sync(ctx, DiskKey{Job: "j1", VM: "vm", Disk: i}, 0, ImageRef{Path: f.image}, snap,
				SyncOptions{Mode: engine.Full, BlockSize: mib, Threads: 1, SourceID: snap.Name, TargetID: f.image, BandwidthLimit: 4 * mib},
				func(engine.Progress) {
					if once.CompareAndSwap(false, true) {
						runs[i].first = time.Now()
					}
				})
			runs[i].end, runs[i].err = time.Now(), err
			done <- i
		}()
	}
	first := <-done
	<-done
	second := 1 - first
	if runs[0].err != nil || runs[1].err != nil {
		t.Fatal(runs[0].err, runs[1].err)
	}
	if !runs[second].first.After(runs[first].end.Add(-50 * time.Millisecond)) {
		t.Fatalf("the second pass sampled at %v, before the first ended at %v", runs[second].first, runs[first].end)
	}
	if !bytes.Equal(a.imageBytes(), a.want) || !bytes.Equal(b.imageBytes(), b.want) {
		t.Fatal("an image does not hold its snapshot")
	}
}
