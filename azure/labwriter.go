package azure

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/failback/failback/internal/backoff"
	"github.com/failback/failback/internal/osfile"
)

// LabWriterOptions say how a lab VM writes to its disks while it runs.
// The defaults give a believable small server: 20 writes a second of 4 to
// 64 KiB, mostly in a hot region (its "database"), now and then elsewhere.
type LabWriterOptions struct {
	// WritesPerSecond is the write rate (default 20).
	WritesPerSecond float64
	// MinWrite and MaxWrite bound each write, rounded to 4 KiB (defaults
	// 4 KiB and 64 KiB).
	MinWrite, MaxWrite int64
	// HotStart and HotSize place the hot region (default: the first tenth
	// of the disk, at most 64 MiB).
	HotStart, HotSize int64
	// NewRegion is the share of writes that land anywhere on the disk
	// (default 0.05).
	NewRegion float64
	// Trim is the share of writes that are trims instead: the guest frees
	// the range (TRIM/UNMAP) and Azure clears its pages, which then read
	// as zeros and show as cleared ranges in a snapshot diff (default 0).
	Trim float64
	// Seed makes offsets, sizes and data repeatable.
	Seed uint64
	// Poll is how often the writer reads the VM state (default 20 ms): the
	// most it writes after a power off is one poll's worth.
	Poll time.Duration
}

func (o LabWriterOptions) withDefaults(size int64) LabWriterOptions {
	if o.WritesPerSecond <= 0 {
		o.WritesPerSecond = 20
	}
	if o.MinWrite <= 0 {
		o.MinWrite = 4 << 10
	}
	if o.MaxWrite < o.MinWrite {
		o.MaxWrite = max(o.MinWrite, 64<<10)
	}
	o.MinWrite = (o.MinWrite + 4095) &^ 4095
	o.MaxWrite = (o.MaxWrite + 4095) &^ 4095
	if o.HotSize <= 0 {
		o.HotSize = min(size/10, 64<<20)
	}
	if o.HotStart < 0 || o.HotStart >= size {
		o.HotStart = 0
	}
	o.HotStart &^= 4095
	o.HotSize = max(min(o.HotSize, size-o.HotStart)&^4095, o.MaxWrite)
	if o.NewRegion == 0 {
		o.NewRegion = 0.05
	}
	if o.Poll <= 0 {
		o.Poll = 20 * time.Millisecond
	}
	return o
}

// labDiskW is one disk the writer writes, with its own plan.
type labDiskW struct {
	key  string
	tg   *PageBlobTarget
	opts LabWriterOptions
}

// errWriterRunning: another writer (in this process or another) already
// runs for the VM.
var errWriterRunning = errors.New("another writer already runs for this lab VM")

// RunLabVM is the lab VM's "guest": while the VM's state is running it
// writes to the VM's page blobs at the configured rate, holding a lease on
// each as a real VM does; when the state leaves running it finishes the
// write in progress, acknowledges in its status file, and waits. It holds
// the VM's writer lock for as long as it runs (one writer per VM; PowerOff
// knows from the lock whether a writer is alive). It returns nil when the
// VM is deleted, or the context's error.
func RunLabVM(ctx context.Context, s *Storage, lc *LabCompute, vm string, o LabWriterOptions) error {
	unlock, err := lc.lockWriter(vm)
	if err != nil {
		return err
	}
	defer unlock()
	ws, err := lc.WriterStatus(ctx, vm)
	if err != nil {
		return err
	}
	ws.PID, ws.Err, ws.Instance = os.Getpid(), "", ""
	if ws.Leases == nil {
		ws.Leases = map[string]string{}
	}
	perDisk := o // each disk sizes its own regions from its size
	o = o.withDefaults(1 << 40)
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x5DEECE66D))
	// A burst never exceeds two polls' worth of writes, so a slow write
	// cannot pile up a backlog that delays the stop acknowledgement.
	maxBurst := max(1, 2*o.WritesPerSecond*o.Poll.Seconds())
	var disks []*labDiskW
	budget, last := 0.0, time.Now()
	lastBeat := time.Time{}
	report := func(force bool) error {
		if !force && time.Since(lastBeat) < 250*time.Millisecond {
			return nil
		}
		ws.Heartbeat, lastBeat = time.Now().UTC(), time.Now()
		return lc.writeStatus(vm, ws)
	}
	defer func() {
		// The writer is gone: say so, so PowerOff does not wait for it.
		ws.Writing, ws.Heartbeat = false, time.Time{}
		_ = lc.writeStatus(vm, ws)
	}()
	for {
		st, err := lc.Read(ctx, vm)
		if errors.Is(err, ErrVMNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		newVM := st.Instance != ws.Instance
		if newVM {
			// A new VM of this name (or the first look): its own disks.
			ws.Instance, disks = st.Instance, nil
		}
		running := st.Power == PowerRunning
		if running && disks == nil {
			if disks, err = openLabDisks(ctx, s, st, &ws, perDisk); err != nil {
				ws.Err = err.Error()
				_ = report(true)
				return err
			}
		}
		changed := newVM || ws.Generation != st.Generation || ws.Writing != running
		ws.Generation, ws.Writing = st.Generation, running
		if running {
			now := time.Now()
			budget = min(budget+now.Sub(last).Seconds()*o.WritesPerSecond, maxBurst)
			last = now
			for ; budget >= 1 && len(disks) > 0; budget-- {
				d := disks[rng.IntN(len(disks))]
				n, trimmed, err := d.writeOne(ctx, rng)
				if trimmed {
					ws.Trims++
				}
				if err != nil {
					ws.Err = err.Error()
					_ = report(true)
					return fmt.Errorf("lab VM %s: %w", vm, err)
				}
				ws.Writes++
				ws.Bytes += n
				ws.LastWrite = time.Now().UTC()
			}
		} else {
			budget, last = 0, time.Now()
		}
		if err := report(changed); err != nil {
			return err
		}
		if err := backoff.Sleep(ctx, o.Poll); err != nil {
			return err
		}
	}
}

// lockWriter takes the VM's writer lock, or fails with errWriterRunning.
func (l *LabCompute) lockWriter(vm string) (unlock func(), err error) {
	p, err := l.path(vm, ".writer.lock")
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lab VM %s: writer lock: %w", vm, err)
	}
	if err := osfile.Lock(f, true, false); err != nil {
		f.Close()
		if errors.Is(err, osfile.ErrLocked) {
			return nil, fmt.Errorf("lab VM %s: %w (%s is locked); stop it first", vm, errWriterRunning, p)
		}
		return nil, fmt.Errorf("lab VM %s: writer lock: %w", vm, err)
	}
	return func() { f.Close() }, nil
}

// openLabDisks opens each disk for writing under the VM's lease, taking
// the lease first if the VM does not hold it yet.
func openLabDisks(ctx context.Context, s *Storage, st LabVMState, ws *LabWriterStatus, o LabWriterOptions) ([]*labDiskW, error) {
	var out []*labDiskW
	for _, ld := range st.Disks {
		key := ld.Container + "/" + ld.Blob
		d, err := s.OpenDisk(ctx, ld.Container, ld.Blob)
		if err != nil {
			return nil, err
		}
		id, err := s.AcquireLease(ctx, ld.Container, ld.Blob, InfiniteLease, ws.Leases[key])
		if err != nil {
			return nil, fmt.Errorf("lab VM %s cannot lease its disk %s (another VM uses it?): %w", st.Name, key, err)
		}
		ws.Leases[key] = id
		tg, err := d.WithLease(id).OpenTarget(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, &labDiskW{key: key, tg: tg, opts: o.withDefaults(tg.Size())})
	}
	return out, nil
}

// writeOne writes one block of random data, in the hot region or, now and
// then, anywhere; a share of them (Trim) clear the range instead.
func (d *labDiskW) writeOne(ctx context.Context, rng *rand.Rand) (int64, bool, error) {
	o := d.opts
	size := d.tg.Size()
	n := o.MinWrite
	if o.MaxWrite > o.MinWrite {
		n += rng.Int64N((o.MaxWrite-o.MinWrite)/4096+1) * 4096
	}
	n = min(n, size)
	lo, span := o.HotStart, o.HotSize
	if rng.Float64() < o.NewRegion {
		lo, span = 0, size
	}
	off := lo
	if span > n {
		off += rng.Int64N((span-n)/4096+1) * 4096
	}
	off = min(off, size-n) &^ 511
	if o.Trim > 0 && rng.Float64() < o.Trim {
		return n, true, d.tg.WriteZeroes(ctx, off, n)
	}
	buf := make([]byte, n)
	for i := 0; i+8 <= len(buf); i += 8 {
		v := rng.Uint64() | 1 // never an all-zero chunk: it must be a write
		for j := range 8 {
			buf[i+j] = byte(v >> (8 * j))
		}
	}
	return n, false, d.tg.WriteAt(ctx, buf, off)
}
