package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/internal/azurite"
	"github.com/failback/failback/internal/labarm"
)

// RunAzure is the body of the lab's Azure process ('failback lab vms
// --dir DIR', which lab up starts detached): it serves the blob front in
// front of Azurite and the ARM endpoint on the ports lab.json records, and
// runs azure.RunLabVM for every lab VM, so each writes to its disks while
// it runs, as a real VM would, and stops when it is powered off. It serves
// until ctx ends (lab down), also after every VM is deleted (a committed
// drill: the disks and snapshots kept are still there to look at). A
// writer that fails (Azurite restarting, say) is restarted after a pause;
// its leases carry over.
func RunAzure(ctx context.Context, dir string, log io.Writer) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	m, err := ReadManifest(abs)
	if err != nil {
		return err
	}
	if m.FrontPort == 0 || m.ARMPort == 0 || m.Version != manifestVersion {
		return fmt.Errorf("%s is not a lab this failback serves (version %d, ports %d/%d); 'failback lab up --fresh --dir %s' rebuilds it",
			abs, m.Version, m.FrontPort, m.ARMPort, abs)
	}
	log = &lockedWriter{w: log}
	front, err := azurite.StartFront(m.Azurite.Port, m.FrontPort)
	if err != nil {
		return fmt.Errorf("the lab's blob front on 127.0.0.1:%d: %w (another program took the port? 'failback lab up --fresh --dir %s' picks new ones)", m.FrontPort, err, abs)
	}
	defer front.Close()
	lc, err := azure.NewLabCompute(m.Path(m.ComputeDir), azure.LabOptions{})
	if err != nil {
		return err
	}
	armLog, err := os.OpenFile(m.Path(armLogFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("the ARM endpoint's log: %w", err)
	}
	defer armLog.Close()
	srv, err := labarm.New(armOptions(m, lc, front.URL, armLog))
	if err != nil {
		return err
	}
	url, err := srv.Start(fmt.Sprintf("127.0.0.1:%d", m.ARMPort))
	if err != nil {
		return fmt.Errorf("%w; 'failback lab up --fresh --dir %s' picks new ports", err, abs)
	}
	defer srv.Close()
	fmt.Fprintf(log, "%s lab Azure: blob front %s, ARM endpoint %s (subscription %s, log %s)\n",
		stamp(), front.URL, url, m.SubscriptionID, armLogFile)

	st, err := azure.NewStorage(azure.StorageOptions{
		ConnectionString: azure.NewSecret(azurite.ConnectionString(m.Azurite.Port)),
		RetryDelay:       200 * time.Millisecond,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "%s lab VM writers started for %d VMs (%g writes a second each, %g%% of them trims)\n",
		stamp(), len(m.VMs), m.Writes.WritesPerSecond, 100*m.Writes.Trim)
	var wg sync.WaitGroup
	for i, v := range m.VMs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runWriter(ctx, st, lc, v.Name, writerOptions(m, i), log)
		}()
	}
	wg.Wait()
	if ctx.Err() == nil {
		fmt.Fprintf(log, "%s every Azure VM is deleted: no more writes; the ARM endpoint and the blob front serve until lab down\n", stamp())
		<-ctx.Done()
	}
	fmt.Fprintf(log, "%s lab Azure stopping\n", stamp())
	if err := ctx.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// armOptions is the lab ARM endpoint over the lab's Azurite: the same
// for lab up's builder and the Azure process.
func armOptions(m *Manifest, lc *azure.LabCompute, blobURL string, log io.Writer) labarm.Options {
	return labarm.Options{Dir: m.Path(m.ARMDir), SubscriptionID: m.SubscriptionID,
		AzuriteURL: fmt.Sprintf("http://127.0.0.1:%d/%s", m.Azurite.Port, azurite.AccountName),
		BlobURL:    blobURL, Container: m.ManagedContainer, Compute: lc, Log: log}
}

// runWriter runs one VM's writer until the VM is deleted or ctx ends.
func runWriter(ctx context.Context, st *azure.Storage, lc *azure.LabCompute, vm string, o azure.LabWriterOptions, log io.Writer) {
	for {
		err := azure.RunLabVM(ctx, st, lc, vm, o)
		switch {
		case err == nil:
			fmt.Fprintf(log, "%s %s: deleted, its writer stops\n", stamp(), vm)
			return
		case ctx.Err() != nil:
			return
		}
		fmt.Fprintf(log, "%s %s: writer failed, restarting in 2s: %v\n", stamp(), vm, err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
}

// writerOptions places a VM's writes: mostly in its disks' database (the
// hot region), now and then anywhere, at the lab's rate; a share of them
// are trims.
func writerOptions(m *Manifest, i int) azure.LabWriterOptions {
	hotOff, hotLen := hotRegion(m.DiskSize)
	return azure.LabWriterOptions{
		WritesPerSecond: m.Writes.WritesPerSecond,
		MinWrite:        m.Writes.MinWrite,
		MaxWrite:        m.Writes.MaxWrite,
		HotStart:        hotOff,
		HotSize:         hotLen,
		NewRegion:       0.05,
		Trim:            m.Writes.Trim,
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
