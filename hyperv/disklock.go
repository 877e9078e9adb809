package hyperv

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/failback/failback/internal/osfile"
)

// The disk lock protocol, honoured by every failback process (the lab host,
// the engine's callers, drills):
//
//   - A disk's lock file is an empty file that is only ever flock(2)ed
//     (LockFileEx on Windows), never written, renamed or removed. A
//     process writing the disk holds an exclusive lock on it for the whole
//     write (DiskWriteLock); starting a VM takes the same lock for a
//     moment. Locks die with their process, so a crash never leaves a disk
//     locked. Lock files live in the lock folder (SetDiskLockDir: the
//     state folder's disklocks/), named after the disk's absolute path,
//     never beside the disk: a disk's folder is production storage, where
//     failback leaves nothing behind.
//   - <disk>.running exists while a lab VM that has the disk attached runs.
//     It is written atomically (temp file and rename) and removed at
//     shutdown. It outlives processes, as a running lab VM does.
//
// LockDiskForWrite takes the lock and then refuses if the .running marker
// exists; the lab's StartVM takes the lock and then writes the marker. Both
// under the lock, so a VM can never start on a disk being written, nor a
// write begin on a disk of a running VM. Other programs do not know these
// files: a real Hyper-V host protects its disks by opening them exclusively,
// which DiskInUse reports.

func diskMarkerPath(disk string) string { return disk + ".running" }

// lockDir is the folder of disk lock files ("" until SetDiskLockDir).
var lockDir struct {
	sync.Mutex
	dir string
}

// SetDiskLockDir sets the folder that holds the disks' write locks for
// this process: workflow.Open sets it to the state folder's disklocks/,
// so every failback process using one state folder agrees. It is created
// when first needed. Until it is set, locks live in a folder of the
// system's temporary directory, never beside the disks.
func SetDiskLockDir(dir string) {
	lockDir.Lock()
	defer lockDir.Unlock()
	lockDir.dir = dir
}

// DiskLockDir is the folder of disk lock files now.
func DiskLockDir() string {
	lockDir.Lock()
	defer lockDir.Unlock()
	if lockDir.dir == "" {
		return filepath.Join(os.TempDir(), fmt.Sprintf("failback-disklocks-%d", os.Getuid()))
	}
	return lockDir.dir
}

// diskLockPath names a disk's lock file: its base name (for people) and
// a hash of its absolute path (for uniqueness), in the lock folder.
func diskLockPath(disk string) string {
	abs, err := filepath.Abs(disk)
	if err != nil {
		abs = filepath.Clean(disk)
	}
	key := abs
	if runtime.GOOS == "windows" {
		key = strings.ToLower(abs) // one file, whatever the case used
	}
	sum := sha256.Sum256([]byte(key))
	base := filepath.Base(abs)
	if len(base) > 64 {
		base = base[:64]
	}
	return filepath.Join(DiskLockDir(), base+"-"+hex.EncodeToString(sum[:8])+".lock")
}

// diskMarker is the content of <disk>.running.
type diskMarker struct {
	VM    string    `json:"vm"`
	Host  string    `json:"host"`
	Since time.Time `json:"since"`
	PID   int       `json:"pid"`
}

// DiskWriteLock is held while a process writes a disk file.
type DiskWriteLock struct {
	f    *os.File
	path string
}

// LockDiskForWrite takes the write lock of a disk file (which need not
// exist yet). It fails at once, wrapping ErrDiskInUse, when another process
// writes the disk or a lab VM that has it attached runs. Release it when
// the write is done (or let the process end).
func LockDiskForWrite(path string) (*DiskWriteLock, error) {
	f, err := lockDisk(path)
	if err != nil {
		return nil, err
	}
	if m, ok, err := readMarker(path); err != nil || ok {
		f.Close()
		if err != nil {
			return nil, err
		}
		return nil, newHostError(ErrDiskInUse, m.Host, "lock "+path+" for writing",
			fmt.Sprintf("attached to VM %s, running since %s", psQuote(m.VM), m.Since.Format(time.RFC3339)))
	}
	return &DiskWriteLock{f: f, path: path}, nil
}

// Release gives the lock back.
func (l *DiskWriteLock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// lockDisk takes the exclusive flock of the disk's lock file without
// waiting.
func lockDisk(path string) (*os.File, error) {
	lp := diskLockPath(path)
	if err := os.MkdirAll(filepath.Dir(lp), 0o700); err != nil {
		return nil, fmt.Errorf("create the disk lock folder %s: %w", filepath.Dir(lp), err)
	}
	f, err := os.OpenFile(lp, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the lock file of %s: %w", path, err)
	}
	if err := osfile.Lock(f, true, false); err != nil {
		f.Close()
		if errors.Is(err, osfile.ErrLocked) {
			// Err says it is a write lock, not a running VM: a writer
			// that is ending (a mover whose session dropped) lets go soon.
			e := newHostError(ErrDiskInUse, "", "lock "+path, "another process is writing it (a sync in progress)")
			e.Err = osfile.ErrLocked
			return nil, e
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

// diskWriteLocked reports whether another process holds the write lock,
// by trying to take it for a moment.
func diskWriteLocked(path string) (bool, error) { return osfile.TryLockPath(diskLockPath(path)) }

func readMarker(path string) (diskMarker, bool, error) {
	var m diskMarker
	b, err := os.ReadFile(diskMarkerPath(path))
	if errors.Is(err, os.ErrNotExist) {
		return m, false, nil
	}
	if err != nil {
		return m, false, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, true, fmt.Errorf("%s is damaged (%v): if no lab VM with this disk runs, remove it", diskMarkerPath(path), err)
	}
	return m, true, nil
}

func writeMarker(path string, m diskMarker) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return osfile.WriteAtomic(diskMarkerPath(path), b)
}

func removeMarker(path string) error {
	err := os.Remove(diskMarkerPath(path))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
