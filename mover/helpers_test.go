package mover

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/internal/testenv"
	"github.com/failback/failback/vdisk"
)

const mib = 1 << 20

// counter counts the blob bytes an HTTP client receives: the driver's,
// which must stay near zero on this path.
type counter struct {
	c     http.Client
	bytes atomic.Int64
}

func (c *counter) Do(req *http.Request) (*http.Response, error) {
	resp, err := c.c.Do(req)
	if err == nil && req.Method == http.MethodGet && req.URL.Query().Get("comp") == "" && resp.ContentLength > 0 {
		c.bytes.Add(resp.ContentLength)
	}
	return resp, err
}

// fixture is an Azure disk with a snapshot, and an older image of it on
// the "host".
type fixture struct {
	t       *testing.T
	storage *azure.Storage
	http    *counter
	disk    *azure.Disk
	snap    string
	want    []byte // the snapshot's bytes
	old     []byte // the image's bytes before any sync
	image   string
	state   string
}

func content(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7+int(seed)) | 1
	}
	return p
}

// newFixture makes a size-byte disk; the image holds the same bytes but
// in the blocks of changed, where it holds other ones.
func newFixture(t *testing.T, size int64, changed []int64) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{t: t, http: &counter{}, state: filepath.Join(t.TempDir(), "mover-state")}
	var err error
	f.storage, err = azure.NewStorage(azure.StorageOptions{ConnectionString: azure.NewSecret(testenv.AzuriteConnectionString(t)),
		RetryDelay: 10 * time.Millisecond, MaxRetryDelay: 100 * time.Millisecond, TryTimeout: 30 * time.Second, Transport: f.http})
	if err != nil {
		t.Fatal(err)
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	c := "mover-" + strings.ToLower(hex.EncodeToString(rnd[:]))
	if err := f.storage.CreateContainer(ctx, c); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.storage.DeleteContainer(context.Background(), c) })
	if f.disk, err = f.storage.CreateDisk(ctx, c, "vm-os.vhd", size, azure.CreateDiskOptions{}); err != nil {
		t.Fatal(err)
	}
	f.want = content(int(size), 3)
	w, err := f.disk.OpenTarget(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteAt(ctx, f.want, 0); err != nil {
		t.Fatal(err)
	}
	sn, err := f.disk.CreateSnapshot(ctx, azure.SnapshotOptions{JobID: "j1", Purpose: "phase1"})
	if err != nil {
		t.Fatal(err)
	}
	f.snap = sn.ID
	f.old = bytes.Clone(f.want)
	for _, b := range changed {
		copy(f.old[b*mib:(b+1)*mib], content(mib, byte(b)+100))
	}
	f.image = filepath.Join(t.TempDir(), "vm-os.vhdx")
	img, err := vdisk.Create(f.image, vdisk.CreateOptions{Format: vdisk.VHDX, Size: size, BlockSize: mib})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := img.WriteAt(f.old, 0); err != nil {
		t.Fatal(err)
	}
	if err := img.Close(); err != nil {
		t.Fatal(err)
	}
	f.http.bytes.Store(0)
	return f
}

// snapshot opens the fixture's snapshot on the driver's side, as the
// mover will read it.
func (f *fixture) snapshot() (Snapshot, func()) {
	f.t.Helper()
	src, err := f.disk.OpenSnapshot(context.Background(), f.snap)
	if err != nil {
		f.t.Fatal(err)
	}
	return Snapshot{Name: "vm-os.vhd@" + f.snap, Size: src.Size(), Access: src.AccessURL,
		Read: ReadOptions{RetryDelay: 10 * time.Millisecond, MaxRetryDelay: 100 * time.Millisecond}}, func() { _ = src.Close(context.Background()) }
}

// imageBytes reads the image whole.
func (f *fixture) imageBytes() []byte {
	f.t.Helper()
	img, err := vdisk.Open(f.image, vdisk.OpenOptions{ReadOnly: true})
	if err != nil {
		f.t.Fatal(err)
	}
	defer img.Close()
	b := make([]byte, img.Size())
	if _, err := img.ReadAt(b, 0); err != nil {
		f.t.Fatal(err)
	}
	return b
}
