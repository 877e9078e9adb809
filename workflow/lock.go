package workflow

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/failback/failback/internal/osfile"
)

// ErrBusy is returned (wrapped in a *BusyError) by Open when another
// process already drives the jobs of the state folder.
var ErrBusy = errors.New("another failback process drives the jobs of this state folder")

// BusyError names the process that holds the state folder.
type BusyError struct {
	Dir     string
	PID     int
	Command string
	Since   time.Time
}

func (e *BusyError) Error() string {
	who := "another process"
	if e.PID > 0 {
		who = fmt.Sprintf("process %d (%s, since %s)", e.PID, e.Command, e.Since.Local().Format(time.DateTime))
	}
	return fmt.Sprintf("%s drives the jobs in %s; two processes never drive one job: use that process (its console, or the script commands, which go through its control socket), or stop it first", who, e.Dir)
}

// Unwrap lets errors.Is find ErrBusy.
func (e *BusyError) Unwrap() error { return ErrBusy }

// holder is the lock file's content: who drives the state folder.
type holder struct {
	PID     int       `json:"pid"`
	Command string    `json:"command"`
	Since   time.Time `json:"since"`
}

// stateLock is the osfile lock on state_dir/lock, held by the one process that
// drives jobs. It dies with the process, so a crash never leaves it held.
type stateLock struct{ f *os.File }

// The state folder is private (0700: job records, audit logs, journals
// and sums are nobody else's business); a folder this user owns with a
// looser mode, made by an older failback or by hand, is tightened here.
func lockState(p paths, command string) (*stateLock, error) {
	if err := os.MkdirAll(p.root, osfile.PrivateDir); err != nil {
		return nil, fmt.Errorf("state folder %s: %w", p.root, err)
	}
	if _, err := osfile.TightenDir(p.root); err != nil {
		return nil, fmt.Errorf("state folder %s: make it private (mode 0700): %w", p.root, err)
	}
	f, err := os.OpenFile(p.lock(), os.O_RDWR|os.O_CREATE, osfile.PrivateFile)
	if err != nil {
		return nil, fmt.Errorf("state folder lock %s: %w", p.lock(), err)
	}
	if err := osfile.Lock(f, true, false); err != nil {
		f.Close()
		if errors.Is(err, osfile.ErrLocked) {
			be := &BusyError{Dir: p.root}
			if h, err := readHolder(p); err == nil {
				be.PID, be.Command, be.Since = h.PID, h.Command, h.Since
			}
			return nil, be
		}
		return nil, fmt.Errorf("lock %s: %w", p.lock(), err)
	}
	b, _ := json.Marshal(holder{PID: os.Getpid(), Command: command, Since: time.Now().UTC()})
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt(append(b, '\n'), 0)
		_ = f.Sync()
	}
	return &stateLock{f: f}, nil
}

func readHolder(p paths) (holder, error) {
	var h holder
	b, err := os.ReadFile(p.lock())
	if err != nil {
		return h, err
	}
	err = json.Unmarshal(b, &h)
	return h, err
}

func (l *stateLock) release() {
	if l != nil && l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// commandLine names this process for BusyError messages.
func commandLine() string {
	if len(os.Args) == 0 {
		return "failback"
	}
	s := filepath.Base(os.Args[0])
	for _, a := range os.Args[1:] {
		if len(s) > 80 {
			return s + " ..."
		}
		s += " " + a
	}
	return s
}
