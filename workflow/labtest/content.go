package labtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/crypt"
	"github.com/failback/failback/engine"
	"github.com/failback/failback/vdisk"
)

// chunk is the unit of the generated content.
const chunk = 256 << 10

var (
	keysMu sync.Mutex
	keys   = map[string]*crypt.DataKey{} // data keys of encrypted lab blobs, by container/blob
)

// content is a disk's bytes as of the failover: two thirds of the chunks
// hold data, the rest are zero.
func content(size int64, seed uint64) []byte {
	p := make([]byte, size)
	rng := mrand.New(mrand.NewPCG(seed, seed^0xfeed))
	for off := int64(0); off < size; off += chunk {
		if (off/chunk)%3 == 2 {
			continue
		}
		fill(rng, p[off:min(off+chunk, size)])
	}
	return p
}

func fill(rng *mrand.Rand, p []byte) {
	for i := range p {
		p[i] = byte(rng.Uint32()) | 1
	}
}

func writeImage(t testing.TB, path string, size int64, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	img, err := vdisk.Create(path, vdisk.CreateOptions{Format: vdisk.VHDX, Size: size, BlockSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	for off := int64(0); off < size; off += chunk {
		c := data[off:min(off+chunk, size)]
		if isZero(c) {
			continue
		}
		if _, err := img.WriteAt(c, off); err != nil {
			t.Fatal(err)
		}
	}
	if err := img.Close(); err != nil {
		t.Fatal(err)
	}
}

func isZero(p []byte) bool {
	for _, b := range p {
		if b != 0 {
			return false
		}
	}
	return true
}

// target opens a blob for writing (encrypting when it is encrypted).
func (l *Lab) target(name string) engine.Target {
	t := l.T
	ctx := context.Background()
	d, err := l.Storage.OpenDisk(ctx, l.Container, name)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := d.OpenTarget(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keysMu.Lock()
	key := keys[l.Container+"/"+name]
	keysMu.Unlock()
	if key == nil {
		return tg
	}
	et, err := crypt.EncryptingTarget(tg, key)
	if err != nil {
		t.Fatal(err)
	}
	return et
}

// writeBlob writes a disk's content into its blob, made here unless the
// lab ARM endpoint made it (a managed disk's backing blob).
func (l *Lab) writeBlob(name string, size int64, data []byte, encrypted, exists bool) {
	t := l.T
	ctx := context.Background()
	var d *azure.Disk
	var err error
	if exists {
		d, err = l.Storage.OpenDisk(ctx, l.Container, name)
	} else {
		d, err = l.Storage.CreateDisk(ctx, l.Container, name, size, azure.CreateDiskOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
	if encrypted {
		key, meta, err := crypt.NewDiskKey(l.Cert.X509)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.SetMetadata(ctx, meta.Strings()); err != nil {
			t.Fatal(err)
		}
		keysMu.Lock()
		keys[l.Container+"/"+name] = key
		keysMu.Unlock()
	}
	tg := l.target(name)
	for off := int64(0); off < size; off += chunk {
		c := data[off:min(off+chunk, size)]
		if isZero(c) {
			continue
		}
		if err := tg.WriteAt(ctx, c, off); err != nil {
			t.Fatal(err)
		}
	}
}

// driftBlob changes about a fifth of the chunks in Azure only.
func (l *Lab) driftBlob(name string, size int64, seed uint64, _ bool) {
	ctx := context.Background()
	tg := l.target(name)
	rng := mrand.New(mrand.NewPCG(seed^0xd1, seed))
	buf := make([]byte, 64<<10)
	for off := int64(0); off < size; off += chunk {
		if rng.IntN(5) != 0 {
			continue
		}
		fill(rng, buf)
		if err := tg.WriteAt(ctx, buf, off+int64(rng.IntN(3))*(64<<10)); err != nil {
			l.T.Fatal(err)
		}
	}
}

// BlobBytes reads the whole virtual disk of a blob (plaintext) through a
// snapshot taken now, deleted afterwards.
func (l *Lab) BlobBytes(name string) []byte {
	t := l.T
	t.Helper()
	ctx := context.Background()
	d, err := l.Storage.OpenDisk(ctx, l.Container, name)
	if err != nil {
		t.Fatal(err)
	}
	sn, err := d.CreateSnapshot(ctx, azure.SnapshotOptions{Purpose: "labtest"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = d.DeleteSnapshot(ctx, sn.ID) }()
	return l.SnapshotBytes(name, sn.ID)
}

// ImageBytes reads an image's whole virtual disk (a test's differencing
// disk through its parent, with failback's own chain reader).
func ImageBytes(t testing.TB, path string) []byte {
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

// Hash is the SHA-256 of an image's virtual content (hex).
func Hash(t testing.TB, path string) string {
	s := sha256.Sum256(ImageBytes(t, path))
	return hex.EncodeToString(s[:])
}

// WriteImage overwrites bytes of an image (the on-premises VM working).
func WriteImage(t testing.TB, path string, off int64, p []byte) {
	t.Helper()
	img, err := vdisk.Open(path, vdisk.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := img.WriteAt(p, off); err != nil {
		t.Fatal(err)
	}
	if err := img.Close(); err != nil {
		t.Fatal(err)
	}
}

// FirstDiff is the first offset where a and b differ (-1: equal).
func FirstDiff(a, b []byte) int64 {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return int64(i)
		}
	}
	return int64(min(len(a), len(b)))
}

// Cert is the lab's certificate (PEM with its key in the store folder).
type Cert struct {
	X509       *x509.Certificate
	Thumbprint string
}

// NewCert makes a self-signed RSA certificate with its key in dir.
func NewCert(t testing.TB, dir, cn string) *Cert {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	out = append(out, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})...)
	if err := os.WriteFile(filepath.Join(dir, cn+".pem"), out, 0o600); err != nil {
		t.Fatal(err)
	}
	return &Cert{X509: c, Thumbprint: crypt.Thumbprint(c)}
}

// Counter is an HTTP transport that counts blob data read (ranged GETs of
// blob content, apart from the 512-byte reads that validate a VHD footer)
// and written (Put Page update bodies).
type Counter struct {
	c           http.Client
	ReadBytes   atomic.Int64
	Reads       atomic.Int64
	FooterReads atomic.Int64
	WriteBytes  atomic.Int64
}

// Do implements policy.Transporter.
func (c *Counter) Do(req *http.Request) (*http.Response, error) {
	q := req.URL.Query()
	if req.Method == http.MethodPut && q.Get("comp") == "page" && req.ContentLength > 0 {
		c.WriteBytes.Add(req.ContentLength)
	}
	resp, err := c.c.Do(req)
	if err == nil && req.Method == http.MethodGet && q.Get("comp") == "" && q.Get("restype") == "" && resp.ContentLength > 0 {
		if resp.ContentLength == 512 {
			c.FooterReads.Add(1) // OpenDisk validating the VHD footer
		} else {
			c.Reads.Add(1)
			c.ReadBytes.Add(resp.ContentLength)
		}
	}
	return resp, err
}

// Reset zeroes the counts.
func (c *Counter) Reset() {
	c.ReadBytes.Store(0)
	c.Reads.Store(0)
	c.WriteBytes.Store(0)
}
