package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"time"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/internal/azurite"
)

// RunWriters is the body of the lab's background writer process
// ('failback lab vms --dir DIR'): it runs azure.RunLabVM for every lab VM,
// so each writes to its disks while its state is running and stops when it
// is powered off, as a real VM would. It returns when every VM is deleted
// (a committed drill) or ctx ends. A writer that fails (Azurite restarting,
// say) is restarted after a pause; its leases carry over.
func RunWriters(ctx context.Context, dir string, log io.Writer) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	m, err := ReadManifest(abs)
	if err != nil {
		return err
	}
	st, err := azure.NewStorage(azure.StorageOptions{
		ConnectionString: azure.NewSecret(azurite.ConnectionString(m.Azurite.Port)),
		RetryDelay:       200 * time.Millisecond,
	})
	if err != nil {
		return err
	}
	lc, err := azure.NewLabCompute(m.Path(m.ComputeDir), azure.LabOptions{})
	if err != nil {
		return err
	}
	log = &lockedWriter{w: log}
	fmt.Fprintf(log, "%s lab VM writers started for %d VMs (%g writes a second each)\n", stamp(), len(m.VMs), m.Writes.WritesPerSecond)
	var wg sync.WaitGroup
	for i, v := range m.VMs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := writerOptions(m, i)
			for {
				err := azure.RunLabVM(ctx, st, lc, v.Name, o)
				switch {
				case err == nil:
					fmt.Fprintf(log, "%s %s: deleted, its writer stops\n", stamp(), v.Name)
					return
				case ctx.Err() != nil:
					return
				}
				fmt.Fprintf(log, "%s %s: writer failed, restarting in 2s: %v\n", stamp(), v.Name, err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(2 * time.Second):
				}
			}
		}()
	}
	wg.Wait()
	fmt.Fprintf(log, "%s lab VM writers stopped\n", stamp())
	if err := ctx.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// writerOptions places a VM's writes: mostly in its disks' database (the
// hot region), now and then anywhere, at the lab's rate.
func writerOptions(m *Manifest, i int) azure.LabWriterOptions {
	hotOff, hotLen := hotRegion(m.DiskSize)
	return azure.LabWriterOptions{
		WritesPerSecond: m.Writes.WritesPerSecond,
		MinWrite:        m.Writes.MinWrite,
		MaxWrite:        m.Writes.MaxWrite,
		HotStart:        hotOff,
		HotSize:         hotLen,
		NewRegion:       0.05,
		Seed:            m.Seed*1_000_003 + uint64(i),
	}
}

func stamp() string { return time.Now().UTC().Format(time.RFC3339) }

// lockedWriter serialises the writers' log lines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
