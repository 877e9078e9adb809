package azure

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/failback/failback/internal/backoff"
	"github.com/failback/failback/internal/osfile"
)

// LabDisk names one page-blob disk of a lab VM.
type LabDisk struct {
	Container string `json:"container"`
	Blob      string `json:"blob"`
}

// LabVMState is a lab VM as its state file holds it. LabCompute writes it;
// the VM's writer (RunLabVM) only reads it.
type LabVMState struct {
	Name  string     `json:"name"`
	Power PowerState `json:"power"`
	// Instance is a random id CreateVM gives each VM it creates, so that
	// nothing a writer of an earlier VM of the same name left behind can
	// pass for the acknowledgement of this one's writer.
	Instance string `json:"instance,omitempty"`
	// Generation grows with every change, so the writer's acknowledgement
	// names the change it saw.
	Generation int64     `json:"generation"`
	Disks      []LabDisk `json:"disks"`
	Updated    time.Time `json:"updated"`
}

// LabWriterStatus is what a lab VM's writer reports in its own file: its
// acknowledgement of the state it acts on, and what it wrote.
type LabWriterStatus struct {
	PID int `json:"pid"`
	// Instance and Generation name the VM state the writer last acted on;
	// Writing says whether it writes at that generation. PowerOff waits for
	// its own VM's Instance, Generation >= its change, Writing false.
	Instance   string `json:"instance,omitempty"`
	Generation int64  `json:"generation"`
	Writing    bool   `json:"writing"`
	Writes     int64  `json:"writes"`
	// Trims counts the writes that cleared their range.
	Trims     int64     `json:"trims,omitempty"`
	Bytes     int64     `json:"bytes"`
	LastWrite time.Time `json:"last_write"`
	Heartbeat time.Time `json:"heartbeat"`
	// Leases are the lease ids the VM holds, by container/blob: like a
	// real VM, it keeps them when powered off and even after it is deleted.
	Leases map[string]string `json:"leases,omitempty"`
	Err    string            `json:"error,omitempty"`
}

// LabOptions tune LabCompute.
type LabOptions struct {
	// AckTimeout bounds PowerOff's wait for the writer to confirm it
	// stopped writing (default 30 s).
	AckTimeout time.Duration
	// Poll is how often PowerOff looks for the acknowledgement (default 20 ms).
	Poll time.Duration
}

// LabCompute is Compute for the lab's simulated Azure VMs: one JSON state
// file per VM in a folder, written atomically (write, sync, rename), so
// separate processes (the console, the VM writers, scripts) agree on it.
//
// Files per VM: <vm>.json (the state, written by LabCompute),
// <vm>.writer.json (the writer's status and acknowledgement) and
// <vm>.writer.lock, locked by the VM's writer for as long as it runs: the
// lock dies with the writer, so "is a writer alive?" never depends on
// clocks or on a status file a dead writer left behind.
type LabCompute struct {
	dir  string
	opts LabOptions
}

// NewLabCompute uses (and creates) the folder dir.
func NewLabCompute(dir string, o LabOptions) (*LabCompute, error) {
	if o.AckTimeout == 0 {
		o.AckTimeout = 30 * time.Second
	}
	if o.Poll == 0 {
		o.Poll = 20 * time.Millisecond
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lab compute folder: %w", err)
	}
	return &LabCompute{dir: dir, opts: o}, nil
}

var labNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func (l *LabCompute) path(vm, suffix string) (string, error) {
	if !labNameRE.MatchString(vm) {
		return "", fmt.Errorf("lab VM name %q: use letters, digits, '.', '_' or '-' (at most 64)", vm)
	}
	return filepath.Join(l.dir, vm+suffix), nil
}

// CreateVM records a new running VM with its disks (replacing any VM of
// that name).
func (l *LabCompute) CreateVM(ctx context.Context, vm string, disks []LabDisk) error {
	old, err := l.Read(ctx, vm)
	gen := int64(1)
	if err == nil {
		gen = old.Generation + 1
	}
	return l.write(vm, LabVMState{Name: vm, Power: PowerRunning, Instance: newInstanceID(), Generation: gen, Disks: disks})
}

// Read returns a VM's state file.
func (l *LabCompute) Read(_ context.Context, vm string) (LabVMState, error) {
	var st LabVMState
	p, err := l.path(vm, ".json")
	if err != nil {
		return st, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return st, fmt.Errorf("lab VM %s: %w (no %s)", vm, ErrVMNotFound, p)
	}
	if err != nil {
		return st, fmt.Errorf("lab VM %s: %w", vm, err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("lab VM %s: state file %s is damaged (%v); delete it and create the VM again", vm, p, err)
	}
	return st, nil
}

func (l *LabCompute) write(vm string, st LabVMState) error {
	p, err := l.path(vm, ".json")
	if err != nil {
		return err
	}
	st.Updated = time.Now().UTC()
	return writeFileAtomic(p, st)
}

// WriterStatus returns what the VM's writer last reported (zero if none).
func (l *LabCompute) WriterStatus(_ context.Context, vm string) (LabWriterStatus, error) {
	var ws LabWriterStatus
	p, err := l.path(vm, ".writer.json")
	if err != nil {
		return ws, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return ws, nil
	}
	if err != nil {
		return ws, fmt.Errorf("lab VM %s writer status: %w", vm, err)
	}
	if err := json.Unmarshal(b, &ws); err != nil {
		return ws, fmt.Errorf("lab VM %s writer status %s is damaged: %w", vm, p, err)
	}
	return ws, nil
}

func (l *LabCompute) writeStatus(vm string, ws LabWriterStatus) error {
	p, err := l.path(vm, ".writer.json")
	if err != nil {
		return err
	}
	return writeFileAtomic(p, ws)
}

// WriterAlive reports whether a writer holds the VM's writer lock
// (<vm>.writer.lock): the lock dies with its process, so unlike the
// writer's status file it never says a killed writer still runs.
func (l *LabCompute) WriterAlive(vm string) (bool, error) {
	p, err := l.path(vm, ".writer.lock")
	if err != nil {
		return false, err
	}
	held, err := osfile.TryLockPath(p)
	if err != nil {
		return false, fmt.Errorf("lab VM %s: checking for its writer: %w", vm, err)
	}
	return held, nil
}

// State is the VM's power state.
func (l *LabCompute) State(ctx context.Context, vm string) (PowerState, error) {
	st, err := l.Read(ctx, vm)
	if err != nil {
		return PowerUnknown, err
	}
	return st.Power, nil
}

// PowerOff marks the VM stopping, waits until its writer confirms it has
// stopped writing (or is not running at all), then marks it stopped: once
// PowerOff returns, the disks no longer change.
func (l *LabCompute) PowerOff(ctx context.Context, vm string) error {
	st, err := l.Read(ctx, vm)
	if err != nil {
		return err
	}
	if st.Power.Off() {
		return nil
	}
	st.Power, st.Generation = PowerStopping, st.Generation+1
	if err := l.write(vm, st); err != nil {
		return err
	}
	if err := l.waitWriterStopped(ctx, vm, st.Instance, st.Generation); err != nil {
		return err
	}
	st.Power, st.Generation = PowerStopped, st.Generation+1
	return l.write(vm, st)
}

func (l *LabCompute) waitWriterStopped(ctx context.Context, vm, inst string, gen int64) error {
	deadline := time.Now().Add(l.opts.AckTimeout)
	for {
		ws, err := l.WriterStatus(ctx, vm)
		if err != nil {
			return err
		}
		if ws.Instance == inst && ws.Generation >= gen && !ws.Writing {
			return nil
		}
		// No acknowledgement: fine only if no writer runs at all. Checked
		// after the stopping state is written, so a writer starting now
		// reads it and never writes.
		alive, err := l.WriterAlive(vm)
		if err != nil {
			return err
		}
		if !alive {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lab VM %s: its writer (pid %d) did not confirm it stopped writing within %v; is it hung? kill it, then power off again", vm, ws.PID, l.opts.AckTimeout)
		}
		if err := backoff.Sleep(ctx, l.opts.Poll); err != nil {
			return err
		}
	}
}

// setPower records a power state the VM reached (a deallocation after a
// power off).
func (l *LabCompute) setPower(ctx context.Context, vm string, p PowerState) error {
	st, err := l.Read(ctx, vm)
	if err != nil {
		return err
	}
	if st.Power == p {
		return nil
	}
	st.Power, st.Generation = p, st.Generation+1
	return l.write(vm, st)
}

// Start marks the VM running; its writer resumes writing.
func (l *LabCompute) Start(ctx context.Context, vm string) error {
	st, err := l.Read(ctx, vm)
	if err != nil {
		return err
	}
	if st.Power == PowerRunning {
		return nil
	}
	st.Power, st.Generation = PowerRunning, st.Generation+1
	return l.write(vm, st)
}

// Delete powers the VM off and removes it; its writer exits. Like Azure,
// it leaves the disks, and the leases on them, in place.
func (l *LabCompute) Delete(ctx context.Context, vm string) error {
	if err := l.PowerOff(ctx, vm); err != nil {
		if errors.Is(err, ErrVMNotFound) {
			return nil
		}
		return err
	}
	p, err := l.path(vm, ".json")
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("lab VM %s: %w", vm, err)
	}
	return nil
}

// writeFileAtomic writes v as JSON over path atomically: readers see the
// old file or the new one, never half of one.
func writeFileAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := osfile.WriteAtomic(path, append(b, '\n')); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func newInstanceID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
