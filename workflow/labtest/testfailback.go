package labtest

import (
	"context"

	"github.com/failback/failback/crypt"
	"github.com/failback/failback/engine"
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
