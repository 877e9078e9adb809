package azure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"
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
	// Generation is the VM state generation the writer last acted on;
	// Writing says whether it writes at that generation. PowerOff waits for
	// Generation >= its own change with Writing false.
	Generation int64     `json:"generation"`
	Writing    bool      `json:"writing"`
	Writes     int64     `json:"writes"`
	Bytes      int64     `json:"bytes"`
	LastWrite  time.Time `json:"last_write"`
	Heartbeat  time.Time `json:"heartbeat"`
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

// writerStale: a writer whose heartbeat is older is taken as gone (its
// process ended), so PowerOff does not wait for it.
const writerStale = 3 * time.Second

// LabCompute is Compute for the lab's simulated Azure VMs: one JSON state
// file per VM in a folder, written atomically (write, sync, rename), so
// separate processes (the console, the VM writers, scripts) agree on it.
type LabCompute struct {
	dir  string
	opts LabOptions
}

var _ Compute = (*LabCompute)(nil)

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
	return l.write(vm, LabVMState{Name: vm, Power: PowerRunning, Generation: gen, Disks: disks})
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
	if err := l.waitWriterStopped(ctx, vm, st.Generation); err != nil {
		return err
	}
	st.Power, st.Generation = PowerStopped, st.Generation+1
	return l.write(vm, st)
}

func (l *LabCompute) waitWriterStopped(ctx context.Context, vm string, gen int64) error {
	deadline := time.Now().Add(l.opts.AckTimeout)
	for {
		ws, err := l.WriterStatus(ctx, vm)
		if err != nil {
			return err
		}
		if (ws.Generation >= gen && !ws.Writing) || time.Since(ws.Heartbeat) > writerStale {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lab VM %s: its writer (pid %d) did not confirm it stopped writing within %v; is it hung? kill it, then power off again", vm, ws.PID, l.opts.AckTimeout)
		}
		if err := sleepCtx(ctx, l.opts.Poll); err != nil {
			return err
		}
	}
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

// writeFileAtomic writes v as JSON to a temporary file in the same folder,
// syncs it and renames it over path: readers see the old or the new file,
// never half of one.
func writeFileAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
