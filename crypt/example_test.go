package crypt_test

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/failback/failback/crypt"
	"github.com/failback/failback/engine"
)

// memBlob stands in for a page blob (an engine.Source and engine.Target).
type memBlob struct{ b []byte }

func (m *memBlob) Size() int64 { return int64(len(m.b)) }
func (m *memBlob) ReadAt(_ context.Context, p []byte, off int64) error {
	copy(p, m.b[off:])
	return nil
}
func (m *memBlob) WriteAt(_ context.Context, p []byte, off int64) error {
	copy(m.b[off:], p)
	return nil
}
func (m *memBlob) Allocated(context.Context) ([]engine.Extent, error) {
	return []engine.Extent{{Off: 0, Len: int64(len(m.b))}}, nil
}
func (m *memBlob) Flush(context.Context) error { return nil }

// The two directions: reverse replication creates an encrypted blob for the
// chosen certificate; failback checks the certificate against every disk,
// then reads plaintext.
func Example() {
	ctx := context.Background()
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	store := crypt.NewStore("testdata", crypt.StoreOptions{
		Passwords: map[string]crypt.Secret{"aes256.pfx": crypt.NewSecret("aes-pass"), "legacy-3des.pfx": crypt.NewSecret("legacy-pass")},
	})

	// Reverse replication (or the lab): a new encrypted disk.
	cert, err := store.Select(ctx, "CE0A31D1E7A1440C431ABABC7D107E7D7B3296D6", now, false)
	if err != nil {
		fmt.Println(err)
		return
	}
	key, meta, _ := cert.NewDisk()
	metadata := meta.ToMetadata() // set on the blob with its other metadata
	blob := &memBlob{b: make([]byte, 1<<20)}
	target, _ := crypt.EncryptingTarget(blob, key)
	_ = target.WriteAt(ctx, bytes.Repeat([]byte("data"), 1024), 8192)
	key.Destroy()

	// Failback: parse each disk's metadata, check before writing anything.
	m, err := crypt.ParseMeta(metadata)
	if err != nil {
		fmt.Println(err)
		return
	}
	u, err := crypt.CheckCertificate(ctx, store, crypt.Check{
		Thumbprint: m.Thumbprint,
		Disks:      []crypt.Disk{{Name: "web01 disk0", Meta: m}},
		Now:        now,
	})
	if err != nil {
		fmt.Println(err) // every problem of the job, one per line
		return
	}
	defer u.Destroy()
	src, _ := crypt.DecryptingSource(blob, u.Keys["web01 disk0"])
	p := make([]byte, 8)
	_ = src.ReadAt(ctx, p, 8192)
	fmt.Printf("%s, unlocked by %s\n", p, u.Cert.Info().CommonName)
	// Output: datadata, unlocked by failback fixture
}
