package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Options say what lab to build.
type Options struct {
	// Dir is the lab folder (default DefaultDir). It must be empty, absent,
	// or hold a lab.
	Dir string
	// VMs is the number of VMs, MinVMs to MaxVMs (default 5).
	VMs int
	// DiskSize is each disk's virtual size: a whole number of MiB, at least
	// MinDiskSize (default DefaultDiskSize).
	DiskSize int64
	// Seed makes the disks' content repeatable (default 1).
	Seed uint64
	// WritesPerSecond is each running Azure VM's write rate (default
	// DefaultWriteRate). Each write is 4 to 32 KiB, mostly in the disk's
	// database region; Azurite's data grows by about what is written
	// (default: some 65 MiB an hour per VM), so a lab is not for leaving
	// on for days.
	WritesPerSecond float64
	// Hosts is how many original Hyper-V hosts the VMs are spread over,
	// 1 to MaxHosts (default 1: hv01; more: hv04, hv05, ...), each with
	// its own mover, so a plan moves on all of them at once.
	Hosts int
	// Fresh replaces a healthy lab instead of reusing it.
	Fresh bool
	// Exe is the failback program the writer process runs (default: this
	// program); it must understand 'lab vms --dir DIR'.
	Exe string
	// CacheDir is where Azurite is installed when this is not run inside
	// the repository (default: the user's cache folder).
	CacheDir string
	// Progress receives a line per step; nil discards them.
	Progress io.Writer
}

// Defaults and bounds of Options.
const (
	DefaultDir      = ".lab"
	DefaultVMs      = 5
	DefaultDiskSize = 512 << 20
	// DefaultWriteRate is each Azure VM's writes a second.
	DefaultWriteRate = 1.0
	MinDiskSize      = 64 << 20
	MaxDiskSize      = 64 << 30
)

func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" {
		o.Dir = DefaultDir
	}
	abs, err := filepath.Abs(o.Dir)
	if err != nil {
		return o, err
	}
	o.Dir = abs
	if o.VMs == 0 {
		o.VMs = DefaultVMs
	}
	if o.VMs < MinVMs || o.VMs > MaxVMs {
		return o, fmt.Errorf("--vms %d: the lab has %d to %d VMs (both plans need theirs)", o.VMs, MinVMs, MaxVMs)
	}
	if o.Hosts == 0 {
		o.Hosts = 1
	}
	if o.Hosts < 1 || o.Hosts > MaxHosts {
		return o, fmt.Errorf("--hosts %d: the lab spreads its VMs over 1 to %d hosts", o.Hosts, MaxHosts)
	}
	if o.DiskSize == 0 {
		o.DiskSize = DefaultDiskSize
	}
	if o.DiskSize < MinDiskSize || o.DiskSize > MaxDiskSize || o.DiskSize%mib != 0 {
		return o, fmt.Errorf("--disk-size %d: use a whole number of MiB from 64M to 64G (Azure disks are whole MiB)", o.DiskSize)
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.WritesPerSecond == 0 {
		o.WritesPerSecond = DefaultWriteRate
	}
	if o.WritesPerSecond < 0 || o.WritesPerSecond > 1000 {
		return o, fmt.Errorf("write rate %g: use 0.1 to 1000 writes a second", o.WritesPerSecond)
	}
	if o.Exe == "" {
		if o.Exe, err = os.Executable(); err != nil {
			return o, fmt.Errorf("find this program to run the VM writers: %w", err)
		}
	}
	if o.CacheDir == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			c = os.TempDir()
		}
		o.CacheDir = filepath.Join(c, "failback")
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return o, nil
}

// Up builds the lab in o.Dir and starts it: Azurite, the Azure VMs with
// their disks and writers, the Hyper-V lab hosts and config.toml. A healthy
// lab already there is reused (reused is true) unless o.Fresh; anything
// else there that is a lab is stopped and replaced. If Up fails it leaves
// nothing running and no lab folder.
func Up(ctx context.Context, o Options) (m *Manifest, reused bool, err error) {
	o, err = o.withDefaults()
	if err != nil {
		return nil, false, err
	}
	if err := platformCheck(); err != nil {
		return nil, false, err
	}
	old, err := prepareDir(ctx, o)
	if err != nil || old != nil {
		return old, old != nil, err
	}

	b := &builder{o: o, steps: newStepper(o.Progress)}
	fmt.Fprintf(o.Progress, "Building a failback drill lab in %s\n", o.Dir)
	m, err = b.build(ctx)
	if err != nil {
		// Leave nothing behind: stop what was started, remove the folder.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if derr := Down(cctx, o.Dir); derr != nil {
			err = fmt.Errorf("%w (cleaning up also failed: %v)", err, derr)
		}
		return nil, false, err
	}
	fmt.Fprintf(o.Progress, "Lab ready in %s.\n", b.steps.elapsed())
	return m, false, nil
}

// prepareDir returns the lab in o.Dir when it is to be reused; otherwise
// it clears the way: a lab that is not healthy (or damaged, or o.Fresh) is
// taken down, and a folder that holds anything but a lab is refused.
func prepareDir(ctx context.Context, o Options) (*Manifest, error) {
	old, err := ReadManifest(o.Dir)
	why := ""
	switch {
	case errors.Is(err, ErrNoLab):
		return nil, checkEmpty(o.Dir)
	case errors.Is(err, ErrDamaged):
		why = err.Error()
	case err != nil:
		return nil, fmt.Errorf("%w; or remove %s by hand", err, o.Dir)
	default:
		st := Inspect(ctx, old)
		if st.Healthy && !o.Fresh && len(old.originals()) == o.Hosts {
			return old, nil
		}
		why = "--fresh"
		if !o.Fresh {
			why = fmt.Sprintf("--hosts %d: it has %d original hosts", o.Hosts, len(old.originals()))
		}
		if !st.Healthy {
			why = "it is not healthy: " + strings.Join(st.Problems, "; ")
		}
	}
	fmt.Fprintf(o.Progress, "Replacing the lab in %s (%s)\n", o.Dir, why)
	return nil, Down(ctx, o.Dir)
}

// checkEmpty refuses a folder that exists, holds files and is not a lab:
// lab down removes the lab folder, so it must never be someone's folder.
func checkEmpty(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s is not empty and holds no lab (%s); choose another --dir, or empty it", dir, ManifestFile)
	}
	return nil
}
