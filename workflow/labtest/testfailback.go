package labtest

import (
	"context"
	"testing"

	"github.com/failback/failback/crypt"
	"github.com/failback/failback/engine"
	"github.com/failback/failback/vdisk"
)

// SnapshotBytes reads the whole virtual disk (plaintext) of one snapshot
// of a blob: what a pass synced from.
func (l *Lab) SnapshotBytes(name, snapshot string) []byte {
	t := l.T
	t.Helper()
	ctx := context.Background()
	d, err := l.Storage.OpenDisk(ctx, l.Container, name)
	if err != nil {
		t.Fatal(err)
	}
	src, err := d.OpenSnapshot(ctx, snapshot)
	if err != nil {
		t.Fatal(err)
	}
	var s engine.Source = src
	keysMu.Lock()
	key := keys[l.Container+"/"+name]
	keysMu.Unlock()
	if key != nil {
		if s, err = crypt.DecryptingSource(src, key); err != nil {
			t.Fatal(err)
		}
	}
	p := make([]byte, s.Size())
	if err := s.ReadAt(ctx, p, 0); err != nil {
		t.Fatal(err)
	}
	return p
}

// ChainBytes reads a test disk's whole virtual disk: a differencing VHDX
// through its parent (failback's own chain reader), any other image as
// it is.
func ChainBytes(t testing.TB, path string) []byte {
	t.Helper()
	img, err := vdisk.OpenChain(path, vdisk.ChainOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	p := make([]byte, img.Size())
	if _, err := img.ReadAt(p, 0); err != nil {
		t.Fatal(err)
	}
	return p
}
