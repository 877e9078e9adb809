package engine

import (
	"errors"
	"fmt"
	"os"

	"github.com/failback/failback/internal/osfile"
)

// lockFile takes an exclusive lock on path (internal/osfile: flock on
// Unix, LockFileEx on Windows), which the system releases when the
// process dies, so a killed sync never leaves a stale lock behind.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := osfile.Lock(f, true, false); err != nil {
		f.Close()
		if errors.Is(err, osfile.ErrLocked) {
			return nil, fmt.Errorf("%s: %w", path, ErrJournalBusy)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}
