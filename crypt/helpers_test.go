package crypt

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/failback/failback/engine"
)

// memDisk is an in-memory engine.Source, Target and Zeroer that tracks which
// 512-byte pages are allocated, like a page blob: WriteAt allocates,
// WriteZeroes clears (and zeros).
type memDisk struct {
	mu     sync.Mutex
	data   []byte
	pages  []bool
	writes int // WriteAt calls
	zeroes int // WriteZeroes calls
}

func newMemDisk(size int64) *memDisk {
	return &memDisk{data: make([]byte, size), pages: make([]bool, (size+511)/512)}
}

func (m *memDisk) Size() int64 { return int64(len(m.data)) }

func (m *memDisk) ReadAt(_ context.Context, p []byte, off int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := checkRange(m.Size(), off, int64(len(p))); err != nil {
		return err
	}
	copy(p, m.data[off:])
	return nil
}

func (m *memDisk) WriteAt(_ context.Context, p []byte, off int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := checkRange(m.Size(), off, int64(len(p))); err != nil {
		return err
	}
	m.writes++
	copy(m.data[off:], p)
	for pg := off / 512; pg < (off+int64(len(p))+511)/512; pg++ {
		m.pages[pg] = true
	}
	return nil
}

func (m *memDisk) WriteZeroes(_ context.Context, off, n int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := checkRange(m.Size(), off, n); err != nil {
		return err
	}
	m.zeroes++
	clear(m.data[off : off+n])
	for pg := (off + 511) / 512; pg < (off+n)/512; pg++ {
		m.pages[pg] = false
	}
	return nil
}

func (m *memDisk) Allocated(context.Context) ([]engine.Extent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []engine.Extent
	for i, a := range m.pages {
		if !a {
			continue
		}
		off := int64(i) * 512
		if n := len(out); n > 0 && out[n-1].End() == off {
			out[n-1].Len += 512
		} else {
			out = append(out, engine.Extent{Off: off, Len: 512})
		}
	}
	return out, nil
}

func (m *memDisk) Flush(context.Context) error { return nil }

// allocated reports whether any page of [off, off+n) is allocated.
func (m *memDisk) allocated(off, n int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for pg := off / 512; pg < (off+n+511)/512; pg++ {
		if m.pages[pg] {
			return true
		}
	}
	return false
}

func (m *memDisk) snapshot() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]byte(nil), m.data...)
}

// plainTarget hides memDisk's WriteZeroes.
type plainTarget struct{ *memDisk }

func (plainTarget) WriteZeroes() {} // shadows: not an engine.Zeroer

// hashingSource is a Source that also claims BlockHasher.
type hashingSource struct{ *memDisk }

func (hashingSource) HashBlocks(context.Context, int64, []int64) ([]engine.Sum, error) {
	return nil, nil
}

var (
	rsaKeysOnce sync.Once
	rsaKeys     []*rsa.PrivateKey
)

// testRSAKey returns one of four RSA 2048 keys, generated once per run.
func testRSAKey(t testing.TB, i int) *rsa.PrivateKey {
	t.Helper()
	rsaKeysOnce.Do(func() {
		var wg sync.WaitGroup
		rsaKeys = make([]*rsa.PrivateKey, 4)
		for j := range rsaKeys {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k, err := rsa.GenerateKey(rand.Reader, 2048)
				if err != nil {
					panic(err)
				}
				rsaKeys[j] = k
			}()
		}
		wg.Wait()
	})
	return rsaKeys[i]
}

// selfSigned makes a certificate for key, valid [nb, na).
func selfSigned(t testing.TB, cn string, key any, nb, na time.Time) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"Example Corp"}},
		NotBefore:    nb,
		NotAfter:     na,
		KeyUsage:     x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment,
	}
	var pub any
	switch k := key.(type) {
	case *rsa.PrivateKey:
		pub = &k.PublicKey
	case *ecdsa.PrivateKey:
		pub = &k.PublicKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ecKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// writePEM writes a PEM file holding the certificate and, unless keyType is
// "", the key as keyType: "pkcs1", "pkcs8" or "ec".
func writePEM(t testing.TB, dir, name string, c *x509.Certificate, key any, keyType string) {
	t.Helper()
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	switch keyType {
	case "pkcs1":
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key.(*rsa.PrivateKey))})...)
	case "pkcs8":
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})...)
	case "ec":
		der, err := x509.MarshalECPrivateKey(key.(*ecdsa.PrivateKey))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})...)
	}
	if err := os.WriteFile(filepath.Join(dir, name), out, 0o600); err != nil {
		t.Fatal(err)
	}
}

// copyFixture copies testdata/name into dir as as.
func copyFixture(t testing.TB, dir, name, as string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, as), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// Fixture facts (testdata/README.md).
const (
	fixtureThumbprint = "CE0A31D1E7A1440C431ABABC7D107E7D7B3296D6"
	legacyPassword    = "legacy-pass"
	aesPassword       = "aes-pass"
)

func testKey(t testing.TB, seed byte) *DataKey {
	t.Helper()
	b := make([]byte, KeySize)
	for i := range b {
		b[i] = seed + byte(i)*13
	}
	return newDataKey(b)
}
