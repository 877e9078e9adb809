package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Down stops what lab up started in dir (the lab's Azure, then Azurite:
// each by its recorded pid, after checking the pid still runs the lab's
// own command) and removes the lab folder. A folder without a lab is left
// alone; no folder at all is not an error.
func Down(ctx context.Context, dir string) error {
	if dir == "" {
		dir = DefaultDir
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	m, err := ReadManifest(abs)
	if errors.Is(err, ErrNoLab) {
		if _, serr := os.Stat(abs); errors.Is(serr, os.ErrNotExist) {
			return nil
		}
		if checkEmpty(abs) == nil {
			return os.Remove(abs)
		}
		return fmt.Errorf("%s holds no lab (no %s), so lab down leaves it alone; remove it by hand if it is an old lab", abs, ManifestFile)
	}
	if errors.Is(err, ErrDamaged) {
		// What lab.json would have said is lost; the processes are still
		// found by their command lines, which name the lab folder.
		m, err = &Manifest{Dir: abs}, nil
	}
	if err != nil {
		return err
	}
	if m.Dir != abs {
		// A moved lab folder: its processes know the old path.
		m.Dir = abs
	}
	if err := stopAll(ctx, m); err != nil {
		return err
	}
	if err := os.RemoveAll(abs); err != nil {
		return fmt.Errorf("remove the lab folder %s: %w", abs, err)
	}
	return nil
}

// stopAll stops the lab's Azure first (so its writers do not log a storm
// of errors when Azurite goes), then Azurite; also any of the lab's
// processes that lab.json missed (lab up killed between starting one and
// recording it).
func stopAll(ctx context.Context, m *Manifest) error {
	lazure := isAzure(m.Dir)
	az := isAzurite(m.Path("azurite"))
	var errs []error
	for _, p := range append([]int{m.Azure.PID}, findProcesses(lazure)...) {
		errs = append(errs, stopProcess(ctx, p, lazure, 10*time.Second))
	}
	for _, p := range append([]int{m.Azurite.PID}, findProcesses(az)...) {
		errs = append(errs, stopProcess(ctx, p, az, 10*time.Second))
	}
	return errors.Join(errs...)
}
